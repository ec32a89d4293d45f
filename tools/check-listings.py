#!/usr/bin/env python3
"""Every listing of the book names the file it comes from.

The introduction promises it: each listing that {{#include}}s a source file
(not a recorded output, book/src/output/) must have that file's name
(its path from the repository root, or the last part of it, e.g.
`syscalls.rs`) in the prose just before it (the lines since the previous
listing, at most the last 12), or in the listing's first line, a comment
such as `// stages/05-tasks/src/syscalls.rs`. (Generated diffs name their
files themselves.) Prints each listing that does not, and exits with 1 if
any. tools/check-book.sh runs it.
"""
import os, re, sys

LOOKBACK = 12
src = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'book', 'src')
problems = 0
for name in sorted(os.listdir(src)):
    if not name.endswith('.md'):
        continue
    lines = open(os.path.join(src, name), encoding='utf-8').read().split('\n')
    prose, in_fence = [], False
    for number, line in enumerate(lines, 1):
        if line.startswith('```'):
            in_fence = not in_fence
            if in_fence:
                fence_start, language, first_line = number, line[3:].strip(), None
            else:
                prose = []
            continue
        if in_fence:
            if first_line is None:
                first_line = '' if '{{#include' in line else line
            match = re.search(r'\{\{#include ([^}:]+)', line)
            if match and not match.group(1).startswith('output/') and language != 'diff':
                path = os.path.normpath(match.group(1).replace('../../', ''))
                before = '\n'.join(prose[-LOOKBACK:]) + '\n' + first_line
                names = {path, os.path.basename(path)}
                # A crate's manifest is named by its folder: `ulib/Cargo.toml`.
                if not any(n in before for n in names):
                    print(f'book/src/{name}:{fence_start}: a listing of {path} that does not name its file '
                          f'in the lines before it', file=sys.stderr)
                    problems += 1
            continue
        prose.append(line)
if problems:
    print(f'check-listings: {problems} listing(s) without the file they come from', file=sys.stderr)
    sys.exit(1)
