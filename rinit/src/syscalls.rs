//! The shell's [`System`] on the real kernel: each method is the `ulib`
//! wrapper of one system call. Left out of host tests, which use the
//! model kernel instead.

use abi::fault::FaultMessage;
use abi::syscall::{ListEntry, MessageKind, TaskField};
use abi::task_root::INPUT;
use abi::{CAddr, Error, ObjectKind};
use core::fmt;
use rinit::commands::Failure;
use rinit::programs::Program;
use rinit::system::{Answer, LoadRefusal, Message, System};
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

    fn channel_call(
        &mut self,
        put_on: CAddr,
        message: Message,
        take_from: CAddr,
        destination: CAddr,
    ) -> Result<Answer, Error> {
        let (kind, value) = match message {
            Message::Raw(value) => (MessageKind::Raw, value),
            Message::Payload(bytes) => (MessageKind::Payload, syscall::stage_payload(bytes)?),
            Message::Capability(slot) => (MessageKind::Capability, slot.to_raw()),
        };
        answer(syscall::channel_call(put_on, kind, value, take_from, destination)?)
    }

    fn take_answer(&mut self, channel: CAddr, destination: CAddr) -> Result<Answer, Error> {
        answer(syscall::channel_take(channel, destination)?)
    }

    fn delete(&mut self, slot: CAddr) -> Result<(), Error> {
        syscall::delete(slot).map(drop)
    }

    fn load_program(&mut self, program: &Program, channel: CAddr) -> Result<(), LoadRefusal> {
        match crate::launch::load(program, channel) {
            Ok(_) => Ok(()),
            Err(ulib::loader::LoadError::StillRunning) => Err(LoadRefusal::StillRunning),
            Err(error) => Err(LoadRefusal::Failed(Failure::explained(format_args!(
                "cannot load {}: {error}",
                program.name()
            )))),
        }
    }

    fn attach_pager(&mut self, program: CAddr, pager: CAddr) -> Result<(), Error> {
        crate::pager_setup::attach(program, pager)
    }

    fn yield_now(&mut self) {
        // Yield cannot fail; if it did, not yielding is harmless.
        let _ = syscall::yield_now();
    }

    fn exit(&mut self, code: u64) {
        syscall::exit(code)
    }
}

/// A message of the reply channel, as the shell reads it: a fault's record
/// is in the task buffer, where the take copied it.
fn answer((kind, value): (MessageKind, u64)) -> Result<Answer, Error> {
    if kind != MessageKind::Fault {
        return Ok(Answer::Done);
    }
    let mut record = [0; FaultMessage::SIZE];
    ulib::io::TaskBuffer::current().read(0, &mut record);
    let taken = value != abi::syscall::REVOKED_IN_FLIGHT;
    Ok(Answer::Fault { record: FaultMessage::decode(&record), taken })
}
