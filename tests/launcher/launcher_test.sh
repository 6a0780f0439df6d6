#!/usr/bin/env bash
# Tests of railcc-run: output prefixes, environment, a failing rank, signal forwarding.
# Usage: launcher_test.sh RAILCC_RUN PROBE
set -uo pipefail
run=$1
probe=$2
fails=0
passes=0
pass() { echo "PASS: $1"; passes=$((passes + 1)); }
fail() { echo "FAIL: $1"; fails=$((fails + 1)); }
out=$(mktemp)
trap 'rm -f "$out"' EXIT

# 1. Every line is prefixed with its rank; stdout and stderr both arrive.
"$run" -n 3 "$probe" print >"$out" 2>&1 && rc=0 || rc=$?
if [ $rc -eq 0 ] && [ "$(grep -c '^\[[0-2]\] hello from rank [0-2]$' "$out")" -eq 3 ] &&
   grep -q '^\[2\] second line 2$' "$out" && grep -q '^\[1\] err line 1$' "$out"; then
  pass "prefixed output"
else
  fail "prefixed output (rc $rc)"; cat "$out"
fi

# 2. --no-prefix passes lines through untouched.
"$run" -n 2 --no-prefix "$probe" print >"$out" 2>&1
if grep -q '^hello from rank 1$' "$out" && ! grep -q '^\[' "$out"; then pass "no prefix"; else
  fail "no prefix"; cat "$out"; fi

# 3. Each rank gets its own rank, the world size and the store address.
"$run" -n 4 --no-prefix "$probe" env >"$out" 2>&1
if [ "$(grep -c 'size=4 local=[0-3] store=127.0.0.1:[0-9]*$' "$out")" -eq 4 ] &&
   [ "$(cut -d' ' -f1 "$out" | sort -u | wc -l)" -eq 4 ]; then pass "environment"; else
  fail "environment"; cat "$out"; fi

# 4. A rank that fails stops the others; the exit code and message name it.
start=$(date +%s)
"$run" -n 4 --grace 1 "$probe" die 2 7 >"$out" 2>&1 && rc=0 || rc=$?
took=$(( $(date +%s) - start ))
if [ $rc -eq 7 ] && grep -q 'rank 2 (pid [0-9]*) exited with status 7' "$out" && [ $took -lt 20 ]; then
  pass "failing rank stops the job (${took}s)"
else
  fail "failing rank (rc $rc, ${took}s)"; cat "$out"
fi

# 5. SIGTERM to the launcher is forwarded; every rank ends and the launcher exits non-zero.
"$run" -n 3 "$probe" sleep >"$out" 2>&1 &
pid=$!
sleep 1
kill -TERM $pid
start=$(date +%s)
wait $pid && rc=0 || rc=$?
took=$(( $(date +%s) - start ))
if [ $rc -ne 0 ] && grep -q 'forwarding it to every rank' "$out" && [ $took -lt 15 ] &&
   ! pgrep -f "$probe sleep" >/dev/null; then
  pass "SIGTERM forwarded (rc $rc)"
else
  fail "SIGTERM forwarding (rc $rc, ${took}s)"; cat "$out"
fi

# 6. A real job through the launcher.
"$run" -n 5 --no-prefix "$probe" allreduce >"$out" 2>&1 && rc=0 || rc=$?
if [ $rc -eq 0 ] && [ "$(grep -c '^sum=10$' "$out")" -eq 5 ]; then pass "allreduce job"; else
  fail "allreduce job (rc $rc)"; cat "$out"; fi

# 6b. Every rank gets the same random RAILCC_JOB_KEY (64 hex), a new one per job; a key the
# caller set is passed through.
"$run" -n 3 --no-prefix "$probe" key >"$out" 2>&1
k1=$(sort -u "$out")
"$run" -n 1 --no-prefix "$probe" key >"$out" 2>&1
k2=$(cat "$out")
RAILCC_JOB_KEY=my-own-key-0123456789 "$run" -n 2 --no-prefix "$probe" key >"$out" 2>&1
k3=$(sort -u "$out")
if [[ "$k1" =~ ^key=[0-9a-f]{64}$ ]] && [ "$k1" != "$k2" ] && [ "$k3" = "key=my-own-key-0123456789" ]
then pass "job key"; else fail "job key ('$k1' '$k2' '$k3')"; fi

# 6c. A client that knows the store address but not the key is refused and logged; the job
# goes on.
"$run" -n 3 --no-prefix "$probe" stranger >"$out" 2>&1 && rc=0 || rc=$?
if [ $rc -eq 0 ] && grep -q '^stranger refused: configuration error$' "$out" &&
   grep -q 'to the store: failed authentication (wrong or missing RAILCC_JOB_KEY)' "$out" &&
   [ "$(grep -c '^sum=3$' "$out")" -eq 3 ]; then pass "stranger refused"; else
  fail "stranger (rc $rc)"; cat "$out"; fi

# 7. Bad usage is reported.
"$run" -n 0 "$probe" print >"$out" 2>&1 && rc=0 || rc=$?
if [ $rc -ne 0 ]; then pass "bad -n rejected"; else fail "bad -n accepted"; fi
"$run" -n 2 >"$out" 2>&1 && rc=0 || rc=$?
if [ $rc -ne 0 ] && grep -qi 'program' "$out"; then pass "missing program"; else
  fail "missing program"; cat "$out"; fi

echo "$passes passed, $fails failed"
[ $fails -eq 0 ]
