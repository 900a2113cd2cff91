# TraceDistill build entry points. `make test` and `make demo` install what they need first.
SHELL := /bin/bash
# OpenBLAS 0.3.21 mis-detects this CPU as "Prescott" (~5x slower); it must be set before a process starts.
export OPENBLAS_CORETYPE ?= SkylakeX
DEB_PACKAGES := libopenblas-dev libhdf5-dev hdf5-tools pkg-config
SWIFT_RELEASE := swift build -c release
DISTILL := .build/release/distill

.PHONY: setup build test demo bench clean

## setup: install the Debian packages the build links against (only those missing; idempotent)
setup:
	@missing=""; for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=""; [ "$$(id -u)" -ne 0 ] && SUDO="sudo"; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	else echo "setup: all Debian packages present ($(DEB_PACKAGES))"; fi

## build: release build of the library and the distill command
build: setup
	$(SWIFT_RELEASE)

## test: the whole test suite, optimised (finite-difference and model tests need release speed)
test: setup
	swift test -c release

DEMO_RUN := checkpoints/default

## demo: the main job for a new user: the default curriculum into checkpoints/default (resumed when it exists),
## then the teacher-versus-student report over every stage
demo: build
	@if ls $(DEMO_RUN)/step-*.h5 >/dev/null 2>&1; then \
	  $(DISTILL) resume $(DEMO_RUN); \
	else \
	  $(DISTILL) run curricula/default.yaml --run-dir $(DEMO_RUN); \
	fi
	$(DISTILL) report $(DEMO_RUN) --suite run --samples 4

## bench: the benchmark as one JSON object on the last line
bench: build
	$(DISTILL) bench --json

clean:
	rm -rf .build
