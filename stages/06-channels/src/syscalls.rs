//! System calls: decode what a task asked for, check everything, then act.
//!
//! A task's registers arrive as [`SyscallArgs`] (the number in `rax`, the
//! arguments in `rdi`, `rsi`, `rdx`, `r10`, `r8`, `r9`). Each call decodes
//! its arguments into typed values (a capability address, an object kind,
//! rights), looks its capabilities up in the caller's root pool, and only
//! then acts; every refusal is an [`Error`] code back in `rax`, and a
//! refused call has changed nothing. Nothing a task passes can make the
//! kernel panic.
//!
//! To add a system call: a number in `abi::syscall::Call`, a wrapper in
//! `ulib`, and one arm in `act` calling a function here that returns a
//! [`Reply`].

use crate::objects::channel::{Channel, Outgoing};
use crate::objects::cpool::{self, CapError, LookupError};
use crate::objects::irq_line::IrqLine;
use crate::objects::mapping::{self, MapError};
use crate::objects::port_range::PortRange;
use crate::objects::task::{TaskState, make_inactive, make_ready};
use crate::objects::untyped::RevokeError;
use crate::objects::weak::Slot;
use crate::objects::{AnyObject, CPool, ManagedArc, ObjectKind, RetypeError, Task};
use crate::paging::{PagingError, Rights};
use crate::{fastpath, scheduler};
use abi::syscall::{
    ListEntry, MAX_PAYLOAD, MapRights, MessageKind, SyscallArgs, TASK_BUFFER_SIZE, TaskField,
};
use abi::{CAddr, Call, Error};
use common::user::is_user_address;

// ANCHOR: next
/// What runs after a system call: the call's handler decides, once, and
/// says so in its [`Reply`] (after Hubris's `NextTask`).
pub enum Next {
    /// The caller runs on.
    Caller,
    /// Another task: the caller yielded (it goes to the back of the run
    /// queue), stopped itself, or waits in a take.
    Other,
    /// This task, at once: a put handed its number straight to it (the
    /// fast path, `fastpath.rs`); the caller is ready.
    Switch(ManagedArc<Task>),
    /// The caller ended with this code.
    Exit(u64),
}

/// Tasks compare by identity, and print as their numbers.
impl PartialEq for Next {
    fn eq(&self, other: &Next) -> bool {
        match (self, other) {
            (Next::Caller, Next::Caller) | (Next::Other, Next::Other) => true,
            (Next::Switch(one), Next::Switch(other)) => one.same_object(other),
            (Next::Exit(one), Next::Exit(other)) => one == other,
            _ => false,
        }
    }
}

impl core::fmt::Debug for Next {
    fn fmt(&self, f: &mut core::fmt::Formatter) -> core::fmt::Result {
        match self {
            Next::Caller => write!(f, "Caller"),
            Next::Other => write!(f, "Other"),
            Next::Switch(task) => write!(f, "Switch(task {})", task.id()),
            Next::Exit(code) => write!(f, "Exit({code})"),
        }
    }
}

/// What a call's handler returns when the call is not refused: the value
/// for the caller, and what runs next. A refused call returns its error
/// instead, and the caller runs on.
pub struct Reply {
    /// The value the call returns; `None` if the caller's registers are
    /// not this reply's business: a take writes its answer itself (the
    /// message's kind goes back too), and a task waiting in one gets its
    /// answer from the put that wakes it.
    value: Option<u64>,
    next: Next,
}

impl Reply {
    /// The call returns `value`, and the caller runs on.
    fn value(value: u64) -> Self {
        Self { value: Some(value), next: Next::Caller }
    }

    /// The call returns 0, and `next` runs.
    fn then(next: Next) -> Self {
        Self { value: Some(0), next }
    }

    /// The handler wrote the caller's registers itself, or left them to
    /// whoever wakes it; `next` runs.
    fn answered(next: Next) -> Self {
        Self { value: None, next }
    }
}
// ANCHOR_END: next

// ANCHOR: handle
/// Handles the system call `task` just made, with its root pool `root`:
/// leaves the result in its registers, and says what runs next.
///
/// A put or a call of a number to a waiting taker may take the fast path
/// (`fastpath.rs`), which switches straight to the taker; every other
/// call, and every one the fast path declines, takes the general path.
#[inline]
pub fn handle(task: &ManagedArc<Task>, root: &ManagedArc<CPool>) -> Next {
    match fastpath::put_to_waiting_taker(task, root) {
        Some(receiver) => Next::Switch(receiver),
        None => general_path(task, root),
    }
}

/// The general path of every call. The null call (`Nop`) is answered
/// here: it has nothing to decode, look up or do, so its cost is the way
/// in and out alone: it reads the call's number and nothing else (the
/// arguments are copied out of the task's registers only for the other
/// calls). A small function the compiler can inline into the scheduler's
/// loop; every other call goes on to [`handle_call`].
#[inline]
fn general_path(task: &ManagedArc<Task>, root: &ManagedArc<CPool>) -> Next {
    if task.call_number() == Call::Nop as u64 {
        #[cfg(feature = "bench-phases")]
        crate::phases::follow(true, task.call().arg(0), task.call().arg(1));
        crate::phases::mark(crate::phases::Mark::Decoded);
        crate::phases::mark(crate::phases::Mark::Acted);
        task.set_result(Ok(0));
        crate::phases::mark(crate::phases::Mark::Answered);
        return Next::Caller;
    }
    handle_call(task, root, &task.call())
}

/// The general path alone, for host tests that compare it with the fast
/// path: `handle` without `fastpath.rs`.
#[cfg(test)]
pub fn handle_general(task: &ManagedArc<Task>, root: &ManagedArc<CPool>) -> Next {
    let call = task.call();
    match call.number == Call::Nop as u64 {
        true => general_path(task, root),
        false => general_call(task, root, &call),
    }
}

/// Handles every call but `Nop`: a call's fast path first, then the
/// general path.
#[inline(never)]
fn handle_call(task: &ManagedArc<Task>, root: &ManagedArc<CPool>, args: &SyscallArgs) -> Next {
    crate::phases::follow(false, 0, 0);
    // The fast path of a call (`fastpath.rs`) is tried here, off the way
    // of every other call: a put's is tried in `handle`, before `Nop`.
    if args.number == Call::ChannelCall as u64
        && let Some(receiver) = fastpath::call_to_waiting_taker(task, root, args)
    {
        return Next::Switch(receiver);
    }
    general_call(task, root, args)
}

/// The general path of every call but `Nop`: decodes its number, runs its
/// handler, and writes what the handler returned into the task's registers.
#[inline]
fn general_call(task: &ManagedArc<Task>, root: &ManagedArc<CPool>, args: &SyscallArgs) -> Next {
    match args.call().and_then(|call| act(call, args, task, root)) {
        Ok(Reply { value, next }) => {
            if let Some(value) = value {
                task.set_result(Ok(value));
            }
            next
        }
        Err(error) => {
            task.set_result(Err(error));
            Next::Caller
        }
    }
}
// ANCHOR_END: handle

// ANCHOR: act
/// Runs one call: each arm decodes the call's arguments, then calls the
/// handler that checks and acts, and returns its [`Reply`].
fn act(
    call: Call,
    args: &SyscallArgs,
    task: &ManagedArc<Task>,
    root: &ManagedArc<CPool>,
) -> Result<Reply, Error> {
    match call {
        Call::Print => print_buffer(task, args.buffer_len(0)?),
        Call::Yield => Ok(Reply::then(Next::Other)),
        Call::Exit => Ok(Reply::then(Next::Exit(args.arg(0)))),
        Call::Nop => Ok(Reply::value(0)),
        Call::ListPool => list_pool(task, root, args.caddr(0)?),
        Call::Retype => {
            let kind = ObjectKind::try_from(args.arg(1)).map_err(|_| Error::OutOfRange)?;
            done(cpool::retype(root, args.caddr(0)?, kind, args.arg(3), args.caddr(2)?))
        }
        Call::Copy => done(cpool::copy(root, args.caddr(0)?, args.caddr(1)?)),
        Call::Move => done(cpool::move_cap(root, args.caddr(0)?, args.caddr(1)?)),
        Call::Delete => done(cpool::delete(root, args.caddr(0)?)),
        Call::Revoke => done(cpool::revoke(root, args.caddr(0)?)),
        Call::MapTable => {
            let (table, space) = (
                cpool::lookup_object::<AnyObject>(root, args.caddr(0)?)?,
                cpool::lookup_object::<AnyObject>(root, args.caddr(1)?)?,
            );
            done(mapping::map_table(&space, &table, args.arg(2)))
        }
        Call::MapPage => {
            let rights = page_rights(args.rights(3)?);
            let (page, space) = (
                cpool::lookup_object::<AnyObject>(root, args.caddr(0)?)?,
                cpool::lookup_object::<AnyObject>(root, args.caddr(1)?)?,
            );
            done(mapping::map_page(&space, &page, args.arg(2), rights))
        }
        Call::TaskSet => {
            let (target, field) = (cpool::lookup_object::<Task>(root, args.caddr(0)?)?, args.task_field(1)?);
            task_set(root, &target, field, args.arg(2))
        }
        Call::TaskStart => task_start(&cpool::lookup_object::<Task>(root, args.caddr(0)?)?),
        Call::TaskStop => task_stop(task, &cpool::lookup_object::<Task>(root, args.caddr(0)?)?),
        Call::TaskResume => {
            crate::faults::resume(&cpool::lookup_object::<Task>(root, args.caddr(0)?)?).map(Reply::value)
        }
        Call::ChannelPut => channel_put(args, task, root),
        Call::ChannelCall => channel_call(args, task, root),
        Call::ChannelTake => channel_take(args, task, root),
        Call::Audit => match scheduler::audit() {
            Ok(report) => Ok(Reply::value(report.objects as u64)),
            Err(error) if error.is_too_many() => Err(Error::NotAudited),
            Err(_) => Err(Error::AuditFailed),
        },
        // The devices (`objects/irq_line.rs`, `objects/port_range.rs`).
        Call::IrqDerive => {
            let line = cpool::lookup_object::<IrqLine>(root, args.caddr(0)?)?.line();
            done(cpool::derive::<IrqLine>(root, args.caddr(1)?, args.caddr(2)?, |irq| irq.set_line(line)))
        }
        Call::IrqBind => {
            let irq = cpool::lookup_object::<IrqLine>(root, args.caddr(0)?)?;
            done(irq.bind(&cpool::lookup_object::<Channel>(root, args.caddr(1)?)?))
        }
        Call::IrqAcknowledge => done(cpool::lookup_object::<IrqLine>(root, args.caddr(0)?)?.acknowledge()),
        Call::PortDerive => {
            let span =
                cpool::lookup_object::<PortRange>(root, args.caddr(0)?)?.narrow(args.arg(3), args.arg(4))?;
            done(cpool::derive::<PortRange>(root, args.caddr(1)?, args.caddr(2)?, |range| {
                range.set_span(span)
            }))
        }
        Call::PortRead => cpool::lookup_object::<PortRange>(root, args.caddr(0)?)?
            .read(args.arg(1), args.arg(2))
            .map(Reply::value),
        Call::PortWrite => {
            let range = cpool::lookup_object::<PortRange>(root, args.caddr(0)?)?;
            done(range.write(args.arg(1), args.arg(2), args.arg(3)))
        }
    }
}
// ANCHOR_END: act

/// The reply to a call that returns no value: 0 on success.
fn done<E: Into<Error>>(result: Result<(), E>) -> Result<Reply, Error> {
    result.map(|()| Reply::value(0)).map_err(Into::into)
}

/// The kernel's rights for a page mapped with `rights`.
pub fn page_rights(rights: MapRights) -> Rights {
    let mut kernel = Rights::USER;
    kernel.set(Rights::WRITE, rights.contains(MapRights::WRITABLE));
    kernel.set(Rights::EXECUTE, rights.contains(MapRights::EXECUTABLE));
    kernel
}

// ANCHOR: buffer
/// `Print(len)`: prints the first `len` bytes of the task buffer.
fn print_buffer(task: &ManagedArc<Task>, len: usize) -> Result<Reply, Error> {
    let (_page, bytes) = task.buffer().ok_or(Error::NoBuffer)?;
    let text = core::str::from_utf8(&bytes[..len]).map_err(|_| Error::InvalidUtf8)?;
    // The shell's prompt line is kept and printed again below another
    // task's lines (`shared_console.rs`).
    crate::shared_console::task_print(task.id(), text);
    Ok(Reply::value(len as u64))
}
// ANCHOR_END: buffer

/// `ListPool(pool)`: one entry per occupied slot into the task buffer.
fn list_pool(task: &ManagedArc<Task>, root: &ManagedArc<CPool>, address: CAddr) -> Result<Reply, Error> {
    let pool = cpool::lookup_object::<CPool>(root, address)?;
    let (_page, bytes) = task.buffer().ok_or(Error::NoBuffer)?;
    let mut count = 0;
    for ((index, slot), chunk) in cpool::list(&pool).zip(bytes.chunks_exact_mut(ListEntry::SIZE)) {
        let Ok(object) = slot.upgrade::<AnyObject>() else { continue };
        let info = object.info();
        let entry = ListEntry { slot: index, kind: info.kind.code() as u8, detail: info.detail };
        chunk.copy_from_slice(&entry.encode());
        count += 1;
    }
    debug_assert!(count * ListEntry::SIZE <= TASK_BUFFER_SIZE);
    Ok(Reply::value(count as u64))
}

// ANCHOR: task_calls
/// `TaskSet(task, field, value)`: configures a task that is not running.
fn task_set(
    root: &ManagedArc<CPool>,
    task: &ManagedArc<Task>,
    field: TaskField,
    value: u64,
) -> Result<Reply, Error> {
    if matches!(
        task.run_state(),
        TaskState::Ready | TaskState::Running | TaskState::Blocked | TaskState::Suspended(_)
    ) {
        return Err(Error::InUse);
    }
    let (slot, kind): (&Slot, ObjectKind) = match field {
        TaskField::Stack | TaskField::Instruction => {
            if !is_user_address(value) {
                return Err(Error::NotUserAddress);
            }
            match field {
                TaskField::Stack => task.set_stack(value),
                _ => task.set_entry(value),
            }
            return Ok(Reply::value(0));
        }
        TaskField::CPool => (task.cpool_slot(), ObjectKind::CPool),
        TaskField::Table => (task.table_slot(), ObjectKind::Pml4),
        TaskField::Buffer => (task.buffer_slot(), ObjectKind::RawPage),
        TaskField::FaultChannel => (task.fault_channel_slot(), ObjectKind::Channel),
    };
    let address = CAddr::from_raw(value).map_err(|_| Error::MalformedAddress)?;
    let object = cpool::lookup_object::<AnyObject>(root, address)?;
    if object.kind() != kind {
        return Err(Error::WrongKind);
    }
    slot.clear();
    slot.downgrade(&object).expect("the slot was just cleared");
    Ok(Reply::value(0))
}

/// `TaskStart(task)`: a configured task joins the run queue.
fn task_start(task: &ManagedArc<Task>) -> Result<Reply, Error> {
    if matches!(
        task.run_state(),
        TaskState::Ready | TaskState::Running | TaskState::Blocked | TaskState::Suspended(_)
    ) {
        return Err(Error::InUse);
    }
    if !task.has_entry() || task.cpool_slot().is_empty() || task.table_slot().is_empty() {
        return Err(Error::NotConfigured);
    }
    make_ready(task);
    Ok(Reply::value(0))
}

/// `TaskStop(task)`: the task leaves the run queue (or the CPU, if it is
/// the caller) and becomes inactive.
fn task_stop(caller: &ManagedArc<Task>, task: &ManagedArc<Task>) -> Result<Reply, Error> {
    make_inactive(task);
    match task.same_object(caller) {
        true => Ok(Reply::then(Next::Other)),
        false => Ok(Reply::value(0)),
    }
}
// ANCHOR_END: task_calls

// ANCHOR: channel_calls
/// `ChannelPut(channel, kind, value)`: a number, the first `value` bytes
/// of the task buffer, or (a copy of) the capability at address `value`.
fn channel_put(
    args: &SyscallArgs,
    task: &ManagedArc<Task>,
    root: &ManagedArc<CPool>,
) -> Result<Reply, Error> {
    put_message(args, task, root)?;
    Ok(Reply::value(0))
}

/// The put of `ChannelPut` and of `ChannelCall`, whose first three
/// arguments are the same: the channel, the message's kind, its value.
fn put_message(args: &SyscallArgs, task: &ManagedArc<Task>, root: &ManagedArc<CPool>) -> Result<(), Error> {
    let channel = cpool::lookup_object::<Channel>(root, args.caddr(0)?)?;
    let kind = MessageKind::try_from(args.arg(1)).map_err(|_| Error::OutOfRange)?;
    let value = args.arg(2);
    match kind {
        MessageKind::Raw => channel.put(Outgoing::Raw(value))?,
        MessageKind::Payload => {
            let len =
                usize::try_from(value).ok().filter(|&len| len <= MAX_PAYLOAD).ok_or(Error::BufferTooLong)?;
            let (_page, bytes) = task.buffer().ok_or(Error::NoBuffer)?;
            channel.put(Outgoing::Payload(&bytes[..len]))?;
        }
        MessageKind::Capability => {
            let address = CAddr::from_raw(value).map_err(|_| Error::MalformedAddress)?;
            let found = cpool::lookup(root, address)?;
            channel.put(Outgoing::Capability(found.slot()))?;
        }
        // Only the kernel reports faults (`faults.rs`) and interrupts
        // (`objects/irq_line.rs`).
        MessageKind::Fault | MessageKind::Interrupt => return Err(Error::OutOfRange),
    }
    Ok(())
}

/// `ChannelTake(channel, destination)`: the oldest message, or the task
/// blocks until there is one. The message's kind goes back in `rsi`.
fn channel_take(
    args: &SyscallArgs,
    task: &ManagedArc<Task>,
    root: &ManagedArc<CPool>,
) -> Result<Reply, Error> {
    let channel = cpool::lookup_object::<Channel>(root, args.caddr(0)?)?;
    Ok(take_message(&channel, task, args.arg(1)))
}

/// The take of `ChannelTake` and of `ChannelCall`: the oldest message of
/// `channel` for `task` (a capability into its slot `destination`), or
/// the task waits in the channel's queue of takers.
fn take_message(channel: &ManagedArc<Channel>, task: &ManagedArc<Task>, destination: u64) -> Reply {
    match channel.take(task, destination) {
        Some(answer) => {
            task.set_take_answer(answer);
            Reply::answered(Next::Caller)
        }
        None => {
            channel.wait(task);
            Reply::answered(Next::Other)
        }
    }
}
// ANCHOR_END: channel_calls

// ANCHOR: channel_call
/// `ChannelCall(put_on, kind, value, take_from, destination)`: a put on
/// `put_on`, then a take from `take_from`, in one system call. The
/// channel to take from is looked up first, so that a refused call
/// (either channel missing, or the put refused) has changed nothing; once
/// the put is done, the take half answers as `ChannelTake` would, or the
/// caller waits for the reply.
///
/// Unlike seL4, where a server's `ReplyRecv` answers through a one-time
/// reply capability that `Call` made, a reply here is an ordinary
/// message on a channel the client takes from. So the client's call
/// (put the request, take the reply) and the server's answer (put the
/// reply, take the next request) are the same operation, with the
/// channels the other way round: one system call serves both, and
/// `ulib` names it both ways (`call`, `reply_and_take`).
fn channel_call(
    args: &SyscallArgs,
    task: &ManagedArc<Task>,
    root: &ManagedArc<CPool>,
) -> Result<Reply, Error> {
    let take_from = cpool::lookup_object::<Channel>(root, args.caddr(3)?)?;
    put_message(args, task, root)?;
    Ok(take_message(&take_from, task, args.arg(4)))
}
// ANCHOR_END: channel_call

// ANCHOR: errors
impl From<CapError> for Error {
    fn from(error: CapError) -> Error {
        match error {
            CapError::Lookup(_, LookupError::Empty { .. }) => Error::EmptySlot,
            CapError::Lookup(_, LookupError::WrongKind { .. }) => Error::WrongKind,
            CapError::Occupied(_) => Error::SlotOccupied,
            CapError::Retype(RetypeError::OutOfMemory { .. }) => Error::OutOfMemory,
            CapError::Retype(RetypeError::NotRetypable(_)) => Error::NotRetypable,
            CapError::Retype(RetypeError::InvalidSize { .. }) => Error::OutOfRange,
            CapError::Revoke(RevokeError::InUse { .. }) => Error::InUse,
        }
    }
}

impl From<MapError> for Error {
    fn from(error: MapError) -> Error {
        match error {
            MapError::NotAnAddressSpace(_) | MapError::NotMappable(_) => Error::WrongKind,
            MapError::Paging(error) => match error {
                PagingError::AlreadyMapped | PagingError::SlotOccupied { .. } | PagingError::LargePage(_) => {
                    Error::AlreadyMapped
                }
                PagingError::MissingLevel(_) | PagingError::TableNotMapped(_) | PagingError::NotMapped => {
                    Error::MissingTable
                }
                PagingError::KernelHalf(_) | PagingError::NonCanonical(_) => Error::NotUserAddress,
                PagingError::Misaligned(_) => Error::Misaligned,
                PagingError::IndexOutOfRange(_) => Error::OutOfRange,
            },
        }
    }
}
// ANCHOR_END: errors
