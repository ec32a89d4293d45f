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

use crate::objects::cpool::{self, CapError, LookupError};
use crate::objects::mapping::{self, MapError};
use crate::objects::task::{TaskState, make_inactive, make_ready};
use crate::objects::untyped::RevokeError;
use crate::objects::weak::Slot;
use crate::objects::{AnyObject, CPool, ManagedArc, ObjectKind, RetypeError, Task};
use crate::paging::{PagingError, Rights};
use abi::syscall::{ListEntry, MapRights, SyscallArgs, TASK_BUFFER_SIZE, TaskField};
use abi::{CAddr, Call, Error};
use common::user::is_user_address;

// ANCHOR: next
/// What runs after a system call: the call's handler decides, once, and
/// says so in its [`Reply`] (after Hubris's `NextTask`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// The caller runs on.
    Caller,
    /// Another task: the caller yielded (it goes to the back of the run
    /// queue) or stopped itself.
    Other,
    /// The caller ended with this code.
    Exit(u64),
}

/// What a call's handler returns when the call is not refused: the value
/// for the caller, and what runs next. A refused call returns its error
/// instead, and the caller runs on.
pub struct Reply {
    value: u64,
    next: Next,
}

impl Reply {
    /// The call returns `value`, and the caller runs on.
    fn value(value: u64) -> Self {
        Self { value, next: Next::Caller }
    }

    /// The call returns 0, and `next` runs.
    fn then(next: Next) -> Self {
        Self { value: 0, next }
    }
}
// ANCHOR_END: next

// ANCHOR: handle
/// Handles the system call `task` just made, with its root pool `root`:
/// decodes its number, runs its handler, leaves the result in its
/// registers, and says what runs next.
pub fn handle(task: &ManagedArc<Task>, root: &ManagedArc<CPool>) -> Next {
    let args = task.call();
    match args.call().and_then(|call| act(call, &args, task, root)) {
        Ok(Reply { value, next }) => {
            task.set_result(Ok(value));
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
        // The calls later stages add are unknown to this kernel.
        _ => Err(Error::UnknownCall),
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
    // On the console, not on the kernel's own channel: see `console`.
    common::console::print_from_task(text);
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
    if matches!(task.run_state(), TaskState::Ready | TaskState::Running) {
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
        // Fault channels arrive in stage 6.
        TaskField::FaultChannel => return Err(Error::OutOfRange),
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
    if matches!(task.run_state(), TaskState::Ready | TaskState::Running) {
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
