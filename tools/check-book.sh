#!/usr/bin/env bash
# Checks the book, then builds it, failing on any problem:
# - every {{#include FILE:ANCHOR}} must name an existing file that has both
#   `ANCHOR: name` and `ANCHOR_END: name` markers. mdBook itself renders a
#   missing anchor as an empty listing, without even a warning. The output
#   samples (book/src/output/) must have been recorded: make book-output;
# - mdbook build must succeed without warnings or errors.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root/book/src"

problems=0
includes=0
while IFS= read -r match; do
    page=${match%%:*}
    directive=${match#*:}
    spec=${directive#\{\{#include }
    spec=${spec%\}\}}
    file=${spec%%:*}
    selector=${spec#"$file"}
    selector=${selector#:}
    includes=$((includes + 1))
    if [ ! -f "$(dirname "$page")/$file" ]; then
        hint=""
        [[ "$file" == output/* ]] && hint=" (recorded from real boots: run make book-output)"
        echo "$page: {{#include}} of a missing file: $file$hint" >&2
        problems=$((problems + 1))
        continue
    fi
    # A selector of digits (line numbers) needs no marker; a name does.
    if [ -n "$selector" ] && ! [[ "$selector" =~ ^[0-9:]+$ ]]; then
        for marker in "ANCHOR: $selector" "ANCHOR_END: $selector"; do
            if ! grep -qE "${marker}\$|${marker}[^A-Za-z0-9_]" "$(dirname "$page")/$file"; then
                echo "$page: $file has no '$marker'" >&2
                problems=$((problems + 1))
            fi
        done
    fi
done < <(grep -roE '\{\{#include [^}]+\}\}' --include='*.md' .)

if [ "$problems" -ne 0 ]; then
    echo "check-book: $problems broken include(s)" >&2
    exit 1
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! "$root/.tools/bin/mdbook" build "$root/book" >"$log" 2>&1; then
    cat "$log" >&2
    echo "check-book: mdbook build failed" >&2
    exit 1
fi
if grep -E "WARN|ERROR" "$log" >&2; then
    echo "check-book: the book built with the warnings above" >&2
    exit 1
fi
echo "book: $includes includes resolved; built into book/book"
