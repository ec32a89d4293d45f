//! The child task: the same program as the shell, in the same address
//! space, on its own stack and with its own task buffer. It waits on
//! channel 255, prints each message it receives (the lines are
//! `rinit::received`'s) and answers it on the shell's reply channel
//! (`abi::task_root::REPLY`, `rinit::call`):
//!
//! ```text
//! Received from master: 5
//! Received from master: a capability, put in slot 248
//! Received from master: 11 bytes: "hello child"
//! ```
//!
//! How it starts: [`prepare`] maps the spare buffer page (root slot 250)
//! at `abi::CHILD_TASK_BUFFER` in the shared address space and readies the
//! child's stack with `ulib::task::prepare`. The entry printed at boot is
//! `ulib::task::task_entry`, a small assembly stub that takes [`main`] from
//! the top of that stack and calls it; `ulib` finds the child's task
//! buffer from its stack pointer, so the child's `println!` prints through
//! its own buffer, not the shell's.

use abi::syscall::{ListEntry, MAX_PAYLOAD, MapRights, MessageKind};
use abi::task_root::{CHANNEL, CPOOL, FIRST_FREE, PML4, REPLY, SPARE_BUFFER, UNTYPED};
use abi::{CAddr, CHILD_TASK_BUFFER, Error, ObjectKind};
use rinit::commands::Child;
use rinit::received::{Received, highest_free_slot};
use ulib::io::TaskBuffer;
use ulib::println;
use ulib::syscall::{channel_call, channel_take, delete, list_pool, map_page, map_table, retype, yield_now};
use ulib::task::{self, Stack};

// ANCHOR: child_stack
/// The child's stack: in `.stacks`, above a page the loader leaves
/// unmapped, so an overflow faults instead of corrupting data.
#[unsafe(link_section = ".stacks")]
static CHILD_STACK: Stack<{ 16 * 4096 }> = Stack::new();
// ANCHOR_END: child_stack

// ANCHOR: prepare
/// Maps the child's task buffer and readies its stack; returns where
/// the child starts. Called once, before the shell starts any task.
pub fn prepare() -> Child {
    if let Err(error) = map_child_buffer() {
        println!("rinit: could not map the child's task buffer at {CHILD_TASK_BUFFER:#x}: {error}");
    }
    // SAFETY: no Rust data lives at CHILD_TASK_BUFFER, which the ABI
    // keeps for the child's buffer: either the spare buffer page is now
    // mapped there, writable, or nothing is, and the child's first
    // print faults and the kernel stops it. This runs once, before any
    // task can run on CHILD_STACK.
    let start = unsafe { task::prepare(&CHILD_STACK, CHILD_TASK_BUFFER, main) }
        .expect("the first and only task registered");
    Child { entry: start.instruction_pointer, stack_pointer: start.stack_pointer }
}
// ANCHOR_END: prepare

/// Maps the spare buffer page at [`CHILD_TASK_BUFFER`] in the address
/// space rinit and the child share, with the page tables it needs.
fn map_child_buffer() -> Result<(), Error> {
    let (page, pml4) = (CAddr::root(SPARE_BUFFER), CAddr::root(PML4));
    match map_page(page, pml4, CHILD_TASK_BUFFER, MapRights::WRITABLE) {
        Err(Error::MissingTable) => {}
        result => return result.map(drop),
    }
    // A table per level, top down, where none is yet: the kernel
    // refuses one where one is (AlreadyMapped), and that one goes again.
    for kind in [ObjectKind::Pdpt, ObjectKind::Pd, ObjectKind::Pt] {
        let slot = lowest_free_slot()?;
        retype(CAddr::root(UNTYPED), kind, slot, 0)?;
        match map_table(slot, pml4, CHILD_TASK_BUFFER) {
            Ok(_) => println!("rinit: made a {kind} in slot {slot} for the child's task buffer"),
            Err(Error::AlreadyMapped) => drop(delete(slot)?),
            Err(error) => return Err(error),
        }
    }
    map_page(page, pml4, CHILD_TASK_BUFFER, MapRights::WRITABLE).map(drop)
}

/// The lowest empty slot from `FIRST_FREE` on.
fn lowest_free_slot() -> Result<CAddr, Error> {
    let mut entries = [ListEntry { slot: 0, kind: 0, detail: 0 }; ListEntry::MAX];
    let entries = list_pool(CAddr::root(CPOOL), &mut entries)?;
    (FIRST_FREE..=u8::MAX)
        .find(|&slot| entries.iter().all(|entry| entry.slot != slot))
        .map(CAddr::root)
        .ok_or(Error::SlotOccupied)
}

// ANCHOR: main
/// The child's life: take a message from channel 255, print it, answer
/// it on the shell's reply channel, again. The answer and the wait for
/// the next message are one system call (`ChannelCall`, a server's
/// reply-and-take): the shell, which waits for the answer (`rinit::call`),
/// goes on once the line is printed.
pub fn main() -> Result<(), Error> {
    let mut entries = [ListEntry { slot: 0, kind: 0, detail: 0 }; ListEntry::MAX];
    let mut payload = [0; MAX_PAYLOAD];
    let mut warned = false;
    // Whether the last message taken is still to be answered.
    let mut to_answer = false;
    loop {
        let listed = list_pool(CAddr::root(CPOOL), &mut entries)?;
        // With no empty slot, a capability cannot be taken (the kernel
        // keeps it queued); numbers and bytes still can.
        let destination = match highest_free_slot(listed, SPARE_BUFFER) {
            Some(slot) => CAddr::root(slot),
            None => {
                if !core::mem::replace(&mut warned, true) {
                    println!("child: no empty slot below {SPARE_BUFFER} for a capability");
                }
                CAddr::root(CPOOL)
            }
        };
        let taken = match core::mem::take(&mut to_answer) {
            true => answer_and_take(destination),
            false => channel_take(CAddr::root(CHANNEL), destination),
        };
        match taken {
            Ok((kind, value)) => {
                let len = usize::try_from(value).unwrap_or(usize::MAX).min(MAX_PAYLOAD);
                let bytes = match kind {
                    MessageKind::Payload => {
                        TaskBuffer::current().read(0, &mut payload[..len]);
                        &payload[..len]
                    }
                    _ => &[],
                };
                println!("{}", Received { kind, value, payload: bytes });
                to_answer = true;
            }
            // The slot filled between the listing and the take (the
            // shell runs too): list again.
            Err(Error::SlotOccupied) => drop(yield_now()),
            // The child was stopped while it waited (`set active 249 0`),
            // which cancels the take, and started again: take again.
            Err(Error::ChannelEmpty) => {}
            Err(error) => {
                println!("child: taking from channel {CHANNEL} failed: {error}");
                return Err(error);
            }
        }
    }
}

/// Answers the last message on the reply channel and takes the next from
/// channel 255, in one call. Without a reply channel (a child configured
/// by hand, `set ...` as in the walkthrough: only `start child` makes one)
/// or with one full (the shell takes the answers only when it waits for
/// one), the answer is dropped and the child only takes: a refused put
/// has taken nothing.
fn answer_and_take(destination: CAddr) -> Result<(MessageKind, u64), Error> {
    let (reply, channel) = (CAddr::root(REPLY), CAddr::root(CHANNEL));
    match channel_call(reply, MessageKind::Raw, 0, channel, destination) {
        Err(Error::EmptySlot | Error::WrongKind | Error::ChannelFull) => channel_take(channel, destination),
        taken => taken,
    }
}
// ANCHOR_END: main
