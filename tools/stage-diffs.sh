#!/usr/bin/env bash
# Writes, for every stage N > 1, the diff of its sources from stage N-1 into
# book/src/diffs/stage-N.diff, where chapter N includes it.
#   tools/stage-diffs.sh           regenerate the diffs
#   tools/stage-diffs.sh --check   fail if a committed diff is stale
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

check=false
[ "${1:-}" = "--check" ] && check=true

stages=(stages/[0-9][0-9]-*)
out=book/src/diffs
mkdir -p "$out"
stale=0
for ((i = 1; i < ${#stages[@]}; i++)); do
    previous=${stages[i - 1]}
    current=${stages[i]}
    number=$((10#$(basename "$current" | cut -d- -f1)))
    target="$out/stage-$number.diff"
    # File times would differ in every checkout: keep only the names.
    fresh=$(diff -ruN "$previous" "$current" | sed -E 's/^((---|\+\+\+) [^\t]+)\t.*$/\1/' || true)
    if $check; then
        if ! [ -f "$target" ] || [ "$fresh" != "$(cat "$target")" ]; then
            echo "stale: $target (run tools/stage-diffs.sh and commit)" >&2
            stale=1
        fi
    else
        printf '%s\n' "$fresh" >"$target"
        echo "wrote $target"
    fi
done
exit $stale
