#!/usr/bin/env python3
"""Facts the book states that the code decides, checked against the code
(each of these was once wrong in the book):

- every system call the book names as "the `X` call" is a `Call` of
  abi/src/syscall.rs, or one the graded exercises add (their numbers are
  noted there);
- the system-call ABI table of chapter 5 says what comes back in `rsi` as
  the kernel does: if stage 6 writes a result into a task's rsi, the row
  names the call that does.

tools/check-book.sh runs it; it exits with 1 on a mismatch.
"""
import os, re, sys

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')
read = lambda path: open(os.path.join(root, path), encoding='utf-8').read()
problems = []

abi = read('abi/src/syscall.rs')
enum = abi[abi.index('pub enum Call {'):]
enum = enum[:enum.index('\n    }\n')]
calls = set(re.findall(r'^\s*([A-Z][A-Za-z]+) = \d+,', enum, re.M))
calls |= set(re.findall(r'\b\d+ ([A-Z][A-Za-z]+) \(chapter', enum))

pages = sorted(name for name in os.listdir(os.path.join(root, 'book/src')) if name.endswith('.md'))
for name in pages:
    text = read(f'book/src/{name}')
    for call in re.findall(r'`([A-Z][A-Za-z]+)` call\b', text):
        if call not in calls:
            problems.append(f'book/src/{name}: names a `{call}` call, which abi::syscall::Call does not have')

chapter5 = read('book/src/chapter-5-tasks.md')
row = next((line for line in chapter5.split('\n') if line.startswith('| `rsi`') or line.startswith('| `rdi`, `rsi`')), None)
kernel = ''.join(read(f'stages/06-channels/src/{f}') for f in os.listdir(os.path.join(root, 'stages/06-channels/src'))
                 if f.endswith('.rs'))
writes_rsi = re.search(r'\.rsi = ', kernel) is not None
if row is None:
    problems.append('book/src/chapter-5-tasks.md: the ABI table has no row for rsi')
elif writes_rsi and 'ChannelTake' not in row:
    problems.append('book/src/chapter-5-tasks.md: the ABI table says rsi comes back unchanged, '
                    'but stage 6 returns a value there (ChannelTake)')

for problem in problems:
    print(problem, file=sys.stderr)
sys.exit(1 if problems else 0)
