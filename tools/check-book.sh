#!/usr/bin/env bash
# Checks the book, then builds it, failing on any problem:
# - every {{#include FILE:ANCHOR}} must name an existing file that has both
#   `ANCHOR: name` and `ANCHOR_END: name` markers. mdBook itself renders a
#   missing anchor as an empty listing, without even a warning. The output
#   samples (book/src/output/) must have been recorded: make book-output;
#   the stage diffs (book/src/diffs/) this script generates first;
# - every image a page shows (![alt](FILE)) must exist, every SVG in the
#   book must be well-formed XML with an <svg> root and a viewBox (a broken
#   SVG shows as an empty box, again without a warning), and every file in
#   figures/ must be shown somewhere;
# - every listing names the file it comes from (tools/check-listings.py),
#   and the facts of tools/check-book-facts.py agree with the code;
# - no file of the project points into ../shared/, and the appendix The
#   shell is in SUMMARY.md;
# - mdbook build must succeed without warnings or errors.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

# The stage diffs are generated from the current code, never committed.
"$root/tools/stage-diffs.sh" >/dev/null

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

# Images and figures. python3's XML parser is the one checker every machine
# has; the figures are hand-written SVG files in figures/.
if ! python3 - <<'PY'
import os, re, sys
from xml.dom import minidom
from xml.parsers.expat import ExpatError

problems, shown = 0, set()
for directory, _, files in os.walk('.'):
    for name in sorted(files):
        if not name.endswith('.md'):
            continue
        page = os.path.normpath(os.path.join(directory, name))
        with open(page, encoding='utf-8') as f:
            text = f.read()
        for target in re.findall(r'!\[[^\]]*\]\(([^)\s]+)[^)]*\)', text):
            if re.match(r'[a-z]+:', target):
                continue
            path = os.path.normpath(os.path.join(os.path.dirname(page), target))
            shown.add(path)
            if not os.path.isfile(path):
                print(f'{page}: shows a missing image: {target}', file=sys.stderr)
                problems += 1

svgs = []
for directory, _, files in os.walk('.'):
    svgs += [os.path.normpath(os.path.join(directory, n)) for n in files if n.endswith('.svg')]
for svg in sorted(svgs):
    try:
        root = minidom.parse(svg).documentElement
    except ExpatError as error:
        print(f'{svg}: not well-formed XML: {error}', file=sys.stderr)
        problems += 1
        continue
    if root.tagName != 'svg' or not root.getAttribute('viewBox'):
        print(f'{svg}: not an <svg> with a viewBox (it would not scale)', file=sys.stderr)
        problems += 1
    if svg.startswith('figures' + os.sep) and svg not in shown:
        print(f'{svg}: a figure no page shows', file=sys.stderr)
        problems += 1
sys.exit(1 if problems else 0)
PY
then
    echo "check-book: broken images or figures (see above)" >&2
    exit 1
fi

python3 "$root/tools/check-listings.py" || exit 1
python3 "$root/tools/check-book-facts.py" || exit 1
# What a reader needs is in the repository: no file points outside it.
if git -C "$root" grep -n -e '\.\./shared/' -- . ':!tools/check-book.sh' >&2; then
    echo "check-book: the files above point into ../shared/, which readers do not have" >&2
    exit 1
fi
if ! grep -q '(shell.md)' SUMMARY.md; then
    echo "check-book: the appendix The shell (shell.md) is not in SUMMARY.md" >&2
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
figures=$(find figures -name '*.svg' 2>/dev/null | wc -l)
echo "book: $includes includes resolved, $figures figures checked; built into book/book"
