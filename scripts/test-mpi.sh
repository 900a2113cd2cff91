#!/usr/bin/env bash
# The multi-process checks of `make test-mpi` (run from the repository root after a release build of MPICheck and
# distill). Each check prints PASS or FAIL with the reason; the script exits 1 if any failed.
set -u
MPIRUN=(mpirun --oversubscribe --allow-run-as-root)
CHECK=.build/release/MPICheck
DISTILL=.build/release/distill
failed=0
pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; failed=1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# exact sums: bit-identical to one process's tree over every shard, for 1 to 4 ranks (3 exercises blocks that are
# not one subtree each)
for n in 1 2 3 4; do
  if out=$(timeout 120 "${MPIRUN[@]}" -np $n $CHECK sum 2>&1); then pass "$(echo "$out" | grep 'mpi-check')"; else fail "sum at $n ranks: $out"; fi
done
# the same check with TRACEDISTILL_MPI_SUM=allreduce must fail at 3 ranks: MPI_Allreduce adds in another order
if out=$(timeout 120 "${MPIRUN[@]}" -np 3 -x TRACEDISTILL_MPI_SUM=allreduce $CHECK sum 2>&1); then fail "sum with allreduce at 3 ranks passed: the check cannot tell the orders apart"
elif ! grep -q "one process gives" <<<"$out"; then fail "sum with allreduce at 3 ranks: $out"
else pass "sum with TRACEDISTILL_MPI_SUM=allreduce at 3 ranks differs from one process, as it must"; fi
if out=$(timeout 60 "${MPIRUN[@]}" -np 2 -x TRACEDISTILL_MPI_SUM=fast $CHECK sum 2>&1) || ! grep -q "TRACEDISTILL_MPI_SUM=fast: expected exact (the default) or allreduce" <<<"$out"; then
  fail "TRACEDISTILL_MPI_SUM=fast was not refused by name: $out"
else pass "TRACEDISTILL_MPI_SUM=fast refused, naming the variable and its values"; fi
for n in 1 2 4; do
  if out=$(timeout 60 "${MPIRUN[@]}" -np $n $CHECK gather 2>&1); then pass "$(echo "$out" | grep 'mpi-check')"; else fail "gather at $n ranks: $out"; fi
done

# a rank killed with SIGKILL while the other waits in a collective: mpirun must end the job, name the rank, and not
# hang (timeout 60 would return 124)
start=$(date +%s%N)
out=$(timeout 60 "${MPIRUN[@]}" -np 2 $CHECK kill 2>&1); rc=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
if [ $rc -eq 124 ]; then fail "killed rank: the job still ran after 60 s"
elif [ $rc -eq 0 ]; then fail "killed rank: mpirun exited 0"
elif ! grep -q "process rank 1 .*exited on signal 9" <<<"$out"; then fail "killed rank: mpirun's message does not name rank 1 and signal 9: $out"
elif [ $ms -gt 20000 ]; then fail "killed rank: the job took $ms ms to end"
else pass "killed rank: the job ended in $ms ms (exit $rc), mpirun named rank 1"; fi

# distill under mpirun: --threads 1 per rank, the ranks share two cores (the one-process runs keep the default 2;
# the thread count does not change the bits).
export OPENBLAS_CORETYPE="${OPENBLAS_CORETYPE:-$(make -s print-coretype)}" OPENBLAS_NUM_THREADS=1
RUN=("${MPIRUN[@]}" -x OPENBLAS_CORETYPE -x OPENBLAS_NUM_THREADS)
# SHA-256 of every role's parameters in every kept stage-end checkpoint of a run folder
hashes() { for f in "$1"/stage-*.h5; do echo "$(basename "$f") $("$DISTILL" inspect "$f" --json --hash | python3 -c 'import json, sys; print(sorted((r["role"], r["sha256"]) for r in json.load(sys.stdin)["roles"]))')"; done; }

# ranks that read different curricula (two files, one seed changed) stop before the first step, naming rank 1
mkdir -p "$work/a" "$work/b"
cp curricula/smoke.yaml "$work/a/c.yaml"
sed 's/^seed: 12$/seed: 13/' curricula/smoke.yaml > "$work/b/c.yaml"
# standard error only: rank 0's resolved curriculum on standard output once landed inside rank 1's error line
out=$(timeout 120 "${RUN[@]}" -np 1 $DISTILL run "$work/a/c.yaml" --run-dir "$work/mismatch" --threads 1 : -np 1 $DISTILL run "$work/b/c.yaml" --run-dir "$work/mismatch" 2>&1 >/dev/null); rc=$?
if [ $rc -eq 0 ] || [ $rc -eq 124 ]; then fail "curriculum mismatch: exit $rc"
elif ! grep -q "rank 1 of 2 read a different curriculum than rank 0 from $work/b/c.yaml" <<<"$out"; then fail "curriculum mismatch: no error naming rank 1 and its file: $out"
elif ls "$work/mismatch"/step-*.h5 >/dev/null 2>&1; then fail "curriculum mismatch: a checkpoint was written"
else pass "curriculum mismatch: rank 1 named with its file, no step taken"; fi

# a rank whose data file is missing (same curriculum text, a folder without data.jsonl) stops every rank first
mkdir -p "$work/c" "$work/d"
python3 - "$work" <<'PY'
import sys, re
work = sys.argv[1]
text = open("curricula/smoke.yaml").read().replace("data:\n", "data:\n  train_file: data.jsonl\n", 1)
for d in ("c", "d"):
    open(f"{work}/{d}/c.yaml", "w").write(text)
PY
"$DISTILL" generate-data --domain addition --count 40 --seed 3 --out "$work/c/data.jsonl" >/dev/null 2>&1 \
  || fail "data: distill generate-data failed"
out=$(timeout 120 "${RUN[@]}" -np 1 $DISTILL run "$work/c/c.yaml" --run-dir "$work/nodata" --threads 1 : -np 1 $DISTILL run "$work/d/c.yaml" --run-dir "$work/nodata" 2>&1); rc=$?
if [ $rc -eq 0 ] || [ $rc -eq 124 ]; then fail "missing data: exit $rc"
elif ! grep -q "rank 1 of 2 cannot start: .*no file at $work/d/data.jsonl" <<<"$out"; then fail "missing data: no error naming rank 1 and the file: $out"
elif ls "$work/nodata"/step-*.h5 >/dev/null 2>&1; then fail "missing data: a checkpoint was written"
else pass "missing data: rank 1 named with the missing file, no step taken"; fi

# the smoke curriculum: one process, and 2 ranks with rank 1 killed by SIGKILL after global step 150 then resumed
# with 2 ranks, end with the same weights in every stage-end checkpoint (every rank computes every step; rank 0
# writes)
if ! "$DISTILL" run curricula/smoke.yaml --run-dir "$work/one" >"$work/one.out" 2>&1; then fail "smoke: the one-process run failed: $(tail -5 "$work/one.out")"; fi
start=$(date +%s%N)
out=$(timeout 300 "${RUN[@]}" -np 1 $DISTILL run curricula/smoke.yaml --run-dir "$work/two" --threads 1 \
      : -np 1 -x TRACEDISTILL_FAULT=kill-after-step:150 $DISTILL run curricula/smoke.yaml --run-dir "$work/two" --threads 1 2>&1); rc=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
if [ $rc -eq 0 ] || [ $rc -eq 124 ]; then fail "smoke with a killed rank: exit $rc"
elif ! grep -q "process rank 1 .*exited on signal 9" <<<"$out"; then fail "smoke with a killed rank: mpirun did not name rank 1: $out"
elif ! grep -q "rank 0 of 2: stopped by mpirun.*mpirun -np N distill resume $work/two" <<<"$out"; then fail "smoke with a killed rank: no resume advice: $out"
else pass "smoke with a killed rank: the job ended (exit $rc, $ms ms in all), rank 1 named, resume advised"; fi
if ! out=$(timeout 300 "${RUN[@]}" -np 2 $DISTILL resume "$work/two" --threads 1 2>&1); then fail "smoke resume at 2 ranks: $(tail -5 <<<"$out")"
elif [ "$(hashes "$work/one")" != "$(hashes "$work/two")" ]; then fail "smoke: the 2-rank run, killed and resumed, ends with other weights than one process"
else pass "smoke: 2 ranks, rank 1 killed and resumed, bit-identical to one process in all $(ls "$work/one"/stage-*.h5 | wc -l) stage-end checkpoints"; fi

# the graceful stop under mpirun (SIGUSR1 to mpirun, forwarded to every rank) after a few seconds, then the run
# resumed by one process without mpirun: another N continues bit-identically
"${RUN[@]}" -np 2 $DISTILL run curricula/smoke.yaml --run-dir "$work/usr1" --threads 1 >"$work/usr1.out" 2>&1 &
launcher=$!
# signal at the first checkpoint on disk, not after a fixed time: an idle machine finishes smoke in under 8 s
for _ in $(seq 1200); do compgen -G "$work/usr1/*.h5" >/dev/null && break; sleep 0.1; done
kill -USR1 $launcher
wait $launcher; rc=$?
if [ $rc -eq 0 ] || ! grep -q "stopped by signal 10 after a checkpoint" "$work/usr1.out"; then fail "SIGUSR1: exit $rc, $(tail -5 "$work/usr1.out")"
elif ! out=$(timeout 300 $DISTILL resume "$work/usr1" 2>&1); then fail "SIGUSR1: resume by one process: $(tail -5 <<<"$out")"
elif [ "$(hashes "$work/one")" != "$(hashes "$work/usr1")" ]; then fail "SIGUSR1: stopped at 2 ranks, resumed by 1: other weights than one process"
else pass "SIGUSR1: 2 ranks stopped together after rank 0's checkpoint; resumed by one process, bit-identical to one process"; fi

# a rank that drifts (the fault hook nudges rank 1's student after global step 5) is caught at the next checkpoint
# (step 10), named with the role that differs, and that checkpoint is not written
out=$(timeout 120 "${RUN[@]}" -np 1 $DISTILL run curricula/smoke.yaml --run-dir "$work/drift" --threads 1 \
      : -np 1 -x TRACEDISTILL_FAULT=perturb-after-step:5 $DISTILL run curricula/smoke.yaml --run-dir "$work/drift" --threads 1 2>&1); rc=$?
if [ $rc -eq 0 ] || [ $rc -eq 124 ]; then fail "drifting rank: exit $rc"
elif ! grep -q "rank 1 of 2 holds other weights than rank 0 at global step 10 (student: rank 0 " <<<"$out"; then fail "drifting rank: not named at step 10: $out"
elif [ -e "$work/drift/step-10.h5" ]; then fail "drifting rank: step-10.h5 was written"
else pass "drifting rank: rank 1 named at global step 10 with the role whose weights differ; step-10.h5 not written"; fi

# teacher-logits at 2 ranks: each rank runs its block of every step's teacher passes, rank 0 alone writes the top-k
# cache, both ranks distill from it; the cache and the stage ends match one process's (the curriculum of
# Tests/StagesTests/TopKTargetsTests.swift)
cat > "$work/topk.yaml" <<'YAML'
name: t
seed: 1
data: {domains: [addition], train_size: 12, validation_size: 4, max_length: 128}
teacher: {hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 64, max_position_embeddings: 128}
student: {layers: 1, hidden_size: 16, heads: 2, intermediate_size: 32}
run: {checkpoint_every: 1, keep_checkpoints: 2}
stages:
  - {kind: teacher-logits, k: 8, temperature: 2.0, batch_size: 2, chunk_targets: 32, data: reference}
  - {kind: output-distill, steps: 3, batch_size: 4, data: reference, targets: topk, temperature: 2.0}
  - {kind: feature-align, steps: 2, batch_size: 4, data: reference, targets: topk, temperature: 2.0}
YAML
# The cache's contents: SHA-256 of each dataset's bytes (h5dump -b: the values as stored, not printed) and every
# attribute (HDF5 keeps a creation time in each dataset's object header, so two equal caches are not equal files).
cache_contents() { for d in row_offsets log_probs ids leftover; do
    h5dump -d "/$d" -b LE -o "$1.$d.bin" "$1" >/dev/null 2>&1 || echo "h5dump cannot read /$d"
    echo "$d $(sha256sum < "$1.$d.bin" | cut -c1-16) $(stat -c %s "$1.$d.bin") bytes"; done
  h5dump -A "$1" 2>&1 | grep -v '^HDF5 "'; }
# each teacher-logits step's 2 rows run as run.gradient_shards (2) fixed passes of one row, one per rank, gathered in
# row order; rank 0 writes the cache, which must hold one process's values, bit for bit
if ! "$DISTILL" run "$work/topk.yaml" --run-dir "$work/topk1" >"$work/topk1.out" 2>&1; then fail "top-k, one process: $(tail -5 "$work/topk1.out")"
elif ! out=$(timeout 120 "${RUN[@]}" -np 2 $DISTILL run "$work/topk.yaml" --run-dir "$work/topk2" --threads 1 2>&1); then fail "top-k at 2 ranks: $(tail -5 <<<"$out")"
elif [ "$(hashes "$work/topk1")" != "$(hashes "$work/topk2")" ]; then fail "top-k: 2 ranks end with other weights than one process"
elif cache_contents "$work/topk1/teacher-logits-0.h5" | grep -q "cannot read\| 0 bytes"; then fail "top-k: cannot read the one-process cache: $(cache_contents "$work/topk1/teacher-logits-0.h5" | head -8)"
elif [ "$(cache_contents "$work/topk1/teacher-logits-0.h5")" != "$(cache_contents "$work/topk2/teacher-logits-0.h5")" ]; then
  fail "top-k: the cache at 2 ranks differs from one process's: $(diff <(cache_contents "$work/topk1/teacher-logits-0.h5") <(cache_contents "$work/topk2/teacher-logits-0.h5") | head -6)"
else pass "top-k: teacher-logits' passes split over 2 ranks, the cache written by rank 0 ($(cache_contents "$work/topk1/teacher-logits-0.h5" | grep '^log_probs' | cut -d' ' -f3) bytes of log-probs) and all 3 stage ends bit-identical to one process"; fi
# rank 1 SIGKILLed right after teacher-logits' third step (rows 0-5 computed, the checkpoint of step 2 the newest, the
# cache's tail since its last whole chunk in rank 0's memory), resumed with 2 ranks: rank 0 reopens the file at the
# checkpoint's chunk, both ranks compute the rows since then again, and the cache and weights end as one process's
out=$(timeout 120 "${RUN[@]}" -np 1 $DISTILL run "$work/topk.yaml" --run-dir "$work/topkk" --threads 1 \
      : -np 1 -x TRACEDISTILL_FAULT=kill-after-step:3 $DISTILL run "$work/topk.yaml" --run-dir "$work/topkk" --threads 1 2>&1); rc=$?
if [ $rc -eq 0 ] || [ $rc -eq 124 ]; then fail "top-k, rank 1 killed mid teacher-logits: exit $rc"
elif ! grep -q "process rank 1 .*exited on signal 9" <<<"$out"; then fail "top-k, rank 1 killed mid teacher-logits: mpirun did not name rank 1: $out"
elif [ -e "$work/topkk/stage-0-teacher-logits.h5" ]; then fail "top-k, rank 1 killed mid teacher-logits: the stage had already ended"
elif ! out=$(timeout 120 "${RUN[@]}" -np 2 $DISTILL resume "$work/topkk" --threads 1 2>&1); then fail "top-k, resumed at 2 ranks: $(tail -5 <<<"$out")"
elif [ "$(cache_contents "$work/topk1/teacher-logits-0.h5")" != "$(cache_contents "$work/topkk/teacher-logits-0.h5")" ]; then
  fail "top-k, killed and resumed at 2 ranks: the cache differs from one process's: $(diff <(cache_contents "$work/topk1/teacher-logits-0.h5") <(cache_contents "$work/topkk/teacher-logits-0.h5") | head -6)"
elif [ "$(hashes "$work/topk1")" != "$(hashes "$work/topkk")" ]; then fail "top-k, killed and resumed at 2 ranks: other weights than one process"
else pass "top-k: rank 1 killed mid teacher-logits, resumed at 2 ranks: the cache and all 3 stage ends bit-identical to one process"; fi

# 4 ranks (two per core here): smoke cuts every training step into run.gradient_shards: 4, one shard per rank, and
# ends with the same weights as one process; its validation metrics (each rank computes a block of the validation
# batches) are the same numbers in metrics.jsonl
out=$(timeout 300 "${RUN[@]}" -np 4 $DISTILL run curricula/smoke.yaml --run-dir "$work/four" --threads 1 2>&1); rc=$?
if [ $rc -ne 0 ]; then fail "smoke at 4 ranks: exit $rc: $(tail -5 <<<"$out")"
elif [ "$(hashes "$work/one")" != "$(hashes "$work/four")" ]; then fail "smoke: 4 ranks end with other weights than one process"
else pass "smoke: 4 ranks bit-identical to one process in all $(ls "$work/one"/stage-*.h5 | wc -l) stage-end checkpoints"; fi
# every validation metric of every row (global step, stage) as written, for runs that were never interrupted
validation() { python3 -c '
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    v = {k: r[k] for k in sorted(r) if k.startswith("validation/")}
    if v: print(r["step"], r["stage_index"], json.dumps(v))' "$1/metrics.jsonl"; }
if [ -z "$(validation "$work/one")" ]; then fail "validation metrics: the one-process smoke run logged none"
elif [ "$(validation "$work/one")" != "$(validation "$work/four")" ]; then fail "validation metrics at 4 ranks differ from one process's: $(diff <(validation "$work/one") <(validation "$work/four") | head -4)"
else pass "validation metrics: $(validation "$work/one" | wc -l) validation rows in metrics.jsonl the same at 4 ranks as in one process"; fi

# smoke's teacher-traces at 4 ranks: each rank decodes one of the 4 fixed batches of every sampling call; the kept
# traces are one process's, byte for byte
if ! cmp -s "$work/one/teacher-traces.jsonl" "$work/four/teacher-traces.jsonl"; then fail "smoke: teacher-traces.jsonl at 4 ranks differs from one process's"
else pass "smoke: teacher-traces.jsonl ($(wc -l <"$work/one/teacher-traces.jsonl") traces) the same at 4 ranks as in one process"; fi

# ppo-trace and on-policy-distill validate greedily on 80 questions, in two batches (64 + 16): at 2 ranks each rank
# decodes one batch and the rows are gathered in batch order. Every validation row in metrics.jsonl (the start's,
# each eval_every, the end's) and every stage end's weights must be one process's.
cat > "$work/val.yaml" <<'YAML'
name: v
seed: 5
data: {domains: [addition], train_size: 16, validation_size: 80, max_length: 128}
teacher: {hidden_size: 32, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 64, max_position_embeddings: 160}
student: {layers: 1, hidden_size: 16, heads: 2, intermediate_size: 32}
run: {checkpoint_every: 10}
stages:
  - {kind: ppo-trace, iterations: 2, eval_every: 1, validation_problems: 80, ppo: {prompts_per_iteration: 4, max_new_tokens: 16, minibatches: 2}}
  - {kind: on-policy-distill, objective: reverse_kl_pg, iterations: 2, eval_every: 1, validation_problems: 80, prompts_per_iteration: 4, max_new_tokens: 16}
YAML
if ! "$DISTILL" run "$work/val.yaml" --run-dir "$work/val1" >"$work/val1.out" 2>&1; then fail "split validation, one process: $(tail -5 "$work/val1.out")"
elif ! out=$(timeout 120 "${RUN[@]}" -np 2 $DISTILL run "$work/val.yaml" --run-dir "$work/val2" --threads 1 2>&1); then fail "split validation at 2 ranks: $(tail -5 <<<"$out")"
elif [ "$(validation "$work/val1" | cut -d' ' -f2 | sort -u | tr '\n' ' ')" != "0 1 " ]; then fail "split validation: the one-process run logged no validation rows for both stages: $(validation "$work/val1" | head -4)"
elif [ "$(validation "$work/val1")" != "$(validation "$work/val2")" ]; then fail "split validation: 2 ranks' validation rows differ from one process's: $(diff <(validation "$work/val1") <(validation "$work/val2") | head -4)"
elif [ "$(hashes "$work/val1")" != "$(hashes "$work/val2")" ]; then fail "split validation: 2 ranks end with other weights than one process"
else pass "split validation: ppo-trace and on-policy-distill, 80 validation questions in 2 batches, one per rank: all $(validation "$work/val1" | wc -l) validation rows and both stage ends the same at 2 ranks as in one process"; fi

# Sampling split across ranks: every sampled row draws from its own stream and a call's rows decode in
# run.gradient_shards fixed batches, a block per rank. teacher-traces, ppo-trace (GRPO groups) and on-policy-distill all
# sample here (temperature > 0); at 2 ranks the stage ends' weights, teacher-traces.jsonl and every metrics.jsonl
# value but wall-clock time and speed must be one process's.
# metrics.jsonl without what measures time: the `time` field and every key naming seconds
metrics_sans_time() { python3 -c '
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    print(json.dumps({k: v for k, v in sorted(r.items()) if k != "time" and "second" not in k}))' "$1/metrics.jsonl"; }
cat > "$work/samp.yaml" <<'YAML'
name: s
seed: 9
data: {domains: [addition], train_size: 16, validation_size: 8, max_length: 128}
teacher: {hidden_size: 32, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 64, max_position_embeddings: 160}
student: {layers: 1, hidden_size: 16, heads: 2, intermediate_size: 32}
run: {checkpoint_every: 10, gradient_shards: 4}
stages:
  - {kind: teacher-traces, samples: 4, questions_per_step: 4, limit: 8, max_new_tokens: 24, temperature: 1.0}
  - {kind: ppo-trace, iterations: 2, eval_every: 2, validation_problems: 8, ppo: {prompts_per_iteration: 4, max_new_tokens: 16, minibatches: 2, advantage: grpo, group_size: 4}}
  - {kind: on-policy-distill, objective: reverse_kl_pg, iterations: 2, eval_every: 2, validation_problems: 8, prompts_per_iteration: 4, samples_per_prompt: 2, max_new_tokens: 16}
YAML
start=$(date +%s)
if ! "$DISTILL" run "$work/samp.yaml" --run-dir "$work/samp1" >"$work/samp1.out" 2>&1; then fail "split sampling, one process: $(tail -5 "$work/samp1.out")"
elif ! out=$(timeout 120 "${RUN[@]}" -np 2 $DISTILL run "$work/samp.yaml" --run-dir "$work/samp2" --threads 1 2>&1); then fail "split sampling at 2 ranks: $(tail -5 <<<"$out")"
elif [ "$(hashes "$work/samp1")" != "$(hashes "$work/samp2")" ]; then fail "split sampling: 2 ranks end with other weights than one process"
elif ! cmp -s "$work/samp1/teacher-traces.jsonl" "$work/samp2/teacher-traces.jsonl"; then fail "split sampling: teacher-traces.jsonl differs at 2 ranks"
elif [ "$(metrics_sans_time "$work/samp1" | grep -c '"kept_total"')" = 0 ] || [ "$(metrics_sans_time "$work/samp1" | grep -c '"stage_index": 2')" = 0 ]; then fail "split sampling: the one-process run logged no teacher-traces or on-policy rows"
elif [ "$(metrics_sans_time "$work/samp1")" != "$(metrics_sans_time "$work/samp2")" ]; then fail "split sampling: 2 ranks' metrics.jsonl differs from one process's: $(diff <(metrics_sans_time "$work/samp1") <(metrics_sans_time "$work/samp2") | head -4)"
else pass "split sampling: teacher-traces, ppo-trace and on-policy-distill sampled by 2 ranks: all 3 stage ends, teacher-traces.jsonl ($(wc -l <"$work/samp1/teacher-traces.jsonl") traces) and $(wc -l <"$work/samp1/metrics.jsonl") metrics rows (but for time) the same as one process's ($(( $(date +%s) - start )) s)"; fi

# distill eval at 2 ranks (each decodes a block of the greedy and of the sampled batches) writes what one process
# writes, but for timing: completions.jsonl byte for byte, report.json without its time and speed figures
report_sans_time() { python3 -c '
import json, sys
def strip(v):
    if isinstance(v, dict): return {k: strip(x) for k, x in sorted(v.items()) if not any(w in k.lower() for w in ("second", "latency", "created", "utc"))}
    if isinstance(v, list): return [strip(x) for x in v]
    return v
print(json.dumps(strip(json.load(open(sys.argv[1])))))' "$1/report.json"; }
start=$(date +%s)
ckpt="$work/samp1/stage-2-on-policy-distill.h5"
eval_args=(eval --checkpoint "$ckpt" --samples 4 --k 1 4 --limit 24 --max-new-tokens 24 --batch-size 8 --quiet)
if ! out=$("$DISTILL" "${eval_args[@]}" --out "$work/eval1" 2>&1); then fail "split eval, one process: $(tail -5 <<<"$out")"
elif ! out=$(timeout 120 "${RUN[@]}" -np 2 $DISTILL "${eval_args[@]}" --out "$work/eval2" 2>&1); then fail "split eval at 2 ranks: $(tail -5 <<<"$out")"
elif ! cmp -s "$work/eval1/completions.jsonl" "$work/eval2/completions.jsonl"; then fail "split eval: completions.jsonl differs at 2 ranks"
elif [ "$(report_sans_time "$work/eval1")" != "$(report_sans_time "$work/eval2")" ]; then fail "split eval: report.json differs at 2 ranks (beyond timing)"
elif ! grep -q '"pass@4"\|pass_at_k\|passAtK' "$work/eval1/report.json"; then fail "split eval: report.json has no pass@k"
else pass "split eval: distill eval --samples 4 at 2 ranks: completions.jsonl and report.json (but timing) the same as one process's ($(( $(date +%s) - start )) s)"; fi

# distill report at 2 ranks over the sampled run's stage ends (ppo-trace's and on-policy-distill's students), greedy and
# pass@2: the same files as one process's but for timing. Its KL to the teacher runs in fixed batches of 8 problems,
# 16 problems here: each rank computes one batch, and every student row's value must be one process's to the last digit.
# every row's kl_to_teacher as written (the teacher row's is null)
kl_column() { python3 -c '
import json, sys
print(" ".join(repr(r["kl_to_teacher"]) for r in json.load(open(sys.argv[1]))["rows"]))' "$1/report.json"; }
start=$(date +%s)
report_args=(report "$work/samp1" --samples 2 --limit 16 --max-new-tokens 24 --batch-size 8 --quiet)
if ! out=$("$DISTILL" "${report_args[@]}" --out "$work/rep1" 2>&1); then fail "split report, one process: $(tail -5 <<<"$out")"
elif ! out=$(timeout 120 "${RUN[@]}" -np 2 $DISTILL "${report_args[@]}" --out "$work/rep2" 2>&1); then fail "split report at 2 ranks: $(tail -5 <<<"$out")"
elif ! cmp -s "$work/rep1/completions.jsonl" "$work/rep2/completions.jsonl"; then fail "split report: completions.jsonl differs at 2 ranks"
elif [ "$(report_sans_time "$work/rep1")" != "$(report_sans_time "$work/rep2")" ]; then fail "split report: report.json differs at 2 ranks (beyond timing)"
elif [ "$(kl_column "$work/rep1" | grep -o '[0-9]\.[0-9]*' | wc -l)" -lt 2 ]; then fail "split report: report.json has fewer than 2 KL-to-teacher values to compare: $(kl_column "$work/rep1")"
elif [ "$(kl_column "$work/rep1")" != "$(kl_column "$work/rep2")" ]; then fail "split report: KL to teacher at 2 ranks $(kl_column "$work/rep2"), one process $(kl_column "$work/rep1")"
else pass "split report: distill report --samples 2 at 2 ranks: completions.jsonl and report.json (but timing; KL to teacher $(kl_column "$work/rep1")) the same as one process's ($(( $(date +%s) - start )) s)"; fi

# a shard count that 4 ranks cannot split evenly is refused before the first step, with the curriculum's line and
# the values that work
sed 's/^  gradient_shards: 4$/  gradient_shards: 6/' curricula/smoke.yaml > "$work/six.yaml"
line=$(grep -n '^  gradient_shards: 6$' "$work/six.yaml" | cut -d: -f1)
out=$(timeout 120 "${RUN[@]}" -np 4 $DISTILL run "$work/six.yaml" --run-dir "$work/six" --threads 1 2>&1); rc=$?
if [ -z "$line" ]; then fail "gradient_shards refusal: curricula/smoke.yaml has no '  gradient_shards: 4' line to change"
elif [ $rc -eq 0 ] || [ $rc -eq 124 ]; then fail "gradient_shards 6 at 4 ranks: exit $rc"
elif ! grep -q "$work/six.yaml:$line: run.gradient_shards: 6 shards per step cannot be split evenly over 4 processes (mpirun -np 4); set run.gradient_shards to a multiple of 4 (4, 8, 12, ...), or run a process count that divides 6: 1, 2, 3, 6" <<<"$out"; then
  fail "gradient_shards 6 at 4 ranks: no error naming the file, line and the values that work: $out"
elif ls "$work/six"/step-*.h5 >/dev/null 2>&1; then fail "gradient_shards 6 at 4 ranks: a checkpoint was written"
else pass "gradient_shards 6 at 4 ranks refused before the first step at $(basename "$work/six.yaml"):$line, naming the values that work"; fi

# a rank SIGKILLed at a random moment (seeded and printed: MPI_KILL_SEED=S replays it): a random rank, a random delay
# after the first checkpoint is on disk. The job must end within seconds with mpirun naming the rank, and the run
# resumed (with 4 ranks: another N) must end bit-identical to one process.
seed=${MPI_KILL_SEED:-$(( $(date +%s%N) / 1000 % 1000000 ))}
RANDOM=$seed
victim_rank=$(( RANDOM % 2 )); delay_ms=$(( RANDOM % 3000 ))
echo "random kill: MPI_KILL_SEED=$seed: rank $victim_rank, $delay_ms ms after the first checkpoint"
"${RUN[@]}" -np 2 $DISTILL run curricula/smoke.yaml --run-dir "$work/rk" --threads 1 >"$work/rk.out" 2>&1 &
launcher=$!
for _ in $(seq 1200); do compgen -G "$work/rk/*.h5" >/dev/null && break; sleep 0.1; done
sleep "$(printf '%d.%03d' $((delay_ms / 1000)) $((delay_ms % 1000)))"
victim=""
for p in $(pgrep -P $launcher); do
  if tr '\0' '\n' < /proc/$p/environ 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$victim_rank"; then victim=$p; fi
done
start=$(date +%s%N)
[ -n "$victim" ] && kill -KILL "$victim"
wait $launcher; rc=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
if [ -z "$victim" ]; then fail "random kill (MPI_KILL_SEED=$seed): no process of rank $victim_rank to kill (exit $rc): $(tail -3 "$work/rk.out")"
elif [ $rc -eq 0 ]; then fail "random kill (MPI_KILL_SEED=$seed): mpirun exited 0"
elif ! grep -q "process rank $victim_rank .*exited on signal 9" "$work/rk.out"; then fail "random kill (MPI_KILL_SEED=$seed): mpirun did not name rank $victim_rank: $(tail -5 "$work/rk.out")"
elif [ $ms -gt 20000 ]; then fail "random kill (MPI_KILL_SEED=$seed): the job took $ms ms to end"
elif ! out=$(timeout 300 "${RUN[@]}" -np 4 $DISTILL resume "$work/rk" --threads 1 2>&1); then fail "random kill (MPI_KILL_SEED=$seed): resume at 4 ranks: $(tail -5 <<<"$out")"
elif [ "$(hashes "$work/one")" != "$(hashes "$work/rk")" ]; then fail "random kill (MPI_KILL_SEED=$seed): killed, resumed at 4 ranks: other weights than one process"
else pass "random kill (MPI_KILL_SEED=$seed): rank $victim_rank killed $delay_ms ms after the first checkpoint, the job ended in $ms ms, resumed at 4 ranks bit-identical to one process"; fi

exit $failed
