#!/bin/sh
# run.sh BIN_DIR... - the whole test suite against the programs in each BIN_DIR
# (bin, and bin-asan for the ASan+UBSan build):
#   0. vinted-protodoc --check proto/PROTOCOL.md   the document's tables in step with the
#                                        message table, and a tampered copy caught (once, first)
#   1. python3 tests/sim/test_sim.py     the simulator's own checks (once)
#   2. sh tests/fuzz/run.sh bin-fuzz     every libFuzzer harness for FUZZ_CI_SECONDS each
#                                        (default 12; once; one test per harness; make fuzz-build)
#   then for each BIN_DIR:
#   3. BIN_DIR/vinted-selftest           unit self-tests of every C module (counts as one test)
#   4. python3 -m unittest discover -s tests/e2e -v   end to end, with VINTED_BIN=BIN_DIR
# 1-2 and each BIN_DIR's 3-4 run as lanes side by side (TEST_LANES=serial: one after another).
# E2E_ONCE="test_a test_b": those end-to-end modules run against the first BIN_DIR in
# the once lane, after 1-2, instead of in its own lane (make test: balances the lanes).
# Ends with one line "N passed, N failed" and exits non-zero if anything failed.
set -u

if [ $# -lt 1 ]; then
    echo "usage: sh tests/run.sh BIN_DIR..." >&2
    exit 2
fi
BINS=""
for dir in "$@"; do
    if [ ! -d "$dir" ]; then
        echo "run.sh: BIN_DIR '$dir' is not a directory (build first: make)" >&2
        exit 2
    fi
    BINS="$BINS $(cd "$dir" && pwd)"
done
cd "$(dirname "$0")/.." || exit 2
PYTHON=${PYTHON:-python3}
export PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1

work=$(mktemp -d "${TMPDIR:-/tmp}/vinted-run.XXXXXX") || exit 2
work=$(cd "$work" && pwd) || exit 2 # absolute: lanes may run steps from another directory
trap 'rm -rf "$work"' EXIT
passed=0
failed=0

# run NAME CMD...: run a step, showing its output as it goes; its output is kept
# in $work/NAME.out and its exit code in $work/NAME.rc.
run() {
    name=$1
    shift
    echo "==== $name: $*"
    { "$@"; echo $? > "$work/$name.rc"; } 2>&1 | tee "$work/$name.out"
}

# count_unittest NAME: add a unittest run's results to the totals. A run that did
# not report ("Ran N tests") or failed without saying why counts as one failure.
count_unittest() {
    out="$work/$1.out"
    rc=$(cat "$work/$1.rc" 2>/dev/null || echo 1)
    ran=$(sed -n 's/^Ran \([0-9][0-9]*\) tests\{0,1\} in .*/\1/p' "$out" | tail -n 1)
    if [ -z "$ran" ]; then
        echo "$1: no unittest summary (exit $rc): counted as one failure"
        failed=$((failed + 1))
        return
    fi
    summary=$(grep -E '^(OK|FAILED)( \(|$)' "$out" | tail -n 1)
    n_fail=0
    for key in failures errors "unexpected successes"; do
        n_key=$(printf '%s\n' "$summary" | sed -n "s/.*[(, ]$key=\([0-9][0-9]*\).*/\1/p")
        n_fail=$((n_fail + ${n_key:-0}))
    done
    n_skip=$(printf '%s\n' "$summary" | sed -n 's/.*[(, ]skipped=\([0-9][0-9]*\).*/\1/p')
    n_skip=${n_skip:-0}
    if [ "$rc" -ne 0 ] && [ "$n_fail" -eq 0 ]; then
        n_fail=1
    fi
    [ "$n_skip" -gt 0 ] && echo "$1: $n_skip skipped"
    passed=$((passed + ran - n_fail - n_skip))
    failed=$((failed + n_fail))
}

# The steps run in lanes, at the same time unless TEST_LANES=serial: one lane for
# the steps run once (the simulator's checks, then fuzzing), and one per BIN_DIR
# (its self-tests, then its end-to-end tests). The end-to-end tests mostly wait
# on processes, so the lanes share two cores well. Each lane's lines are shown as
# they come, prefixed with its name; the counting is done once all have ended.

# 1. the simulator's own checks; 2. fuzzing, one test per harness
lane_once() {
    if [ -f tests/sim/test_sim.py ]; then
        run sim "$PYTHON" tests/sim/test_sim.py
    else
        echo "==== sim: tests/sim/test_sim.py is missing"
    fi
    if [ -d "$fuzz_bin" ]; then
        FUZZ_SECONDS=${FUZZ_CI_SECONDS:-12} run fuzz sh tests/fuzz/run.sh "$fuzz_bin"
    else
        echo "==== fuzz: $fuzz_bin is missing (make fuzz-build)"
    fi
    if [ -n "${E2E_ONCE:-}" ]; then
        echo "==== e2e0: $E2E_ONCE against $first_bin"
        # shellcheck disable=SC2086
        (cd tests/e2e && export VINTED_BIN="$first_bin" && run e2e0 "$PYTHON" -m unittest -v $E2E_ONCE)
    fi
}

# The end-to-end modules of tests/e2e not named in E2E_ONCE.
e2e_rest() {
    for f in tests/e2e/test_*.py; do
        m=$(basename "$f" .py)
        case " $E2E_ONCE " in
        *" $m "*) ;;
        *) printf '%s ' "$m" ;;
        esac
    done
}

# 3. unit self-tests, 4. end to end, against one BIN_DIR
lane_bin() {
    export VINTED_BIN="$2"
    echo "==== suite against $2"
    if [ -x "$2/vinted-selftest" ]; then
        run "selftest$1" "$2/vinted-selftest"
    else
        echo "==== selftest: $2/vinted-selftest is missing"
    fi
    # E2E_ONLY_<lane>: the lane runs only these test modules (make test: the ASan lane's subset)
    only=$(eval "echo \${E2E_ONLY_$1:-}")
    if [ -z "$only" ] && [ "$1" = 1 ] && [ -n "${E2E_ONCE:-}" ]; then
        only=$(e2e_rest) # the others run in the once lane
    fi
    if [ -n "$only" ]; then
        echo "==== e2e$1: only $only"
        # shellcheck disable=SC2086
        (cd tests/e2e && run "e2e$1" "$PYTHON" -m unittest -v $only) # $work is absolute
    else
        run "e2e$1" "$PYTHON" -m unittest discover -s tests/e2e -t tests/e2e -v
    fi
}

# 0. PROTOCOL.md's generated tables in step with the message table (cheap, first):
#    vinted-protodoc --check, and that it does catch a block changed by hand
protodoc_check() {
    doc=proto/PROTOCOL.md
    "$1/vinted-protodoc" --check "$doc" || return 1
    sed '/^<!-- generated: body FETCH -->$/,/^<!-- end generated -->$/s/| i64 |/| i32 |/' "$doc" > "$work/tampered.md"
    if "$1/vinted-protodoc" --check "$work/tampered.md" 2> "$work/tampered.err"; then
        echo "vinted-protodoc --check passed a tampered copy"
        return 1
    fi
    grep -q "block 'body FETCH' differs" "$work/tampered.err" || { cat "$work/tampered.err"; return 1; }
    echo "protodoc: PROTOCOL.md in step with the message table; a changed block is caught"
}

fuzz_bin=${FUZZ_BIN:-bin-fuzz}
first_bin=${BINS# }
first_bin=${first_bin%% *}
if [ -x "$first_bin/vinted-protodoc" ]; then
    run protodoc protodoc_check "$first_bin"
else
    echo "==== protodoc: $first_bin/vinted-protodoc is missing" | tee "$work/protodoc.out"
fi
started=$(date +%s)
if [ "${TEST_LANES:-parallel}" = serial ]; then
    lane_once
    n=0
    for BIN in $BINS; do
        n=$((n + 1))
        lane_bin "$n" "$BIN"
    done
else
    { lane_once 2>&1 | sed -u 's/^/[once] /'; } &
    n=0
    for BIN in $BINS; do
        n=$((n + 1))
        { lane_bin "$n" "$BIN" 2>&1 | sed -u "s/^/[$(basename "$BIN")] /"; } &
    done
    wait
fi
echo "==== all lanes ended in $(( $(date +%s) - started )) s"

# the count
if [ -f "$work/sim.out" ]; then
    count_unittest sim
else
    failed=$((failed + 1))
fi
if [ -f "$work/fuzz.out" ]; then
    n_ok=$(grep -c '^fuzz [a-z]*: .*: ok$' "$work/fuzz.out")
    n_bad=$(grep -c '^fuzz [a-z]*: .*FAILED' "$work/fuzz.out")
    if [ "$(cat "$work/fuzz.rc" 2>/dev/null || echo 1)" -ne 0 ] && [ "$n_bad" -eq 0 ]; then
        n_bad=1
    fi
    passed=$((passed + n_ok))
    failed=$((failed + n_bad))
else
    failed=$((failed + 1))
fi
if [ -n "${E2E_ONCE:-}" ]; then
    count_unittest e2e0
fi
if [ "$(cat "$work/protodoc.rc" 2>/dev/null || echo 1)" -eq 0 ]; then
    passed=$((passed + 1))
else
    echo "protodoc: proto/PROTOCOL.md is not in step with proto/proto_table.c (make protocol-doc)"
    failed=$((failed + 1))
fi
lane=0
for BIN in $BINS; do
    lane=$((lane + 1))
    if [ "$(cat "$work/selftest$lane.rc" 2>/dev/null || echo 1)" -eq 0 ]; then
        passed=$((passed + 1))
    else
        echo "selftest against $BIN failed"
        failed=$((failed + 1))
    fi
    count_unittest "e2e$lane"
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
