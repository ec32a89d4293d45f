#!/usr/bin/env bash
# Builds the book and fails on any warning or error: mdBook itself only
# warns when an {{#include}} names a missing file or anchor, and such a
# chapter would silently show nothing.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! "$root/.tools/bin/mdbook" build "$root/book" >"$log" 2>&1; then
    cat "$log" >&2
    echo "check-book: mdbook build failed" >&2
    exit 1
fi
if grep -E "WARN|ERROR|warning|error" "$log" >&2; then
    echo "check-book: the book built with the warnings above" >&2
    exit 1
fi
echo "book: built without warnings into book/book"
