//! System calls: the `syscall` instruction ([`raw`]) and one typed wrapper
//! per call (see `abi::syscall` for the numbers, registers and errors).
//!
//! Capability addresses are [`CAddr`]s, resolved in the calling task's root
//! pool. Every wrapper returns the call's value (0 for calls without one) or
//! the [`Error`] the kernel refused it with; a refused call changed nothing.
//!
//! Why the wrappers are safe although some of them change this task's
//! address space: the kernel never maps a page over another, and when an
//! object is deleted or revoked it unmaps it (and flushes the TLB) before
//! the memory is reused. Memory the program loses access to therefore
//! faults on the next touch, which stops the task; it never shows someone
//! else's data. Only starting a task is `unsafe` ([`task_start`]): a task
//! in this address space runs beside this one, like a thread.

use crate::io::TaskBuffer;
use abi::syscall::{Call, ListEntry, MAX_PAYLOAD, MapRights, MessageKind, TaskField, decode_result};
use abi::{CAddr, Error, ObjectKind};
use core::arch::asm;

// ANCHOR: raw
/// Makes system call `number` with `args` in `rdi`, `rsi`, `rdx`, `r10`,
/// `r8`, `r9`, and returns `(rax, rdx)` as the kernel left them. `rsi` is
/// not kept either: a take returns the message kind there
/// ([`channel_take`] reads it), so any call number can be made here.
///
/// # Safety
/// Whatever the call does must be sound for this program: for example, it
/// must not start a task that writes to memory this task's Rust code uses.
/// (Every call the typed wrappers make is fine; see the module
/// documentation.)
pub unsafe fn raw(number: u64, args: [u64; 6]) -> (u64, u64) {
    // SAFETY: the caller's promise.
    let (rax, rdx, _) = unsafe { raw_with_kind(number, args) };
    (rax, rdx)
}

/// [`raw`], and `rsi` as the kernel left it: the message kind of a take.
///
/// # Safety
/// As for [`raw`].
#[inline(always)]
unsafe fn raw_with_kind(number: u64, args: [u64; 6]) -> (u64, u64, u64) {
    let (rax, rdx, rsi): (u64, u64, u64);
    // SAFETY: `syscall` enters the kernel, which preserves every register
    // but rcx and r11 (the CPU's), rax and rdx (the result) and, for a
    // take, rsi (the message kind): all declared as outputs. The kernel
    // may read or write the task buffer, which is memory here: the asm is
    // not `nomem`. Nothing is pushed on this task's stack (`nostack`): the
    // kernel runs on its own. The caller vouches for the call's effects.
    unsafe {
        asm!(
            "syscall",
            inlateout("rax") number => rax,
            in("rdi") args[0],
            inlateout("rsi") args[1] => rsi,
            inlateout("rdx") args[2] => rdx,
            in("r10") args[3],
            in("r8") args[4],
            in("r9") args[5],
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    (rax, rdx, rsi)
}
// ANCHOR_END: raw

/// Makes a call the wrappers know to be sound, and decodes its result.
fn call(call: Call, args: [u64; 6]) -> Result<u64, Error> {
    debug_assert!(call != Call::TaskStart, "task_start is unsafe");
    // SAFETY: every call made through here is one the module documentation
    // argues is sound for any arguments; `TaskStart` goes through `raw`.
    let (rax, rdx) = unsafe { raw(u64::from(call), args) };
    decode(rax, rdx)
}

/// Decodes `(rax, rdx)`. A code that is no [`Error`] breaks the ABI (the
/// kernel and this library share `abi`): the program panics.
pub fn decode(rax: u64, rdx: u64) -> Result<u64, Error> {
    decode_result(rax, rdx).unwrap_or_else(|unknown| panic!("the kernel answered with {unknown}"))
}

/// Prints the first `len` bytes of this task's buffer. Prefer
/// [`crate::print!`], which puts the text there first.
pub fn print_buffer(len: usize) -> Result<u64, Error> {
    call(Call::Print, [len as u64, 0, 0, 0, 0, 0])
}

/// Lets the other ready tasks run first.
pub fn yield_now() -> Result<u64, Error> {
    call(Call::Yield, [0; 6])
}

/// Does nothing in the kernel: the null system call, whose round trip
/// `make bench` times (stage 6).
pub fn nop() -> Result<u64, Error> {
    call(Call::Nop, [0; 6])
}

/// Ends this task with `code` (0 for success).
pub fn exit(code: u64) -> ! {
    let _ = call(Call::Exit, [code, 0, 0, 0, 0, 0]);
    // The kernel never returns from `Exit`. If it did, a fault stops the task.
    // SAFETY: `ud2` raises an invalid-opcode exception, nothing else.
    unsafe { asm!("ud2", options(nomem, nostack, noreturn)) }
}

/// Lists the occupied slots of `pool` into `entries`: one [`ListEntry`] per
/// slot, in slot order. The entries are copied out of the task buffer, so
/// printing them does not overwrite them.
pub fn list_pool(pool: CAddr, entries: &mut [ListEntry; ListEntry::MAX]) -> Result<&[ListEntry], Error> {
    let count = call(Call::ListPool, [pool.to_raw(), 0, 0, 0, 0, 0])?;
    let count = usize::try_from(count).unwrap_or(usize::MAX).min(ListEntry::MAX);
    let buffer = TaskBuffer::current();
    for (index, entry) in entries[..count].iter_mut().enumerate() {
        let mut bytes = [0; ListEntry::SIZE];
        buffer.read(index * ListEntry::SIZE, &mut bytes);
        *entry = ListEntry::decode(&bytes).unwrap_or_else(|| panic!("malformed list entry {bytes:?}"));
    }
    Ok(&entries[..count])
}

/// Makes a new object of kind `kind` in the empty slot `destination` out of
/// `untyped`; `size` is for a new Untyped only (else 0).
pub fn retype(untyped: CAddr, kind: ObjectKind, destination: CAddr, size: u64) -> Result<u64, Error> {
    call(Call::Retype, [untyped.to_raw(), kind.code(), destination.to_raw(), size, 0, 0])
}

/// Puts a second capability to the object in `from` into the empty slot `to`.
pub fn copy(from: CAddr, to: CAddr) -> Result<u64, Error> {
    call(Call::Copy, [from.to_raw(), to.to_raw(), 0, 0, 0, 0])
}

/// Moves the capability in `from` to the empty slot `to`.
pub fn move_cap(from: CAddr, to: CAddr) -> Result<u64, Error> {
    call(Call::Move, [from.to_raw(), to.to_raw(), 0, 0, 0, 0])
}

/// Empties slot `at` (the object goes when its last capability does).
pub fn delete(at: CAddr) -> Result<u64, Error> {
    call(Call::Delete, [at.to_raw(), 0, 0, 0, 0, 0])
}

/// Destroys every object made from `untyped`.
pub fn revoke(untyped: CAddr) -> Result<u64, Error> {
    call(Call::Revoke, [untyped.to_raw(), 0, 0, 0, 0, 0])
}

/// Puts the PDPT, PD or PT in `table` into the address space of `pml4`,
/// where it translates `address`.
pub fn map_table(table: CAddr, pml4: CAddr, address: u64) -> Result<u64, Error> {
    call(Call::MapTable, [table.to_raw(), pml4.to_raw(), address, 0, 0, 0])
}

/// Maps the page in `page` at `address` in the address space of `pml4`.
pub fn map_page(page: CAddr, pml4: CAddr, address: u64, rights: MapRights) -> Result<u64, Error> {
    call(Call::MapPage, [page.to_raw(), pml4.to_raw(), address, rights.bits(), 0, 0])
}

/// Sets one field of the task in `task`: an address for
/// [`TaskField::Stack`] and [`TaskField::Instruction`], a capability address
/// (`CAddr::to_raw`) for the others.
pub fn task_set(task: CAddr, field: TaskField, value: u64) -> Result<u64, Error> {
    call(Call::TaskSet, [task.to_raw(), u64::from(field), value, 0, 0, 0])
}

/// Starts the configured task in `task`.
///
/// # Safety
/// If the task shares this task's address space, the code it runs must not
/// race with this task on memory (as for a thread): for example, it uses its
/// own stack and task buffer, and shares only atomics.
pub unsafe fn task_start(task: CAddr) -> Result<u64, Error> {
    // SAFETY: the caller vouches for what the task does.
    let (rax, rdx) = unsafe { raw(u64::from(Call::TaskStart), [task.to_raw(), 0, 0, 0, 0, 0]) };
    decode(rax, rdx)
}

/// Stops the task in `task`.
pub fn task_stop(task: CAddr) -> Result<u64, Error> {
    call(Call::TaskStop, [task.to_raw(), 0, 0, 0, 0, 0])
}

/// Resumes the task in `task`, suspended by a fault (stage 6), at the
/// instruction that faulted; a task that is not suspended is
/// [`Error::NotSuspended`].
pub fn task_resume(task: CAddr) -> Result<u64, Error> {
    call(Call::TaskResume, [task.to_raw(), 0, 0, 0, 0, 0])
}

/// Asks the kernel to audit its invariants (stage 6): the number of objects
/// if they hold, else [`Error::AuditFailed`] (and the kernel prints why),
/// or [`Error::NotAudited`] if there are more objects than the audit has
/// room for (no failure: nothing was checked).
pub fn audit() -> Result<u64, Error> {
    call(Call::Audit, [0; 6])
}

// ANCHOR: channels
/// Puts a message on the channel in `channel` (stage 6): for
/// [`MessageKind::Raw`] the number `value`; for [`MessageKind::Capability`]
/// the raw address (`CAddr::to_raw`) of a slot whose capability is copied
/// into the message; for [`MessageKind::Payload`] the length of the bytes
/// at the start of the task buffer (prefer [`channel_put_payload`]).
/// Never waits: a full channel is [`Error::ChannelFull`].
pub fn channel_put(channel: CAddr, kind: MessageKind, value: u64) -> Result<u64, Error> {
    call(Call::ChannelPut, [channel.to_raw(), u64::from(kind), value, 0, 0, 0])
}

/// Puts `bytes` (at most [`MAX_PAYLOAD`]) on the channel in `channel` as a
/// [`MessageKind::Payload`]: copies them to the start of the task buffer,
/// from where the kernel copies them into the message.
pub fn channel_put_payload(channel: CAddr, bytes: &[u8]) -> Result<u64, Error> {
    if bytes.len() > MAX_PAYLOAD {
        return Err(Error::BufferTooLong);
    }
    TaskBuffer::current().write(0, bytes);
    channel_put(channel, MessageKind::Payload, bytes.len() as u64)
}

/// Takes the oldest message of the channel in `channel`, waiting for one
/// if it is empty. A capability goes into the slot `destination`, which
/// must then be empty (else [`Error::SlotOccupied`], and the message stays).
/// Returns the message's kind and value: the number for
/// [`MessageKind::Raw`]; the length for [`MessageKind::Payload`], whose
/// bytes the kernel copied to the start of the task buffer; for
/// [`MessageKind::Capability`], `destination` as a raw address, or
/// `abi::syscall::REVOKED_IN_FLIGHT` if the object was destroyed while the
/// message waited.
pub fn channel_take(channel: CAddr, destination: CAddr) -> Result<(MessageKind, u64), Error> {
    take_call(Call::ChannelTake, [channel.to_raw(), destination.to_raw(), 0, 0, 0, 0])
}

/// Puts a number on `put_on` and takes the oldest message of `take_from`,
/// waiting for one if it is empty, in one system call (`ChannelCall`): a
/// client's call (put the request, wait for the reply), or a server's
/// answer (put the reply, wait for the next request). `kind` and `value`
/// are [`channel_put`]'s, `destination` and the result
/// [`channel_take`]'s. If the put is refused, nothing was taken either.
pub fn channel_call(
    put_on: CAddr,
    kind: MessageKind,
    value: u64,
    take_from: CAddr,
    destination: CAddr,
) -> Result<(MessageKind, u64), Error> {
    let args = [put_on.to_raw(), u64::from(kind), value, take_from.to_raw(), destination.to_raw(), 0];
    take_call(Call::ChannelCall, args)
}

/// A call that answers as a take does: its value in rax and rdx, the
/// message's kind in rsi.
#[inline(always)]
fn take_call(number: Call, args: [u64; 6]) -> Result<(MessageKind, u64), Error> {
    // SAFETY: `raw`'s contract: its outputs include rsi, where the kernel
    // returns the message kind of a take. Taking a message writes at most
    // the task buffer and the empty destination slot: nothing Rust code
    // here owns.
    let (rax, rdx, rsi) = unsafe { raw_with_kind(u64::from(number), args) };
    let value = decode(rax, rdx)?;
    let kind =
        MessageKind::try_from(rsi).unwrap_or_else(|unknown| panic!("the kernel took a message of {unknown}"));
    Ok((kind, value))
}
// ANCHOR_END: channels

// ANCHOR: devices
/// Makes, in the empty slot `destination`, a new IrqLine for the same line
/// as the one in `irq`, out of `untyped` (stage 6's drivers): revoking
/// that untyped later unbinds and masks the line at once.
pub fn irq_derive(irq: CAddr, untyped: CAddr, destination: CAddr) -> Result<u64, Error> {
    call(Call::IrqDerive, [irq.to_raw(), untyped.to_raw(), destination.to_raw(), 0, 0, 0])
}

/// Makes, in the empty slot `destination`, a new PortRange for the `count`
/// ports from `first`, which `range` must cover, out of `untyped`; it may
/// write them if `range` may.
pub fn port_derive(
    range: CAddr,
    untyped: CAddr,
    destination: CAddr,
    first: u16,
    count: u16,
) -> Result<u64, Error> {
    let args =
        [range.to_raw(), untyped.to_raw(), destination.to_raw(), u64::from(first), u64::from(count), 0];
    call(Call::PortDerive, args)
}

/// Binds the line of the IrqLine in `irq` to the channel in `channel` and
/// unmasks it: each time it fires, the kernel masks it and puts one
/// [`MessageKind::Interrupt`] message there. A line bound already is
/// [`Error::InUse`].
pub fn irq_bind(irq: CAddr, channel: CAddr) -> Result<u64, Error> {
    call(Call::IrqBind, [irq.to_raw(), channel.to_raw(), 0, 0, 0, 0])
}

/// Says the interrupt of the line in `irq` was served: the kernel unmasks
/// it. A line that has not fired since the last acknowledgment is
/// [`Error::NoInterrupt`].
pub fn irq_acknowledge(irq: CAddr) -> Result<u64, Error> {
    call(Call::IrqAcknowledge, [irq.to_raw(), 0, 0, 0, 0, 0])
}

/// Reads one byte from `port` through the PortRange in `range`; a port it
/// does not cover is [`Error::PortDenied`].
pub fn port_read_byte(range: CAddr, port: u16) -> Result<u8, Error> {
    // The kernel reads one byte: the value fits (anything else is the
    // kernel breaking the ABI, and only the low byte is the port's).
    call(Call::PortRead, [range.to_raw(), u64::from(port), 1, 0, 0, 0]).map(|value| value as u8)
}

/// Writes the byte `value` to `port` through the PortRange in `range`; a
/// port it does not cover, or a range without the right to write, is
/// [`Error::PortDenied`].
pub fn port_write_byte(range: CAddr, port: u16, value: u8) -> Result<u64, Error> {
    call(Call::PortWrite, [range.to_raw(), u64::from(port), 1, u64::from(value), 0, 0])
}
// ANCHOR_END: devices
