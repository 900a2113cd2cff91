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

exit $failed
