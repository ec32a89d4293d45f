//! The shell's [`System`] on the real kernel: each method is the `ulib`
//! wrapper of one system call. Left out of host tests, which use the
//! model kernel instead.

use abi::syscall::{ListEntry, MessageKind, TaskField};
use abi::task_root::INPUT;
use abi::{CAddr, Error, ObjectKind};
use core::fmt;
use rinit::drivers::Driver;
use rinit::system::{Message, System};
use ulib::syscall;

/// The kernel, through `ulib`.
pub struct Kernel;

impl System for Kernel {
    fn print(&mut self, text: fmt::Arguments) {
        ulib::io::print_fmt(text);
    }

    // ANCHOR: take_input
    fn take_input(&mut self) -> Result<u64, Error> {
        loop {
            // Only the kernel puts on the input channel, and only numbers:
            // no capability ever needs the destination, so the channel's own
            // (occupied) slot will do.
            match syscall::channel_take(CAddr::root(INPUT), CAddr::root(INPUT))? {
                (MessageKind::Raw, value) => return Ok(value),
                _ => continue,
            }
        }
    }
    // ANCHOR_END: take_input

    fn list_pool(&mut self, pool: CAddr, entries: &mut [ListEntry; ListEntry::MAX]) -> Result<usize, Error> {
        syscall::list_pool(pool, entries).map(<[ListEntry]>::len)
    }

    fn retype(&mut self, untyped: CAddr, kind: ObjectKind, destination: CAddr) -> Result<(), Error> {
        syscall::retype(untyped, kind, destination, 0).map(drop)
    }

    fn revoke(&mut self, untyped: CAddr) -> Result<(), Error> {
        syscall::revoke(untyped).map(drop)
    }

    fn task_set(&mut self, task: CAddr, field: TaskField, value: u64) -> Result<(), Error> {
        syscall::task_set(task, field, value).map(drop)
    }

    fn task_start(&mut self, task: CAddr) -> Result<(), Error> {
        // SAFETY: **teaching shortcut.** The shell starts whatever task its
        // user configured, as the walkthrough of the shell's reference (book/src/shell.md) asks. Configured
        // as printed at boot (or by `start child`), the task is the child:
        // its own stack and task buffer, nothing shared with the shell but
        // channel 255. Configured with other values, a task in this address
        // space may well break the shell, as a wild thread would; the
        // kernel stops a task that faults, and other address spaces are
        // out of its reach. A program GRUB loaded (`run`) has an address
        // space of its own: it shares no memory with the shell at all.
        unsafe { syscall::task_start(task) }.map(drop)
    }

    fn task_stop(&mut self, task: CAddr) -> Result<(), Error> {
        syscall::task_stop(task).map(drop)
    }

    fn channel_put(&mut self, channel: CAddr, message: Message) -> Result<(), Error> {
        match message {
            Message::Raw(value) => syscall::channel_put(channel, MessageKind::Raw, value),
            Message::Payload(bytes) => syscall::channel_put_payload(channel, bytes),
            Message::Capability(slot) => {
                syscall::channel_put(channel, MessageKind::Capability, slot.to_raw())
            }
        }
        .map(drop)
    }

    fn attach_pager(&mut self, program: CAddr, pager: CAddr) -> Result<(), Error> {
        crate::pager_setup::attach(program, pager)
    }

    fn start_driver(&mut self, task: CAddr, driver: &Driver) -> Result<(), Error> {
        crate::driver_setup::start(task, driver)
    }

    fn yield_now(&mut self) {
        // Yield cannot fail; if it did, not yielding is harmless.
        let _ = syscall::yield_now();
    }

    fn exit(&mut self, code: u64) {
        syscall::exit(code)
    }
}
