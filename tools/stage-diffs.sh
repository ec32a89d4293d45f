#!/usr/bin/env bash
# Writes, for every stage N > 1, the diff of its sources from stage N-1 into
# book/src/diffs/stage-N.diff, where chapter N includes it.
#   tools/stage-diffs.sh           regenerate the diffs
#   tools/stage-diffs.sh --check   fail if a committed diff is stale
#
# Each diff starts with a summary: one line per file with the lines it
# gains and loses, then the files created, deleted and renamed. A file that
# moved shows as a rename with its real changes, not as all-deleted plus
# all-added. Only the files git knows (committed or to be committed) are
# compared, and generated files (proptest-regressions/) are left out.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

check=false
[ "${1:-}" = "--check" ] && check=true

# The same output whatever the user's git configuration says.
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
git_diff=(git -c core.quotepath=off diff --no-index --no-color --no-ext-diff --find-renames)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Copies stage folder $1's source files into $work/$1.
copy_sources() {
    git ls-files --cached --others --exclude-standard -- "$1" |
        grep -v '/proptest-regressions/' |
        while IFS= read -r file; do
            [ -f "$file" ] || continue # deleted but not yet committed
            mkdir -p "$work/$(dirname "$file")"
            cp -p "$file" "$work/$file"
        done
}

stages=(stages/[0-9][0-9]-*)
for stage in "${stages[@]}"; do
    copy_sources "$stage"
done

out=book/src/diffs
mkdir -p "$out"
stale=0
for ((i = 1; i < ${#stages[@]}; i++)); do
    previous=${stages[i - 1]}
    current=${stages[i]}
    number=$((10#$(basename "$current" | cut -d- -f1)))
    target="$out/stage-$number.diff"
    # git diff --no-index exits with 1 when the trees differ.
    fresh=$(
        cd "$work"
        "${git_diff[@]}" --stat=120,90 --summary "$previous" "$current" || true
        echo
        "${git_diff[@]}" "$previous" "$current" || true
    )
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
