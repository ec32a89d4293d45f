#!/usr/bin/env bash
# make handout DIR=...: writes the tree a teacher gives the class, from the
# teacher's HEAD (commit first): everything but the worked solutions
# (solutions/, and exercises/pending/ for the exercises not graded yet) and the hidden tests (exercises/hidden/,
# tools/qemu-test/tests/hidden_stage*.rs). DIR becomes a git repository of
# its own whose first commit, tagged `handout`, is the hand-out: the base
# that `make handin` diffs the student's work against.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:?usage: tools/handout.sh DIR}
if [ -e "$dir" ] && [ -n "$(ls -A "$dir" 2>/dev/null)" ]; then
    echo "handout: $dir exists and is not empty"; exit 2
fi
mkdir -p "$dir"
git archive HEAD | tar -x -C "$dir"
rm -rf "$dir/solutions" "$dir/exercises/hidden" "$dir/exercises/pending"
rm -f "$dir"/tools/qemu-test/tests/hidden_stage*.rs
git rev-parse HEAD > "$dir/.handout"
(
    cd "$dir"
    git init -q
    git add -A
    git -c user.name="hand-out" -c user.email="hand-out@localhost" commit -qm "The hand-out"
    git tag handout
)
echo "handout: wrote $dir (from commit $(git rev-parse --short HEAD), without solutions/ and the hidden tests)"
