#!/usr/bin/env bash
# make handin (in a student's tree): writes one file with the student's
# work: every change since the hand-out (the commit tagged `handout`),
# committed or not, new files included, as a patch the teacher grades with
# `make grade-handin FILE=...`. The student's own index and branches are
# not touched.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-handin.patch}
if ! git rev-parse -q --verify 'handout^{commit}' >/dev/null; then
    echo "handin: no commit tagged 'handout' here: run make handin in the tree your teacher handed out"; exit 2
fi
index=$(mktemp)
trap 'rm -f "$index"' EXIT
GIT_INDEX_FILE=$index git read-tree HEAD
GIT_INDEX_FILE=$index git add --all -- . ":!$out" ":!*.patch"
{
    echo "Hand-in by $(git config user.name || echo "${USER:-a student}"), $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "Against the hand-out made from commit $(cat .handout 2>/dev/null || echo unknown)"
    echo
    GIT_INDEX_FILE=$index git diff --cached --binary handout
} > "$out"
echo "handin: wrote $out ($(grep -c '^diff --git' "$out" || true) file(s) changed since the hand-out): hand this file in"
