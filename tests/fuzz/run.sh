#!/bin/sh
# run.sh BIN_FUZZ_DIR [HARNESS...] - run each libFuzzer harness of tests/fuzz/ for
# FUZZ_SECONDS (default 15) from its committed corpus (tests/fuzz/corpus/<harness>/),
# and print per harness: executions, seconds, executions per second, new inputs
# found, peak memory and the result. Exits non-zero on any crash, sanitizer report,
# leak, hang (-timeout=10 s per input) or out-of-memory (-rss_limit_mb=2048).
#   FUZZ_SECONDS=3600 sh tests/fuzz/run.sh bin-fuzz     a long run by hand (make fuzz-long)
#   FUZZ_MERGE=1 ...     also merge the new inputs (up to 8 KiB) into the committed corpus (-merge=1)
#   FUZZ_ARTIFACTS=DIR   where crashing inputs are kept (default: a temp dir, printed)
# New inputs go to a temp dir, so a CI run leaves the tree as it was.
set -u
if [ $# -lt 1 ] || [ ! -d "$1" ]; then
    echo "usage: sh tests/fuzz/run.sh BIN_FUZZ_DIR [HARNESS...]  (build first: make fuzz-build)" >&2
    exit 2
fi
bindir=$(cd "$1" && pwd)
shift
here=$(cd "$(dirname "$0")" && pwd)
harnesses=${*:-parse proto raw text}
seconds=${FUZZ_SECONDS:-15}
work=$(mktemp -d "${TMPDIR:-/tmp}/vinted-fuzz.XXXXXX") || exit 2
artifacts=${FUZZ_ARTIFACTS:-$work/artifacts}
mkdir -p "$artifacts"
keep_work=0
trap '[ "$keep_work" = 1 ] || rm -rf "$work"' EXIT
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:symbolize=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

passed=0
failed=0
for h in $harnesses; do
    bin="$bindir/fuzz_$h"
    corpus="$here/corpus/$h"
    if [ ! -x "$bin" ] || [ ! -d "$corpus" ]; then
        echo "fuzz $h: FAILED: $bin or $corpus is missing (make fuzz-build)"
        failed=$((failed + 1))
        continue
    fi
    case $h in text) max_len=65536 ;; *) max_len=1048576 ;; esac
    new="$work/new-$h"
    log="$work/$h.log"
    mkdir -p "$new"
    seeds=$(ls "$corpus" | wc -l)
    start=$(date +%s.%N)
    "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len="$max_len" \
        -detect_leaks=1 -print_final_stats=1 -artifact_prefix="$artifacts/$h-" \
        "$new" "$corpus" > "$log" 2>&1
    rc=$?
    end=$(date +%s.%N)
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -n 1)
    found=$(ls "$new" | wc -l)
    elapsed=$(echo "$start $end" | awk '{ printf "%.1f", $2 - $1 }')
    rate=$(echo "${execs:-0} $elapsed" | awk '{ printf "%.0f", ($2 > 0) ? ($1 / $2) : 0 }')
    if [ "$rc" -eq 0 ]; then
        result=ok
    elif grep -q 'ERROR: libFuzzer: timeout' "$log"; then
        result="FAILED: hang (an input ran past 10 s)"
    elif grep -q 'ERROR: LeakSanitizer' "$log"; then
        result="FAILED: leak"
    elif grep -q -e 'out-of-memory' -e 'malloc limit' "$log"; then
        result="FAILED: out of memory (over 2048 MB)"
    else
        result="FAILED: crash (exit $rc)"
    fi
    echo "fuzz $h: ${execs:-0} executions in $elapsed s ($rate/s), corpus $seeds + $found new, peak ${rss:-?} MB: $result"
    echo "FIGURE fuzz_${h}_executions=${execs:-0}"
    echo "FIGURE fuzz_${h}_seconds=$elapsed"
    echo "FIGURE fuzz_${h}_exec_per_s=$rate"
    if [ "$result" = ok ]; then
        passed=$((passed + 1))
        if [ "${FUZZ_MERGE:-0}" = 1 ] && [ "$found" -gt 0 ]; then
            # only inputs up to 8 KiB: the committed corpus stays small (seeds are bigger)
            mkdir -p "$work/small-$h"
            find "$new" -type f -size -8193c -exec cp {} "$work/small-$h/" \;
            "$bin" -merge=1 -max_len="$max_len" "$corpus" "$work/small-$h" > "$work/$h.merge.log" 2>&1 \
                && echo "fuzz $h: corpus now $(ls "$corpus" | wc -l) inputs (merged)"
        fi
    else
        failed=$((failed + 1))
        keep_work=1
        grep -E -A3 -e '^==[0-9]+==ERROR' -e 'runtime error' -e '^fuzz_[a-z]+: ' -e 'SUMMARY' "$log" | head -n 30 | sed 's/^/    /'
        echo "    artifact(s): $(ls "$artifacts"/"$h"-* 2>/dev/null | tr '\n' ' ')"
        echo "    reproduce: $bin ARTIFACT   (full log: $log)"
    fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
