//! The system-call interface: call numbers, how arguments and results travel
//! in registers, the fields and rights the calls take, and where user space
//! finds its task buffer.
//!
//! A task enters the kernel with the `syscall` instruction:
//!
//! ```text
//! rax                          call number (Call)
//! rdi, rsi, rdx, r10, r8, r9   arguments 0..5 (SyscallArgs::args)
//! -- back in user mode --
//! rax                          0 on success, else an Error code
//! rdx                          the returned value (0 if the call has none)
//! rsi                          kept, but for ChannelTake (stage 6), which
//!                              returns the message kind there
//! rcx, r11                     clobbered (the CPU keeps the user's rip and
//!                              rflags there); every other register is kept
//! ```
//!
//! (`r10` stands in for `rcx` as the fourth argument, as on Linux, because
//! `syscall` overwrites `rcx`.) Data too large for registers goes through the
//! task buffer, one page the task names with [`TaskField::Buffer`] and maps
//! where it likes (the first task finds it at [`TASK_BUFFER`]).
//!
//! Both sides use this module: the kernel decodes with [`SyscallArgs`] and
//! answers with [`encode_result`]; the user library decodes the answer with
//! [`decode_result`]. Every decoder takes any `u64` and never panics.

use crate::error::{Error, UnknownNumber, numbered_enum};
use crate::{CAddr, CPOOL_SLOTS};

// ANCHOR: user_layout
/// The size of a page, of a task buffer, and the most [`Call::Print`] prints.
pub const PAGE_SIZE: u64 = 4096;
/// The first address past the user half: user addresses are below it (the
/// lower half of the canonical 48-bit address space).
pub const USER_END: u64 = 0x0000_8000_0000_0000;
/// Where user programs are linked (`ulib/user.ld`).
pub const USER_IMAGE_BASE: u64 = 0x40_0000;
/// Where the kernel maps the first task's task buffer.
pub const TASK_BUFFER: u64 = 0x3000_0000;
/// Where the first task maps the task buffer of a child it starts (the spare
/// buffer page of the root pool), so the child, which shares its page
/// table, finds its buffer there.
pub const CHILD_TASK_BUFFER: u64 = 0x3000_1000;
/// The size of a task buffer: one page.
pub const TASK_BUFFER_SIZE: usize = PAGE_SIZE as usize;
/// The top of the stack the kernel gives each task it builds from a boot
/// module, and its size in pages; the page below it is left unmapped, a
/// guard, so that an overflow faults.
pub const STACK_TOP: u64 = 0x0000_7FFF_FFFF_0000;
pub const STACK_PAGES: u64 = 16;

/// Whether the `len` bytes from `address` lie entirely in the user half
/// (an empty range may sit at [`USER_END`] itself). Page 0 counts as user
/// memory here; the ELF loader refuses it separately. (For one address, a
/// task's instruction pointer say, `common::user::is_user_address`.)
pub const fn is_user_range(address: u64, len: u64) -> bool {
    match address.checked_add(len) {
        Some(end) => end <= USER_END,
        None => false,
    }
}
// ANCHOR_END: user_layout

// ANCHOR: call
numbered_enum! {
    /// The system calls, by number (`rax`). Arguments are listed in order
    /// (`rdi`, `rsi`, `rdx`, `r10`, ...); a capability address travels as
    /// [`CAddr::to_raw`], resolved in the calling task's root pool.
    pub enum Call {
        /// `Print(len)`: prints the first `len` bytes of the task buffer
        /// (at most [`TASK_BUFFER_SIZE`], valid UTF-8).
        Print = 1,
        /// `Yield()`: lets the other ready tasks run first.
        Yield = 2,
        /// `Exit(code)`: ends the calling task.
        Exit = 3,
        /// `ListPool(pool)`: writes one [`ListEntry`] per occupied slot to the
        /// task buffer; returns the number of entries.
        ListPool = 4,
        /// `Retype(untyped, kind code, destination, size)`: makes a new object
        /// of the kind out of the untyped; `size` is for an Untyped only
        /// (otherwise it must be 0).
        Retype = 5,
        /// `Copy(from, to)`: a second capability to the same object.
        Copy = 6,
        /// `Move(from, to)`: the capability changes slot.
        Move = 7,
        /// `Delete(at)`: empties the slot.
        Delete = 8,
        /// `Revoke(untyped)`: destroys every object made from the untyped.
        Revoke = 9,
        /// `MapTable(table, pml4, address)`: puts a PDPT, PD or PT in the
        /// address space of `pml4`, where it translates `address`.
        MapTable = 10,
        /// `MapPage(page, pml4, address, rights)`: maps a page at `address`
        /// with [`MapRights`].
        MapPage = 11,
        /// `TaskSet(task, field, value)`: configures a task ([`TaskField`]).
        TaskSet = 12,
        /// `TaskStart(task)`: makes a configured task ready to run.
        TaskStart = 13,
        /// `TaskStop(task)`: takes a task off the processor and the queues.
        TaskStop = 14,
        /// `ChannelPut(channel, message kind, value)` (stage 6; earlier
        /// kernels answer [`Error::UnknownCall`]).
        ChannelPut = 15,
        /// `ChannelTake(channel, destination)` (stage 6; earlier kernels
        /// answer [`Error::UnknownCall`]).
        ChannelTake = 16,
        /// `Audit()`: the kernel checks its invariants over every object
        /// (stage 6; earlier kernels answer [`Error::UnknownCall`]); on a
        /// broken one it prints a line starting `AUDIT FAILED:` and answers
        /// [`Error::AuditFailed`]. Returns the number of objects.
        Audit = 17,
        /// `Nop()`: does nothing and returns 0: the null system call that
        /// `make bench` times (stage 6; earlier kernels answer
        /// [`Error::UnknownCall`]). Number 17 is `Audit`'s.
        Nop = 18,
        // The exercises' calls take the next numbers, each its own so that
        // their solutions combine: 19 GetTicks (chapter 5, get-ticks), 20
        // TaskPriority (chapter 5, priority), 21 ChannelPoll (chapter 6, take).
        /// `ChannelCall(put_on, kind, value, take_from, destination)`: a
        /// put on `put_on`, then a take from `take_from` in the same
        /// system call (stage 6). A client calls a server with it (put the
        /// request, wait for the reply); a server answers with it (put the
        /// reply, wait for the next request), like seL4's `Call` and
        /// `ReplyRecv`. The put's arguments are `ChannelPut`'s, the take's
        /// are `ChannelTake`'s, and it returns as a take does (the
        /// message's kind in `rsi`). A refused put has changed nothing
        /// and takes nothing. (Numbers 19 to 23 are the
        /// exercises'.)
        ChannelCall = 24,
        /// `PortDerive(range, untyped, destination, first, count)`: a new
        /// PortRange over the `count` ports from `first`, made out of the
        /// untyped, which must lie inside `range`; it keeps `range`'s
        /// right to write (stage 6, [`crate::device`]).
        PortDerive = 25,
        /// `IrqBind(irq, channel)`: the IrqLine's line, unmasked, puts one
        /// [`MessageKind::Interrupt`] message on the channel each time it
        /// fires, then stays masked until [`Call::IrqAcknowledge`]. A line
        /// another IrqLine has bound already is [`Error::InUse`].
        IrqBind = 26,
        /// `IrqAcknowledge(irq)`: the driver has served the interrupt; the
        /// line is unmasked again. A line that has not fired since the last
        /// acknowledgment (or is not bound) is [`Error::NoInterrupt`].
        IrqAcknowledge = 27,
        /// `PortRead(range, port, width)`: reads `width` bytes (1, 2 or 4)
        /// from `port`; returns the value. A port the range does not cover
        /// is [`Error::PortDenied`].
        PortRead = 28,
        /// `PortWrite(range, port, width, value)`: writes the low `width`
        /// bytes of `value` to `port`. A port the range does not cover, or
        /// a range without the right to write, is [`Error::PortDenied`].
        PortWrite = 29,
        /// `TaskResume(task)`: a task suspended by a fault (stage 6; see
        /// [`crate::fault`]) runs again from the instruction that faulted.
        /// A task that is not suspended is [`Error::NotSuspended`]. Earlier
        /// kernels answer [`Error::UnknownCall`].
        TaskResume = 30,
        /// `IrqDerive(irq, untyped, destination)`: a new IrqLine for the
        /// same line, made out of the untyped, for a driver: revoking the
        /// untyped unbinds and masks the line (stage 6, [`crate::device`]).
        IrqDerive = 31,
    }
}
// ANCHOR_END: call

// ANCHOR: task_field
numbered_enum! {
    /// What [`Call::TaskSet`] configures.
    pub enum TaskField {
        /// The initial stack pointer: a user-half address.
        Stack = 1,
        /// The initial instruction pointer: a user-half address.
        Instruction = 2,
        /// The root capability pool (a capability address in the caller's pool).
        CPool = 3,
        /// The top-level page table, a PML4 (a capability address).
        Table = 4,
        /// The task buffer page, a RawPage (a capability address).
        Buffer = 5,
        /// The fault channel, a Channel (a capability address; stage 6,
        /// earlier kernels answer [`Error::OutOfRange`]): a fault of the
        /// task then suspends it and puts a [`MessageKind::Fault`] message
        /// there, instead of stopping it ([`crate::fault`]).
        FaultChannel = 6,
    }
}
// ANCHOR_END: task_field

impl TaskField {
    /// Whether the value is a capability address (else a user address).
    pub const fn takes_capability(self) -> bool {
        matches!(self, TaskField::CPool | TaskField::Table | TaskField::Buffer | TaskField::FaultChannel)
    }
}

// ANCHOR: message_kind
numbered_enum! {
    /// What a channel message carries (stage 6): the `kind` argument of
    /// [`Call::ChannelPut`], and what [`Call::ChannelTake`] returns in `rsi`.
    pub enum MessageKind {
        /// A number: the value itself.
        Raw = 1,
        /// Bytes: the value is their count (at most [`MAX_PAYLOAD`]); they
        /// travel from the start of the sender's task buffer to the start of
        /// the taker's.
        Payload = 2,
        /// A capability: the sender passes the address of a slot in its
        /// pool, the taker gets the address where the capability was put
        /// (the destination it named), or [`REVOKED_IN_FLIGHT`] if the
        /// object was destroyed while the message waited.
        Capability = 3,
        /// An interrupt (stage 6), put by the kernel only (a put of this
        /// kind is [`Error::OutOfRange`]): the value is the line that fired,
        /// on the channel an IrqLine is bound to ([`Call::IrqBind`]).
        Interrupt = 4,
        /// A fault (stage 6), put by the kernel only (a put of this kind is
        /// [`Error::OutOfRange`]): a capability to the task that faulted,
        /// which goes to the destination slot as for `Capability` (the
        /// value says where, or [`REVOKED_IN_FLIGHT`]), and a
        /// [`crate::fault::FaultMessage`] into the taker's task buffer.
        Fault = 5,
    }
}
// ANCHOR_END: message_kind

// ANCHOR: message_limits
/// The most bytes one [`MessageKind::Payload`] message carries.
pub const MAX_PAYLOAD: usize = 256;
const _: () = assert!(MAX_PAYLOAD <= TASK_BUFFER_SIZE, "a payload fits in the task buffer");
/// The value a taker gets for a [`MessageKind::Capability`] message whose
/// object was destroyed while it waited in the channel.
pub const REVOKED_IN_FLIGHT: u64 = u64::MAX;
// ANCHOR_END: message_limits

// ANCHOR: input
/// The messages of the input channel (stage 6, root slot
/// [`crate::task_root::INPUT`]): the kernel puts each byte typed on the
/// serial line and each keyboard scancode as one [`MessageKind::Raw`]
/// message, `value = byte | source << 8`.
pub mod input {
    /// Where an input byte comes from.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    #[repr(u8)]
    pub enum Source {
        /// A byte received on the serial line (COM1).
        Serial = 1,
        /// A PS/2 keyboard scancode, set 1 (one byte of it).
        Keyboard = 2,
    }

    /// The message value for `byte` from `source`.
    pub const fn encode(source: Source, byte: u8) -> u64 {
        byte as u64 | (source as u64) << 8
    }

    /// The source and byte of a message value; `None` for a value
    /// [`encode`] never makes.
    pub const fn decode(value: u64) -> Option<(Source, u8)> {
        let byte = (value & 0xff) as u8;
        match value >> 8 {
            1 => Some((Source::Serial, byte)),
            2 => Some((Source::Keyboard, byte)),
            _ => None,
        }
    }
}
// ANCHOR_END: input

bitflags::bitflags! {
    /// How [`Call::MapPage`] maps a page. A page is always readable and
    /// user-accessible; it is writable or executable only if asked.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct MapRights: u64 {
        /// The task may write to the page.
        const WRITABLE = 1 << 0;
        /// The task may execute code from the page (else it is no-execute).
        const EXECUTABLE = 1 << 1;
    }
}

impl MapRights {
    /// Decodes a rights argument: an unknown bit is [`Error::OutOfRange`].
    pub const fn from_raw(raw: u64) -> Result<MapRights, Error> {
        match MapRights::from_bits(raw) {
            Some(rights) => Ok(rights),
            None => Err(Error::OutOfRange),
        }
    }
}

// ANCHOR: list_entry
/// One occupied slot, as [`Call::ListPool`] writes it into the task buffer:
///
/// ```text
/// byte 0      slot index
/// byte 1      object kind code (abi::ObjectKind)
/// bytes 2..8  zero
/// bytes 8..16 detail, little-endian: an Untyped's free bytes, a CPool's
///             used slots, a Task's number (stage 6), else 0
/// ```
///
/// A pool has 256 slots, so a full list is exactly one page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListEntry {
    /// The slot index.
    pub slot: u8,
    /// The object kind code.
    pub kind: u8,
    /// Kind-specific detail (see above).
    pub detail: u64,
}

impl ListEntry {
    /// Bytes per entry.
    pub const SIZE: usize = 16;
    /// The most entries one list can have: one per slot.
    pub const MAX: usize = CPOOL_SLOTS;

    /// The entry's 16 bytes.
    pub fn encode(&self) -> [u8; ListEntry::SIZE] {
        let mut bytes = [0; ListEntry::SIZE];
        bytes[0] = self.slot;
        bytes[1] = self.kind;
        bytes[8..].copy_from_slice(&self.detail.to_le_bytes());
        bytes
    }

    /// Reads an entry back; `None` if the bytes that must be zero are not.
    pub fn decode(bytes: &[u8; ListEntry::SIZE]) -> Option<ListEntry> {
        if bytes[2..8].iter().any(|&byte| byte != 0) {
            return None;
        }
        let mut detail = [0; 8];
        detail.copy_from_slice(&bytes[8..]);
        Some(ListEntry { slot: bytes[0], kind: bytes[1], detail: u64::from_le_bytes(detail) })
    }

    /// The first `count` entries of a buffer [`Call::ListPool`] filled
    /// (`count` is its return value); stops early at the buffer's end.
    pub fn decode_all(buffer: &[u8], count: u64) -> impl Iterator<Item = Option<ListEntry>> + '_ {
        let count = usize::try_from(count).unwrap_or(usize::MAX);
        buffer
            .chunks_exact(ListEntry::SIZE)
            .take(count)
            .map(|chunk| chunk.try_into().ok().and_then(ListEntry::decode))
    }
}
// ANCHOR_END: list_entry

// ANCHOR: syscall_args
/// A system call as it arrives in registers: the number from `rax` and the
/// six arguments from `rdi`, `rsi`, `rdx`, `r10`, `r8`, `r9`. The decoders
/// turn each argument into what the call expects or into the error the
/// caller gets back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SyscallArgs {
    /// The call number (`rax`).
    pub number: u64,
    /// The arguments, in register order.
    pub args: [u64; 6],
}

impl SyscallArgs {
    /// The argument registers, in order (for documentation and reports).
    pub const REGISTERS: [&'static str; 6] = ["rdi", "rsi", "rdx", "r10", "r8", "r9"];

    /// A call of `call` with `args` (unused ones 0).
    pub const fn new(call: Call, args: [u64; 6]) -> SyscallArgs {
        SyscallArgs { number: call as u64, args }
    }

    /// Which call this is; an unknown number is [`Error::UnknownCall`].
    pub fn call(&self) -> Result<Call, Error> {
        Call::try_from(self.number).map_err(|_| Error::UnknownCall)
    }

    /// Argument `index` as a number (an index past 5 reads as 0).
    pub fn arg(&self, index: usize) -> u64 {
        self.args.get(index).copied().unwrap_or(0)
    }

    /// Argument `index` as a capability address.
    pub fn caddr(&self, index: usize) -> Result<CAddr, Error> {
        CAddr::from_raw(self.arg(index)).map_err(|_| Error::MalformedAddress)
    }

    /// Argument `index` as a task field.
    pub fn task_field(&self, index: usize) -> Result<TaskField, Error> {
        TaskField::try_from(self.arg(index)).map_err(|_| Error::OutOfRange)
    }

    /// Argument `index` as mapping rights.
    pub fn rights(&self, index: usize) -> Result<MapRights, Error> {
        MapRights::from_raw(self.arg(index))
    }

    /// Argument `index` as a length in the task buffer.
    pub fn buffer_len(&self, index: usize) -> Result<usize, Error> {
        match usize::try_from(self.arg(index)) {
            Ok(len) if len <= TASK_BUFFER_SIZE => Ok(len),
            _ => Err(Error::BufferTooLong),
        }
    }
}

/// The registers `(rax, rdx)` that carry a call's result back to user mode.
pub fn encode_result(result: Result<u64, Error>) -> (u64, u64) {
    match result {
        Ok(value) => (0, value),
        Err(error) => (u64::from(error), 0),
    }
}

/// Reads a call's result from `(rax, rdx)`. The outer `Err` is for an `rax`
/// that is neither 0 nor an [`Error`] code, which a kernel built from this
/// ABI never returns.
pub fn decode_result(rax: u64, rdx: u64) -> Result<Result<u64, Error>, UnknownNumber> {
    match rax {
        0 => Ok(Ok(rdx)),
        code => Error::try_from(code).map(Err),
    }
}
// ANCHOR_END: syscall_args

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn every_call_round_trips_with_the_design_numbers() {
        let expected = [
            (Call::Print, 1),
            (Call::Yield, 2),
            (Call::Exit, 3),
            (Call::ListPool, 4),
            (Call::Retype, 5),
            (Call::Copy, 6),
            (Call::Move, 7),
            (Call::Delete, 8),
            (Call::Revoke, 9),
            (Call::MapTable, 10),
            (Call::MapPage, 11),
            (Call::TaskSet, 12),
            (Call::TaskStart, 13),
            (Call::TaskStop, 14),
            (Call::ChannelPut, 15),
            (Call::ChannelTake, 16),
            (Call::Audit, 17),
            (Call::Nop, 18),
            (Call::ChannelCall, 24),
            (Call::PortDerive, 25),
            (Call::IrqBind, 26),
            (Call::IrqAcknowledge, 27),
            (Call::PortRead, 28),
            (Call::PortWrite, 29),
            (Call::TaskResume, 30),
            (Call::IrqDerive, 31),
        ];
        // The design's numbers are fixed; a call an exercise adds takes a
        // number of its own (so that solutions combine) and needs no line here.
        for (call, number) in expected {
            assert_eq!(u64::from(call), number);
        }
        let mut numbers: Vec<u64> = Call::ALL.iter().map(|&call| u64::from(call)).collect();
        numbers.sort_unstable();
        numbers.dedup();
        assert_eq!(numbers.len(), Call::ALL.len(), "two calls share a number");
        for &call in Call::ALL {
            assert_eq!(Call::try_from(u64::from(call)), Ok(call));
            assert_eq!(SyscallArgs::new(call, [0; 6]).call(), Ok(call));
        }
    }

    #[test]
    fn unknown_call_numbers_are_refused() {
        let past_the_last = Call::ALL.iter().map(|&call| u64::from(call)).max().unwrap_or(0) + 1;
        for number in [0, 22, 23, past_the_last, 999, u64::MAX] {
            assert_eq!(Call::try_from(number), Err(UnknownNumber(number)));
            assert_eq!(SyscallArgs { number, args: [0; 6] }.call(), Err(Error::UnknownCall));
        }
    }

    #[test]
    fn task_fields_round_trip_and_unknown_ones_are_out_of_range() {
        for (index, &field) in TaskField::ALL.iter().enumerate() {
            assert_eq!(u64::from(field), index as u64 + 1);
            assert_eq!(TaskField::try_from(u64::from(field)), Ok(field));
        }
        assert_eq!(TaskField::ALL.len(), 6);
        assert!(TaskField::FaultChannel.takes_capability());
        let args = SyscallArgs::new(Call::TaskSet, [0, 99, 0, 0, 0, 0]);
        assert_eq!(args.task_field(1), Err(Error::OutOfRange));
        assert_eq!(args.task_field(0), Err(Error::OutOfRange));
        assert!(TaskField::Buffer.takes_capability() && !TaskField::Stack.takes_capability());
    }

    #[test]
    fn map_rights_refuse_unknown_bits() {
        assert_eq!(MapRights::from_raw(0), Ok(MapRights::empty()));
        assert_eq!(MapRights::from_raw(1), Ok(MapRights::WRITABLE));
        assert_eq!(MapRights::from_raw(2), Ok(MapRights::EXECUTABLE));
        assert_eq!(MapRights::from_raw(3), Ok(MapRights::WRITABLE | MapRights::EXECUTABLE));
        for raw in [4, 5, 1 << 63, u64::MAX] {
            assert_eq!(MapRights::from_raw(raw), Err(Error::OutOfRange), "{raw:#x}");
        }
    }

    #[test]
    fn arguments_decode_into_what_the_call_expects() {
        let slot = CAddr::new(&[2, 7]).unwrap();
        let args = SyscallArgs::new(Call::Delete, [slot.to_raw(), 0, 4096, 4097, 0, 0]);
        assert_eq!(args.caddr(0), Ok(slot));
        assert_eq!(args.caddr(1), Err(Error::MalformedAddress), "depth 0");
        assert_eq!(args.buffer_len(2), Ok(4096));
        assert_eq!(args.buffer_len(3), Err(Error::BufferTooLong));
        assert_eq!(args.arg(6), 0, "past the sixth argument");
    }

    #[test]
    fn results_round_trip() {
        for result in [Ok(0), Ok(42), Ok(u64::MAX)] {
            assert_eq!(decode_result(encode_result(result).0, encode_result(result).1), Ok(result));
        }
        for &error in Error::ALL {
            let (rax, rdx) = encode_result(Err(error));
            assert_ne!(rax, 0);
            assert_eq!(decode_result(rax, rdx), Ok(Err(error)));
        }
        assert_eq!(decode_result(999, 5), Err(UnknownNumber(999)));
    }

    #[test]
    fn list_entries_round_trip_and_fill_one_page() {
        let entry = ListEntry { slot: 250, kind: 7, detail: 0x0123_4567_89ab_cdef };
        let bytes = entry.encode();
        assert_eq!(bytes[..8], [250, 7, 0, 0, 0, 0, 0, 0]);
        assert_eq!(bytes[8..], 0x0123_4567_89ab_cdefu64.to_le_bytes());
        assert_eq!(ListEntry::decode(&bytes), Some(entry));
        let mut dirty = bytes;
        dirty[5] = 1;
        assert_eq!(ListEntry::decode(&dirty), None);
        assert_eq!(ListEntry::MAX * ListEntry::SIZE, TASK_BUFFER_SIZE);

        let mut buffer = [0u8; 48];
        buffer[..16].copy_from_slice(&entry.encode());
        buffer[16..32].copy_from_slice(&ListEntry { slot: 3, kind: 3, detail: 0 }.encode());
        let decoded: Vec<_> = ListEntry::decode_all(&buffer, 2).collect();
        assert_eq!(decoded, [Some(entry), Some(ListEntry { slot: 3, kind: 3, detail: 0 })]);
        assert_eq!(ListEntry::decode_all(&buffer, u64::MAX).count(), 3, "stops at the buffer's end");
    }

    #[test]
    fn user_addresses_stay_below_the_user_end() {
        assert!(is_user_range(0, 0));
        assert!(is_user_range(TASK_BUFFER, PAGE_SIZE));
        assert!(is_user_range(USER_END - PAGE_SIZE, PAGE_SIZE));
        assert!(is_user_range(USER_END, 0));
        assert!(!is_user_range(USER_END - PAGE_SIZE, PAGE_SIZE + 1));
        assert!(!is_user_range(0xffff_8000_0000_0000, 1));
        assert!(!is_user_range(u64::MAX, 2), "wraps around");
        assert!(is_user_range(USER_IMAGE_BASE, 1) && is_user_range(CHILD_TASK_BUFFER, PAGE_SIZE));
    }

    #[test]
    fn message_kinds_round_trip_with_the_design_numbers() {
        for (kind, number) in [
            (MessageKind::Raw, 1),
            (MessageKind::Payload, 2),
            (MessageKind::Capability, 3),
            (MessageKind::Interrupt, 4),
            (MessageKind::Fault, 5),
        ] {
            assert_eq!(u64::from(kind), number);
            assert_eq!(MessageKind::try_from(number), Ok(kind));
        }
        assert_eq!(MessageKind::ALL.len(), 5);
        for number in [0, 6, u64::MAX] {
            assert_eq!(MessageKind::try_from(number), Err(UnknownNumber(number)));
        }
    }

    #[test]
    fn input_values_carry_the_source_above_the_byte() {
        use input::{Source, decode, encode};
        assert_eq!(encode(Source::Serial, b'a'), 0x161);
        assert_eq!(encode(Source::Keyboard, 0x9e), 0x29e);
        assert_eq!(decode(0x161), Some((Source::Serial, b'a')));
        assert_eq!(decode(0x2ff), Some((Source::Keyboard, 0xff)));
        for value in [0, 0x61, 0x361, 1 << 16 | 0x161, u64::MAX] {
            assert_eq!(decode(value), None, "{value:#x}");
        }
    }

    proptest! {
        #[test]
        fn decoders_never_panic(number in any::<u64>(), args in any::<[u64; 6]>(), rdx in any::<u64>(),
                                bytes in any::<[u8; 16]>(), buffer in proptest::collection::vec(any::<u8>(), 0..100),
                                count in any::<u64>()) {
            if let Ok(call) = Call::try_from(number) {
                prop_assert_eq!(u64::from(call), number);
            }
            if let Ok(error) = Error::try_from(number) {
                prop_assert_eq!(u64::from(error), number);
            }
            if let Ok(field) = TaskField::try_from(number) {
                prop_assert_eq!(u64::from(field), number);
            }
            if let Ok(rights) = MapRights::from_raw(number) {
                prop_assert_eq!(rights.bits(), number);
            }
            if let Ok(kind) = MessageKind::try_from(number) {
                prop_assert_eq!(u64::from(kind), number);
            }
            if let Some((source, byte)) = input::decode(number) {
                prop_assert_eq!(input::encode(source, byte), number);
            }
            let syscall = SyscallArgs { number, args };
            let _ = syscall.call();
            for index in 0..8 {
                let _ = (syscall.caddr(index), syscall.task_field(index), syscall.rights(index));
                let _ = syscall.buffer_len(index);
            }
            match decode_result(number, rdx) {
                Ok(result) => prop_assert_eq!(encode_result(result), (number, if number == 0 { rdx } else { 0 })),
                Err(unknown) => prop_assert_eq!(unknown, UnknownNumber(number)),
            }
            if let Some(entry) = ListEntry::decode(&bytes) {
                prop_assert_eq!(entry.encode(), bytes);
            }
            prop_assert!(ListEntry::decode_all(&buffer, count).count() <= buffer.len() / 16);
        }
    }
}
