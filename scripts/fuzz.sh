#!/usr/bin/env bash
# Fuzzes the pure pipeline (body → beacon → record → line) for a bounded time with libFuzzer,
# starting from the seed corpus in core/fuzz/corpus/pipeline. Usage: scripts/fuzz.sh [seconds]
# (default 60). Exits non-zero, with the crashing input under core/fuzz/artifacts/, on any crash.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}

command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
# cargo-fuzz asks rustc for sanitizer flags that stable Rust keeps behind RUSTC_BOOTSTRAP.
export RUSTC_BOOTSTRAP=1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd core
# New inputs go to a scratch corpus; the committed seeds are only read.
status=0
cargo fuzz run pipeline "$work" fuzz/corpus/pipeline -- \
    -max_total_time="$seconds" -max_len=4096 -print_final_stats=1 > "$work.log" 2>&1 || status=$?
grep -E "^(Done|stat::number_of_executed_units|stat::average_exec_per_sec|==[0-9]+==|SUMMARY|Test unit written)" "$work.log" || tail -n 30 "$work.log"
rm -f "$work.log"
if ((status != 0)); then
    echo "fuzzing found a crash (exit $status): see core/fuzz/artifacts/pipeline/"
    exit "$status"
fi
echo "fuzzing: no crash in ${seconds}s"
