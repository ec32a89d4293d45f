#!/usr/bin/env bash
# Builds the coverage-guided fuzzers and runs one (`make fuzz-coverage`).
#
#   fuzz/run.sh TARGET SECONDS [libFuzzer options...]
#
# TARGET is calls (system calls on the host twin, coverage guided),
# calls-random (the random fuzzer in the same harness, for comparison) or
# elf (ELF images). The corpus grows in build/fuzz/TARGET/corpus (kept
# between runs: a later run starts where the last stopped; the ELF
# fuzzer's first corpus is the programs in build/stage-6/modules); an input that
# breaks an invariant is saved as build/fuzz/TARGET/crash-*. The last line
# printed is the coverage reached:
#   TARGET: N runs in S s, cov E edges, ft F features, corpus C inputs
#
# Stable Rust: the instrumentation is LLVM's SanitizerCoverage, asked for
# with stable codegen options (-C passes, -C llvm-args), as cargo-fuzz does
# with --sanitizer none; libfuzzer-sys builds libFuzzer itself with the C++
# compiler. The target is named, so the flags reach the fuzzed crates and
# not the build scripts.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
target=${1:?usage: fuzz/run.sh TARGET SECONDS [options]}
seconds=${2:?usage: fuzz/run.sh TARGET SECONDS [options]}
shift 2
triple=x86_64-unknown-linux-gnu
export RUSTFLAGS="--cfg fuzzing -Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares -Cdebug-assertions -Coverflow-checks"
cargo build --release -q --manifest-path "$root/fuzz/Cargo.toml" --target "$triple" --bin "$target"
out="$root/build/fuzz/$target"
mkdir -p "$out/corpus"
# The ELF fuzzer starts from real programs (`make image-6` builds them):
# from random bytes it would take long to get past the file header.
if [ "$target" = elf ] && [ -z "$(ls -A "$out/corpus")" ]; then
    for program in "$root"/build/stage-6/modules/*; do
        # Stripped: the debug information is most of the file, and the
        # loader never reads it.
        [ -f "$program" ] && strip --strip-all -o "$out/corpus/seed-$(basename "$program")" "$program"
    done
fi
log="$out/log.txt"
set +e
"$root/fuzz/target/$triple/release/$target" -max_total_time="$seconds" -print_final_stats=1 \
    -artifact_prefix="$out/" "$@" "$out/corpus" >"$log" 2>&1
status=$?
set -e
last=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
runs=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}')
time=$(grep -E 'Done [0-9]+ runs in' "$log" | sed -E 's/.*in ([0-9]+) second.*/\1/')
cov=$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<<"$last")
ft=$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<<"$last")
corpus=$(sed -nE 's/.* corp: ([0-9]+).*/\1/p' <<<"$last")
if [ "$status" -ne 0 ]; then
    tail -n 30 "$log"
    echo "$target: FAILED (libFuzzer exit status $status): the input is in $out/ (see $log)"
    exit 1
fi
echo "$target: ${runs:-?} runs in ${time:-?} s, cov ${cov:-?} edges, ft ${ft:-?} features, corpus ${corpus:-?} inputs"
