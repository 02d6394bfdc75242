#!/usr/bin/env bash
# Fuzzes the pure core for a bounded time with libFuzzer: the pipeline (body → beacon → record →
# line) and the HTTP answer reader, each from its seed corpus in core/fuzz/corpus/<target>.
# Usage: scripts/fuzz.sh [seconds] (default 60, shared equally by the targets). Exits non-zero,
# with the crashing input under core/fuzz/artifacts/<target>/, on any crash.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
targets=(pipeline http_response)
per_target=$((seconds / ${#targets[@]}))
((per_target >= 1)) || per_target=1

command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
# cargo-fuzz asks rustc for sanitizer flags that stable Rust keeps behind RUSTC_BOOTSTRAP.
export RUSTC_BOOTSTRAP=1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd core
status=0
for target in "${targets[@]}"; do
    # New inputs go to a scratch corpus; the committed seeds are only read.
    mkdir -p "$work/$target"
    target_status=0
    cargo fuzz run "$target" "$work/$target" "fuzz/corpus/$target" -- \
        -max_total_time="$per_target" -max_len=4096 -print_final_stats=1 > "$work/$target.log" 2>&1 ||
        target_status=$?
    echo "== $target (${per_target}s)"
    grep -E "^(Done|stat::number_of_executed_units|stat::average_exec_per_sec|==[0-9]+==|SUMMARY|Test unit written)" \
        "$work/$target.log" || tail -n 30 "$work/$target.log"
    if ((target_status != 0)); then
        echo "fuzzing $target found a crash (exit $target_status): see core/fuzz/artifacts/$target/"
        status=$target_status
    fi
done
if ((status != 0)); then
    exit "$status"
fi
echo "fuzzing: no crash in ${per_target}s for each of ${targets[*]}"
