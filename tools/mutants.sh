#!/usr/bin/env bash
# Mutation testing (`make mutants`): cargo-mutants changes the code one
# small way at a time (a `<` into `<=`, a `+` into `-`, a body into
# `Default::default()`), runs the tests of the crate, and counts the
# mutants no test noticed ("missed"). A missed mutant is a test that would
# pass on a broken program: each one is a test to write, or a change that
# truly makes no difference (an equivalent mutant).
#
#   tools/mutants.sh [GROUP...]    groups: abi elf memory-map objects parser,
#                                  and objects/FILE for one file of objects/
#
# A file of objects/ at the full suite costs one whole `cargo test --lib` per
# mutant, and most of that is the model test (objects::model_tests, 1024
# proptest cases). Two more groups split it, for a machine without the time:
#   objects-quick/FILE    every mutant of FILE, all the lib tests but the
#                         model test: a lower bound on the score (a mutant
#                         a subset of the tests catches, all of them catch)
#   objects-settle/FILE   the mutants objects-quick/FILE did not catch
#                         (missed and timeouts), again with every lib test
#                         (cargo-mutants --iterate over a copy of the quick
#                         run's results): with it, the full suite's score
# Run the quick group, then the settle group; the settle line is the score.
# MUTANTS_TIMEOUT (seconds, default 300) bounds one mutant's test run.
#
# Each group is run alone, one mutant at a time (--jobs 1: the machine is
# shared), into build/mutants/GROUP/mutants.out, and its score printed:
#   GROUP: caught C, missed M, timeouts T, unviable U (score S%)
# where the score is (caught + timeouts) / (caught + missed + timeouts);
# unviable mutants (which do not compile) do not count. It is slow: minutes
# for the small groups, hours for `objects`; it is not part of `make test`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
mutants=(.tools/bin/cargo-mutants mutants)

# GROUP -> the package whose tests run, and the files to mutate.
group_args() {
    case "$1" in
        abi) echo "--package abi --file abi/src/*.rs" ;;
        elf) echo "--package common --file common/src/elf.rs --cargo-test-arg=--lib" ;;
        memory-map) echo "--package common --file common/src/memory_map.rs --cargo-test-arg=--lib" ;;
        objects) echo "--package stage6-channels --file stages/06-channels/src/objects/*.rs \
            --exclude *tests.rs --exclude stages/06-channels/src/objects/testing.rs --cargo-test-arg=--lib" ;;
        # One file of objects/, for a run that fits in the time there is:
        # objects/task, objects/channel, ...
        objects/*) echo "--package stage6-channels --file stages/06-channels/src/objects/${1#objects/}.rs \
            --cargo-test-arg=--lib" ;;
        # The model test left out: a lower bound, settled by objects-settle/.
        objects-quick/*) echo "--package stage6-channels --file stages/06-channels/src/objects/${1#objects-quick/}.rs \
            --cargo-test-arg=--lib -- -- --skip objects::model_tests" ;;
        objects-settle/*) echo "--package stage6-channels --file stages/06-channels/src/objects/${1#objects-settle/}.rs \
            --cargo-test-arg=--lib --iterate" ;;
        parser) echo "--package rinit --file rinit/src/parse.rs --cargo-test-arg=--lib" ;;
        *) echo "tools/mutants.sh: unknown group '$1' (abi elf memory-map objects objects/FILE objects-quick/FILE objects-settle/FILE parser)" >&2; exit 2 ;;
    esac
}

# The number of lines of a file that may be missing or empty.
count() { if [ -f "$1" ]; then grep -c . "$1" || true; else echo 0; fi; }

for group in "${@:-abi elf memory-map parser objects}"; do
    for name in $group; do
        out="build/mutants/$name"
        mkdir -p "$out"
        if [[ $name == objects-settle/* ]]; then
            quick="build/mutants/objects-quick/${name#objects-settle/}/mutants.out"
            [ -d "$quick" ] || { echo "$name: run objects-quick/${name#objects-settle/} first" >&2; exit 2; }
            rm -rf "$out/mutants.out" "$out/mutants.out.old"
            cp -r "$quick" "$out/mutants.out"
        fi
        echo "==> mutants: $name ($(date +%H:%M))"
        # Globs are cargo-mutants' own, not the shell's.
        set -f
        # shellcheck disable=SC2046
        status=0
        "${mutants[@]}" --jobs 1 --no-shuffle --timeout "${MUTANTS_TIMEOUT:-300}" --output "$out" $(group_args "$name") \
            >"$out/log.txt" 2>&1 || status=$?
        set +f
        # Exit status 2 means some mutants were missed; anything else but 0
        # (3 timeouts, 4 the unmutated tests fail) is worth showing.
        tail -n 3 "$out/log.txt"
        dir="$out/mutants.out"
        caught=$(count "$dir/caught.txt") unviable=$(count "$dir/unviable.txt")
        missed=$(count "$dir/missed.txt") timeouts=$(count "$dir/timeout.txt")
        # A settle run (--iterate) tests only what the quick run left; what
        # that caught and could not build counts too (cargo-mutants lumps
        # both into previously_caught.txt, so they are read from the quick run).
        if [[ $name == objects-settle/* ]]; then
            caught=$((caught + $(count "$quick/caught.txt")))
            unviable=$((unviable + $(count "$quick/unviable.txt")))
        fi
        tested=$((caught + missed + timeouts))
        score=$([ "$tested" -gt 0 ] && echo "$(((caught + timeouts) * 1000 / tested))" || echo 0)
        echo "$name: caught $caught, missed $missed, timeouts $timeouts, unviable $unviable" \
            "(score $((score / 10)).$((score % 10))%; cargo-mutants exit status $status)"
        if [ "$missed" -gt 0 ]; then sed 's/^/  missed: /' "$dir/missed.txt"; fi
    done
done
