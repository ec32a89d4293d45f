# Counts, function by function, the instructions of one system call: a GDB
# script (Python) that stops at `syscall_entry` when rax holds the call's
# number, then steps one instruction at a time until the CPU has gone back
# to user mode `RETURNS` times (1: the call's own return; 2: through the
# caller's user code and its next call, up to the return of whatever task
# runs next, as for a one-way message), and prints how many instructions
# ran in each function, segment by segment (kernel, user, kernel, ...).
#
# The chapter "What it costs" uses it for the breakdowns. To trace the
# fourth `ChannelPut` (15) of the bench, and what follows up to the echo's
# return from its take:
#
#   target/release/mkiso --title trace --kernel build/stage-6/kernel.elf \
#       $(for m in build/stage-6/modules/*; do echo --module $m; done) \
#       --cmdline bench=5 --output build/stage-6/trace.iso
#   qemu-system-x86_64 -m 128M -cdrom build/stage-6/trace.iso -display none \
#       -serial null -s -S &
#   CALL=15 SKIP=3 RETURNS=2 gdb -q -batch -x tools/trace-call.py build/stage-6/kernel.elf
#
# CALL: the call's number (default 18, Nop); SKIP: how many such calls to
# let pass first (default 1); RETURNS (default 1). Single-stepping is slow
# but exact: a few thousand steps take seconds.
import collections
import os

import gdb

CALL = int(os.environ.get("CALL", "18"))
SKIP = int(os.environ.get("SKIP", "1"))
RETURNS = int(os.environ.get("RETURNS", "1"))
USER_END = 0x0000_8000_0000_0000

gdb.execute("set pagination off")
gdb.execute("target remote :1234")
gdb.execute("hbreak syscall_entry if $rax == %d" % CALL)
for _ in range(SKIP + 1):
    gdb.execute("continue")
gdb.execute("delete")

segments = [collections.OrderedDict()]
in_user = False
returns = 0
while True:
    pc = int(gdb.parse_and_eval("$pc"))
    user = pc < USER_END
    if user != in_user:
        in_user = user
        if user:
            returns += 1
            if returns == RETURNS:
                break
        segments.append(collections.OrderedDict())
    if user:
        name = "(user code)"
    else:
        symbol = gdb.execute("info symbol %d" % pc, to_string=True)
        name = symbol.split(" in section")[0].split(" + ")[0].strip()
    segments[-1][name] = segments[-1].get(name, 0) + 1
    gdb.execute("stepi", to_string=True)

total = sum(sum(segment.values()) for segment in segments)
print("call %d: %d instructions from syscall_entry" % (CALL, total))
for index, segment in enumerate(segments):
    print("-- %s, %d instructions" % ("user" if index % 2 else "kernel", sum(segment.values())))
    for name, count in segment.items():
        print("%6d  %s" % (count, name))
gdb.execute("kill")
