#!/usr/bin/env bash
# Resume soak (issue 27): run a curriculum once without interruption, then again killed with SIGKILL at KILLS
# random moments and resumed after each, and check that the end is the same: every kept stage-end checkpoint
# bit-identical (`distill inspect --hash`: SHA-256 over each role's parameters) and metrics.jsonl holding the same
# rows (step, stage, stage step, metric names) as the uninterrupted run.
#
# A moment is a global step G drawn from the seed and one of three places, through the runner's fault hooks
# (TRACEDISTILL_FAULT, see FaultInjection in Sources/Stages/CurriculumRunner.swift):
#   kill-after-step:G          right after step G, before any checkpoint of it
#   kill-in-save-at-step:G     inside the first checkpoint write at step G or later, the temporary file complete
#   kill-after-save-at-step:G  right after that checkpoint is renamed into place, before old files are pruned
# (a resumed process that starts past G meets the moment at its first step or save).
#
# usage: scripts/soak.sh [--seed N] [--kills N] [--curriculum FILE] [--distill PATH] [--work DIR] [--keep]
#   --seed        seed of the moments (default: random, printed so a failure can be replayed)
#   --kills       number of kills (default 20)
#   --curriculum  default curricula/smoke.yaml
#   --distill     default .build/release/distill
#   --work        folder for the two runs (default: a new folder under /tmp, removed on success unless --keep)
set -euo pipefail
cd "$(dirname "$0")/.."

seed="" kills=20 curriculum=curricula/smoke.yaml distill=.build/release/distill work="" keep=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --seed) seed="$2"; shift 2 ;;
    --kills) kills="$2"; shift 2 ;;
    --curriculum) curriculum="$2"; shift 2 ;;
    --distill) distill="$2"; shift 2 ;;
    --work) work="$2"; shift 2 ;;
    --keep) keep=1; shift ;;
    *) echo "soak: unknown argument '$1' (see the header of $0)" >&2; exit 2 ;;
  esac
done
[[ -x "$distill" ]] || { echo "soak: no distill executable at $distill; build it with \`swift build -c release\`" >&2; exit 2; }
[[ -f "$curriculum" ]] || { echo "soak: no curriculum at $curriculum" >&2; exit 2; }
[[ "$kills" =~ ^[0-9]+$ && "$kills" -ge 1 ]] || { echo "soak: --kills must be a positive integer" >&2; exit 2; }
if [[ -z "$seed" ]]; then seed=$(( $(od -An -N4 -tu4 /dev/urandom) )); fi
[[ "$seed" =~ ^[0-9]+$ ]] || { echo "soak: --seed must be a non-negative integer" >&2; exit 2; }
if [[ -z "${OPENBLAS_CORETYPE:-}" ]]; then export OPENBLAS_CORETYPE="$(make -s print-coretype)"; fi
export OPENBLAS_NUM_THREADS=1
if [[ -z "$work" ]]; then work=$(mktemp -d /tmp/tracedistill-soak.XXXXXX); fi
mkdir -p "$work"
clean="$work/clean" soaked="$work/soaked"
rm -rf "$clean" "$soaked"
started=$SECONDS
echo "soak: seed $seed, $kills kills, $curriculum, work folder $work"

# A linear congruential generator (glibc's constants): the same seed gives the same moments on any machine.
state=$(( seed % 2147483648 ))
# `next` sets r (not through $(...), whose subshell would not advance the state).
next() { state=$(( (state * 1103515245 + 12345) % 2147483648 )); r=$(( state / 65536 )); }

"$distill" run "$curriculum" --run-dir "$clean" > "$work/clean.out" 2> "$work/clean.err" \
  || { echo "soak: the uninterrupted run failed (see $work/clean.err)" >&2; exit 1; }
total=$("$distill" status "$clean" --json | python3 -c 'import json, sys; print(json.load(sys.stdin)["global_step"])')
(( kills < total )) || { echo "soak: $kills kills need a run of more than $kills steps; it has $total" >&2; exit 2; }

# distinct global steps in 1 ... total-1, in order
declare -A picked=()
while (( ${#picked[@]} < kills )); do
  next; picked[$(( r % (total - 1) + 1 ))]=1
done
steps=$(printf '%s\n' "${!picked[@]}" | sort -n)
places=(kill-after-step kill-in-save-at-step kill-after-save-at-step)

n=0
for g in $steps; do
  next; fault="${places[$(( r % 3 ))]}:$g"
  n=$(( n + 1 ))
  if [[ -d "$soaked" ]]; then cmd=(resume "$soaked"); else cmd=(run "$curriculum" --run-dir "$soaked"); fi
  set +e
  # (the outer 2>/dev/null only silences bash's own "Killed" notice; distill's output goes to the files)
  { TRACEDISTILL_FAULT="$fault" "$distill" "${cmd[@]}" > "$work/kill-$n.out" 2> "$work/kill-$n.err"; } 2>/dev/null
  status=$?
  set -e
  if (( status != 137 )); then
    echo "soak: kill $n ($fault, distill ${cmd[0]}) ended with status $status instead of SIGKILL (137); see $work/kill-$n.err" >&2
    exit 1
  fi
  echo "soak: kill $n/$kills at $fault"
done
"$distill" resume "$soaked" > "$work/final.out" 2> "$work/final.err" \
  || { echo "soak: the last resume failed (see $work/final.err)" >&2; exit 1; }

# every stage-end checkpoint of the uninterrupted run, bit-identical
failed=0
for f in "$clean"/stage-*.h5; do
  name=$(basename "$f")
  if [[ ! -f "$soaked/$name" ]]; then echo "soak: $soaked/$name is missing" >&2; failed=1; continue; fi
  a=$("$distill" inspect "$f" --json --hash | python3 -c 'import json, sys; print(sorted((r["role"], r["sha256"]) for r in json.load(sys.stdin)["roles"]))')
  b=$("$distill" inspect "$soaked/$name" --json --hash | python3 -c 'import json, sys; print(sorted((r["role"], r["sha256"]) for r in json.load(sys.stdin)["roles"]))')
  if [[ "$a" != "$b" ]]; then echo "soak: $name differs from the uninterrupted run's" >&2; failed=1; fi
done
python3 - "$clean/metrics.jsonl" "$soaked/metrics.jsonl" <<'EOF' || failed=1
import json, sys
def rows(path):
    with open(path) as f:
        return [(r["step"], r["stage_index"], r["stage_step"], sorted(r)) for r in map(json.loads, f)]
a, b = rows(sys.argv[1]), rows(sys.argv[2])
if a != b:
    first = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
    sys.exit(f"soak: metrics.jsonl differs from the uninterrupted run's at row {first + 1} ({len(b)} rows, uninterrupted {len(a)})")
EOF
if (( failed )); then echo "soak: FAILED (seed $seed; files kept in $work)" >&2; exit 1; fi
echo "soak: passed: $kills kills (seed $seed) over $total steps, every stage-end checkpoint bit-identical, metrics rows identical, $(( SECONDS - started )) s"
if (( ! keep )); then rm -rf "$work"; fi
