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
//! `ulib`, and one arm in `dispatch` calling a function here.

use crate::objects::channel::{Channel, Outgoing};
use crate::objects::cpool::{self, CapError, LookupError};
use crate::objects::mapping::{self, MapError};
use crate::objects::task::TaskState;
use crate::objects::untyped::RevokeError;
use crate::objects::weak::Slot;
use crate::objects::{AnyObject, CPool, ManagedArc, ObjectKind, ObjectType, RetypeError, Task};
use crate::paging::{PagingError, Rights};
use crate::scheduler;
use abi::syscall::{
    ListEntry, MAX_PAYLOAD, MapRights, MessageKind, SyscallArgs, TASK_BUFFER_SIZE, TaskField,
};
use abi::{CAddr, Call, Error};
use common::user::is_user_address;

/// What the scheduler does after a system call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum After {
    /// Return to the same task.
    Continue,
    /// Return to the same task, once the scheduler has checked that it
    /// still has its root pool and page table: the call destroyed objects
    /// or changed a task's slots ([`may_change_objects`]).
    Recheck,
    /// Let the other ready tasks run first.
    Yield,
    /// The task stopped itself (`TaskStop` on itself).
    Stopped,
    /// The task ended with this code.
    Exit(u64),
    /// The task waits in a channel's queue of takers.
    Blocked,
}

// ANCHOR: handle
/// Handles the system call `task` just made, with its root pool `root`,
/// and leaves the result in its registers.
///
/// The null call (`Nop`) is answered here: it has nothing to decode, look
/// up or do, so its cost is the way in and out alone. (A small function
/// the compiler can inline into the scheduler's loop; every other call
/// goes on to [`handle_call`].)
#[inline]
pub fn handle(task: &ManagedArc<Task>, root: &ManagedArc<CPool>) -> After {
    {
        // SAFETY: the task is not running; this is the only reference.
        let frame = &mut unsafe { task.context() }.frame;
        if frame.rax == Call::Nop as u64 {
            crate::phases::follow(true, frame.rdi, frame.rsi);
            crate::phases::mark(crate::phases::Mark::Decoded);
            crate::phases::mark(crate::phases::Mark::Acted);
            (frame.rax, frame.rdx) = abi::syscall::encode_result(Ok(0));
            crate::phases::mark(crate::phases::Mark::Answered);
            return After::Continue;
        }
    }
    handle_call(task, root)
}

/// Handles every call but `Nop`: decodes its number and arguments, runs
/// it, and leaves its result in the task's registers.
#[inline(never)]
fn handle_call(task: &ManagedArc<Task>, root: &ManagedArc<CPool>) -> After {
    crate::phases::follow(false, 0, 0);
    let args = {
        // SAFETY: the task is not running; this is the only reference.
        let frame = &unsafe { task.context() }.frame;
        SyscallArgs {
            number: frame.rax,
            args: [frame.rdi, frame.rsi, frame.rdx, frame.r10, frame.r8, frame.r9],
        }
    };
    let (result, after) = match args.call() {
        Ok(call) => dispatch(call, &args, task, root),
        Err(error) => (Err(error), After::Continue),
    };
    if after == After::Blocked {
        // The put that wakes it writes its result.
        return after;
    }
    let (rax, rdx) = abi::syscall::encode_result(result);
    // SAFETY: as above; `dispatch` is done with the task's context.
    let frame = &mut unsafe { task.context() }.frame;
    frame.rax = rax;
    frame.rdx = rdx;
    after
}
// ANCHOR_END: handle

// ANCHOR: dispatch
/// Runs one call, and says what the scheduler does next.
fn dispatch(
    call: Call,
    args: &SyscallArgs,
    task: &ManagedArc<Task>,
    root: &ManagedArc<CPool>,
) -> (Result<u64, Error>, After) {
    if call == Call::ChannelTake {
        return channel_take(args, task, root);
    }
    let result = act(call, args, task, root);
    let after = match call {
        Call::Yield => After::Yield,
        Call::Exit => After::Exit(args.arg(0)),
        // A task that stopped itself leaves the CPU.
        Call::TaskStop if task.run_state() == TaskState::Inactive => After::Stopped,
        call if result.is_ok() && may_change_objects(call) => After::Recheck,
        _ => After::Continue,
    };
    (result, after)
}

/// Whether `call` may destroy objects or change what a task runs with
/// (its slots): after one, the scheduler checks that the caller still
/// has its root pool and page table before it runs it again (a refused
/// call changed nothing, and needs no check).
pub fn may_change_objects(call: Call) -> bool {
    matches!(call, Call::Move | Call::Delete | Call::Revoke | Call::TaskSet | Call::TaskStop)
}

/// Each arm decodes the call's arguments, then calls the function that
/// checks and acts.
fn act(
    call: Call,
    args: &SyscallArgs,
    task: &ManagedArc<Task>,
    root: &ManagedArc<CPool>,
) -> Result<u64, Error> {
    match call {
        Call::Print => print_buffer(task, args.buffer_len(0)?),
        Call::Yield | Call::Exit | Call::Nop => Ok(0),
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
            let (table, space) =
                (find::<AnyObject>(root, args.caddr(0)?)?, find::<AnyObject>(root, args.caddr(1)?)?);
            done(mapping::map_table(&space, &table, args.arg(2)))
        }
        Call::MapPage => {
            let rights = page_rights(args.rights(3)?);
            let (page, space) =
                (find::<AnyObject>(root, args.caddr(0)?)?, find::<AnyObject>(root, args.caddr(1)?)?);
            done(mapping::map_page(&space, &page, args.arg(2), rights))
        }
        Call::TaskSet => {
            let (target, field) = (find::<Task>(root, args.caddr(0)?)?, args.task_field(1)?);
            task_set(root, &target, field, args.arg(2))
        }
        Call::TaskStart => task_start(&find::<Task>(root, args.caddr(0)?)?),
        Call::TaskStop => task_stop(&find::<Task>(root, args.caddr(0)?)?),
        Call::ChannelPut => channel_put(args, task, root),
        Call::Audit => match scheduler::audit() {
            Ok(report) => Ok(report.objects as u64),
            Err(error) if error.is_too_many() => Err(Error::NotAudited),
            Err(_) => Err(Error::AuditFailed),
        },
        Call::ChannelTake => unreachable!("dispatched apart: it may block"),
    }
}
// ANCHOR_END: dispatch

/// A call that returns no value: 0 on success.
fn done<E: Into<Error>>(result: Result<(), E>) -> Result<u64, Error> {
    result.map(|()| 0).map_err(Into::into)
}

/// The object of type `T` (`AnyObject`: any kind) that `address` names
/// in `root`.
fn find<T: ObjectType>(root: &ManagedArc<CPool>, address: CAddr) -> Result<ManagedArc<T>, Error> {
    Ok(cpool::find_object(root, address)?)
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
fn print_buffer(task: &ManagedArc<Task>, len: usize) -> Result<u64, Error> {
    let (_page, bytes) = task.buffer().ok_or(Error::NoBuffer)?;
    let text = core::str::from_utf8(&bytes[..len]).map_err(|_| Error::InvalidUtf8)?;
    // On the console, not on the kernel's own channel: see `console`.
    common::console::print_from_task(text);
    Ok(len as u64)
}
// ANCHOR_END: buffer

/// `ListPool(pool)`: one entry per occupied slot into the task buffer.
fn list_pool(task: &ManagedArc<Task>, root: &ManagedArc<CPool>, address: CAddr) -> Result<u64, Error> {
    let pool = find::<CPool>(root, address)?;
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
    Ok(count as u64)
}

// ANCHOR: task_calls
/// `TaskSet(task, field, value)`: configures a task that is not running.
fn task_set(
    root: &ManagedArc<CPool>,
    task: &ManagedArc<Task>,
    field: TaskField,
    value: u64,
) -> Result<u64, Error> {
    if matches!(task.run_state(), TaskState::Ready | TaskState::Running | TaskState::Blocked) {
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
            return Ok(0);
        }
        TaskField::CPool => (task.cpool_slot(), ObjectKind::CPool),
        TaskField::Table => (task.table_slot(), ObjectKind::Pml4),
        TaskField::Buffer => (task.buffer_slot(), ObjectKind::RawPage),
    };
    let address = CAddr::from_raw(value).map_err(|_| Error::MalformedAddress)?;
    let object = find::<AnyObject>(root, address)?;
    if object.kind() != kind {
        return Err(Error::WrongKind);
    }
    slot.clear();
    slot.downgrade(&object).expect("the slot was just cleared");
    Ok(0)
}

/// `TaskStart(task)`: a configured task joins the run queue.
fn task_start(task: &ManagedArc<Task>) -> Result<u64, Error> {
    if matches!(task.run_state(), TaskState::Ready | TaskState::Running | TaskState::Blocked) {
        return Err(Error::InUse);
    }
    if !task.has_entry() || task.cpool_slot().is_empty() || task.table_slot().is_empty() {
        return Err(Error::NotConfigured);
    }
    scheduler::make_ready(task);
    Ok(0)
}

/// `TaskStop(task)`: the task leaves the run queue (or the CPU, if it is
/// the caller) and becomes inactive.
fn task_stop(task: &ManagedArc<Task>) -> Result<u64, Error> {
    scheduler::make_inactive(task);
    Ok(0)
}
// ANCHOR_END: task_calls

// ANCHOR: channel_calls
/// `ChannelPut(channel, kind, value)`: a number, the first `value` bytes
/// of the task buffer, or (a copy of) the capability at address `value`.
fn channel_put(args: &SyscallArgs, task: &ManagedArc<Task>, root: &ManagedArc<CPool>) -> Result<u64, Error> {
    let channel = find::<Channel>(root, args.caddr(0)?)?;
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
            let found = cpool::find(root, address)?;
            channel.put(Outgoing::Capability(found.slot()))?;
        }
    }
    Ok(0)
}

/// `ChannelTake(channel, destination)`: the oldest message, or the task
/// blocks until there is one. The message's kind goes back in `rsi`.
fn channel_take(
    args: &SyscallArgs,
    task: &ManagedArc<Task>,
    root: &ManagedArc<CPool>,
) -> (Result<u64, Error>, After) {
    let channel = match args.caddr(0).and_then(|address| find::<Channel>(root, address)) {
        Ok(channel) => channel,
        Err(error) => return (Err(error), After::Continue),
    };
    match channel.take(task, args.arg(1)) {
        Some(result) => {
            // SAFETY: the task is not running; this is the only reference.
            unsafe { task.context() }.frame.rsi = result.map_or(0, |(kind, _)| kind as u64);
            (result.map(|(_, value)| value), After::Continue)
        }
        None => {
            channel.wait(task);
            (Ok(0), After::Blocked)
        }
    }
}
// ANCHOR_END: channel_calls

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
