#!/usr/bin/env bash
# The worked solutions (solutions/stage-N/<id>.patch): open one to change it,
# save it back, refresh every patch after the code under it changed, and
# check that they apply alone and together.
#
#   tools/solutions.sh open N ID     a git worktree build/solutions/N-ID at HEAD with
#                                    the patch applied (3-way: a patch that no longer
#                                    applies leaves conflict markers to resolve there)
#   tools/solutions.sh save N ID     writes that worktree's change (new files
#                                    included) back to solutions/stage-N/ID.patch
#   tools/solutions.sh close N ID    removes the worktree
#   tools/solutions.sh refresh [N]   open + save + close for every patch (of chapter N):
#                                    after a change to the code a patch touches, this
#                                    re-bases each patch on HEAD; one with a conflict is
#                                    left open, named, for you to resolve and save
#   tools/solutions.sh check [N]     each patch applies to HEAD alone, and a chapter's
#                                    patches apply one after the other in the order of
#                                    exercises/stage-N.txt (the book's order)
#
# Everything is against HEAD: commit the code first. `make grade-check`
# then builds and tests each solution alone and a chapter's all together.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

usage() { sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }

worktree() { echo "$ROOT/build/solutions/$1-$2"; }
patch_of() { echo "$ROOT/solutions/stage-$1/$2.patch"; }

# The exercise ids of chapter N, in the manifest's order.
ids_of() {
    [ -f "exercises/stage-$1.txt" ] || return 0
    sed 's/#.*//' "exercises/stage-$1.txt" | awk 'NF { print $1 }'
}

chapters() {
    if [ -n "${1:-}" ]; then echo "$1"; return; fi
    for manifest in exercises/stage-*.txt; do
        manifest=${manifest#exercises/stage-}; echo "${manifest%.txt}"
    done | sort -n
}

open_solution() {
    local stage=$1 id=$2 dir patch
    dir=$(worktree "$stage" "$id"); patch=$(patch_of "$stage" "$id")
    [ -f "$patch" ] || { echo "no $patch"; return 2; }
    if [ -e "$dir" ]; then echo "$dir exists: save or close it first"; return 2; fi
    mkdir -p "$(dirname "$dir")"
    git worktree add --quiet --detach "$dir" HEAD
    if git -C "$dir" apply --3way --whitespace=nowarn "$patch" 2>"$dir.apply-log"; then
        rm -f "$dir.apply-log"
        echo "opened $dir"
    else
        echo "opened $dir with CONFLICTS: resolve them there, then: tools/solutions.sh save $stage $id"
        sed 's/^/  /' "$dir.apply-log"; rm -f "$dir.apply-log"
        return 1
    fi
}

save_solution() {
    local stage=$1 id=$2 dir
    dir=$(worktree "$stage" "$id")
    [ -d "$dir" ] || { echo "$dir is not open"; return 2; }
    if git -C "$dir" diff --name-only --diff-filter=U | grep -q . || \
        git -C "$dir" grep -qE '^(<<<<<<<|>>>>>>>) ' -- . 2>/dev/null; then
        echo "$dir still has conflict markers"; return 1
    fi
    # New files count, through a separate index (the worktree's own is untouched).
    local index="$dir.index"
    rm -f "$index"
    GIT_INDEX_FILE=$index git -C "$dir" read-tree HEAD
    GIT_INDEX_FILE=$index git -C "$dir" add --all -- .
    GIT_INDEX_FILE=$index git -C "$dir" diff --cached --unified=1 HEAD > "$(patch_of "$stage" "$id")"
    rm -f "$index"
    echo "saved $(patch_of "$stage" "$id" | sed "s|^$ROOT/||")"
}

close_solution() {
    local dir
    dir=$(worktree "$1" "$2")
    git worktree remove --force "$dir"
}

check_solutions() {
    local failed=0 stage id index
    index=$(mktemp)
    for stage in $(chapters "${1:-}"); do
        for id in $(ids_of "$stage"); do
            if ! git apply --check "$(patch_of "$stage" "$id")" 2>/dev/null; then
                echo "stage $stage $id: does not apply to HEAD"; failed=1
            fi
        done
        # Together, in order, on a scratch index.
        GIT_INDEX_FILE=$index git read-tree HEAD
        for id in $(ids_of "$stage"); do
            if ! GIT_INDEX_FILE=$index git apply --cached "$(patch_of "$stage" "$id")" 2>/dev/null; then
                echo "stage $stage $id: does not apply after the chapter's earlier solutions"; failed=1
            fi
        done
    done
    rm -f "$index"
    [ $failed = 0 ] && echo "solutions: each applies alone, and each chapter's apply together"
    return $failed
}

command=${1:-}; shift || true
case $command in
    open) [ $# = 2 ] || usage; open_solution "$1" "$2" ;;
    save) [ $# = 2 ] || usage; save_solution "$1" "$2" ;;
    close) [ $# = 2 ] || usage; close_solution "$1" "$2" ;;
    refresh)
        left_open=""
        for stage in $(chapters "${1:-}"); do
            for id in $(ids_of "$stage"); do
                if open_solution "$stage" "$id" >/dev/null; then
                    save_solution "$stage" "$id"; close_solution "$stage" "$id"
                else
                    left_open="$left_open $stage/$id"
                fi
            done
        done
        if [ -n "$left_open" ]; then
            echo "conflicts, left open in build/solutions/ to resolve and save:$left_open"; exit 1
        fi ;;
    check) check_solutions "${1:-}" ;;
    *) usage ;;
esac
