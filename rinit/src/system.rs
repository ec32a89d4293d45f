//! What the shell asks of the kernel, as a trait: the system calls it makes
//! and the console it prints on.
//!
//! The shell's code ([`crate::shell`], [`crate::commands`]) only talks to
//! a [`System`], so it runs unchanged on the real kernel (`syscalls.rs`,
//! through `ulib`) and in the host tests, against a small model of the
//! kernel (`model.rs`) that refuses what the kernel refuses.

use crate::drivers::Driver;
use abi::syscall::{ListEntry, TaskField};
use abi::{CAddr, Error, ObjectKind};
use core::fmt;

/// A message to put on a channel (see `abi::syscall::MessageKind`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Message<'a> {
    /// A number.
    Raw(u64),
    /// Bytes (at most `abi::syscall::MAX_PAYLOAD`), copied through the task
    /// buffer.
    Payload(&'a [u8]),
    /// A copy of the capability in this slot of the sender's pool.
    Capability(CAddr),
}

// ANCHOR: system
/// The kernel, as the shell sees it. Each method is one system call (see
/// `abi::syscall::Call`), on capability addresses in the calling task's
/// root pool.
pub trait System {
    /// Prints text on the console (VGA and serial).
    fn print(&mut self, text: fmt::Arguments);
    /// Takes the next message of the input channel, waiting for one.
    fn take_input(&mut self) -> Result<u64, Error>;
    /// Lists the occupied slots of `pool` into `entries`; returns how many.
    fn list_pool(&mut self, pool: CAddr, entries: &mut [ListEntry; ListEntry::MAX]) -> Result<usize, Error>;
    /// Makes a new `kind` object in the empty slot `destination` out of
    /// the untyped memory in `untyped`.
    fn retype(&mut self, untyped: CAddr, kind: ObjectKind, destination: CAddr) -> Result<(), Error>;
    /// Destroys every object made from the untyped in `untyped`.
    fn revoke(&mut self, untyped: CAddr) -> Result<(), Error>;
    /// Sets one field of the task in `task`.
    fn task_set(&mut self, task: CAddr, field: TaskField, value: u64) -> Result<(), Error>;
    /// Starts the configured task in `task`.
    fn task_start(&mut self, task: CAddr) -> Result<(), Error>;
    /// Stops the task in `task`.
    fn task_stop(&mut self, task: CAddr) -> Result<(), Error>;
    /// Puts `message` on the channel in `channel` (never waits: a full
    /// channel is an error).
    fn channel_put(&mut self, channel: CAddr, message: Message) -> Result<(), Error>;
    /// Gives the program task in `program` a fault channel, and starts the
    /// pager program in `pager` to serve it (`ulib::pager`): several calls,
    /// behind one method. `InUse` if either is running.
    fn attach_pager(&mut self, program: CAddr, pager: CAddr) -> Result<(), Error>;
    /// Starts the driver program in `task` with fresh capabilities for
    /// `driver`'s line and ports (`ulib::driver` is the protocol): revokes
    /// what its last run held, derives its IrqLine and PortRange from the
    /// kernel's devices pool, makes its channels, starts it, hands it all
    /// on channel 255 and waits until it holds them. Several calls, behind
    /// one method.
    fn start_driver(&mut self, task: CAddr, driver: &Driver) -> Result<(), Error>;
    /// Lets the other ready tasks run first.
    fn yield_now(&mut self);
    /// Ends this task; the first task's end stops the machine.
    fn exit(&mut self, code: u64);
}
// ANCHOR_END: system

/// Prints a formatted line on a [`System`]: `say!(sys, "slot {slot}")`.
macro_rules! say {
    ($system:expr, $($arg:tt)*) => {
        $system.print(format_args!("{}\n", format_args!($($arg)*)))
    };
}
pub(crate) use say;
