//! Drivers in user space (stage 6): how rinit hands a driver its
//! capabilities, and the ring a driver keeps the bytes in that the input
//! channel cannot take yet. User space only: the kernel knows IrqLines,
//! PortRanges and channels, nothing of this protocol.
//!
//! A driver is a program GRUB loaded, like `hello`. rinit derives, out of
//! an untyped of its own for that driver, an IrqLine from the kernel's
//! (`abi::device`, the devices pool at root slot 251), a PortRange for the
//! device's ports, and a channel for the line's interrupts; then it puts
//! them on the one channel the program shares with it (root slot 255),
//! with a copy of the input channel and a reply channel, in the order of
//! [`HANDED`], starts the driver, and waits for [`READY`] on the reply
//! channel: from then on nothing else takes from 255 for the driver. (The
//! reply channel is the driver's to put on and rinit's to take from, so
//! neither can take its own message back.) Revoking the untyped destroys
//! the derived objects, the driver's copies with them: the line is masked
//! and unbound, the ports closed, whatever the driver does.
//!
//! (The same teaching shortcut as the pager's, `crate::pager`: channel 255
//! is also where the shell's child takes from, so rinit hands a driver
//! nothing while a child exists. A loader that fills a new program's pool
//! itself needs no such meeting place.)

use crate::syscall::{channel_put, channel_take, delete, list_pool};
use abi::syscall::input::{self, Source};
use abi::syscall::{ListEntry, MessageKind, REVOKED_IN_FLIGHT};
use abi::task_root::{CHANNEL, CPOOL};
use abi::{CAddr, Error, ObjectKind};

// ANCHOR: driver_protocol
/// The slots of a driver's root pool where its capabilities go: the input
/// channel (the same slot as in rinit's pool), the channel its line is
/// bound to, its IrqLine and its PortRange.
pub const INPUT: u8 = abi::task_root::INPUT;
/// The channel the driver's line puts its interrupts on.
pub const INTERRUPTS: u8 = 8;
/// The driver's IrqLine.
pub const IRQ: u8 = 9;
/// The driver's PortRange.
pub const PORTS: u8 = 10;
/// The channel the driver says [`READY`] on, once.
pub const REPLIES: u8 = 11;

/// What rinit puts on channel 255 for a driver, in order: the slot each
/// capability goes to in the driver's pool, and its kind.
pub const HANDED: [(u8, ObjectKind); 5] = [
    (IRQ, ObjectKind::IrqLine),
    (PORTS, ObjectKind::PortRange),
    (INTERRUPTS, ObjectKind::Channel),
    (INPUT, ObjectKind::Channel),
    (REPLIES, ObjectKind::Channel),
];

/// What a driver puts on its reply channel once it holds its
/// capabilities, before it binds its line; the next message there is the
/// address it starts over at ([`crate::start_over_address`]), where rinit
/// sets it back before it starts it again: a task stopped with `TaskStop`
/// would otherwise go on where it stopped, with capabilities revoked.
pub const READY: u64 = 0x0044_5256_5244; // "DRVRD" in ASCII
// ANCHOR_END: driver_protocol

/// Takes the driver's capabilities from channel 255 ([`HANDED`], in its
/// order). What a slot held before (a run before this
/// one) is deleted first. A message that is not the next capability of
/// the sequence (a number the shell sent before any child took it, a
/// capability of another kind) is dropped and the sequence starts again,
/// so the driver always ends with rinit's five, which come last. Then it
/// says [`READY`], and where it starts over.
pub fn receive_capabilities() -> Result<(), Error> {
    for (slot, _) in HANDED {
        match delete(CAddr::root(slot)) {
            Ok(_) | Err(Error::EmptySlot) => {}
            Err(error) => return Err(error),
        }
    }
    let mut next = 0;
    while next < HANDED.len() {
        let (slot, kind) = HANDED[next];
        let destination = CAddr::root(slot);
        next = match channel_take(CAddr::root(CHANNEL), destination)? {
            (MessageKind::Capability, value)
                if value != REVOKED_IN_FLIGHT && kind_in(slot)? == Some(kind) =>
            {
                next + 1
            }
            (MessageKind::Capability, value) if value != REVOKED_IN_FLIGHT => {
                delete(destination)?;
                0
            }
            _ => 0,
        };
    }
    channel_put(CAddr::root(REPLIES), MessageKind::Raw, READY)?;
    channel_put(CAddr::root(REPLIES), MessageKind::Raw, crate::start_over_address()).map(drop)
}

/// Puts `byte` from `source` on the input channel, encoded as the shell
/// reads it (`abi::syscall::input`). Never waits: a full channel is
/// [`Error::ChannelFull`], and the byte was not put.
pub fn put_input(source: Source, byte: u8) -> Result<(), Error> {
    channel_put(CAddr::root(INPUT), MessageKind::Raw, input::encode(source, byte)).map(drop)
}

/// Waits for the next interrupt of the driver's line: the next
/// [`MessageKind::Interrupt`] message on its interrupt channel (anything
/// else there is dropped: only rinit, which made the channel, could have
/// put it).
pub fn wait_for_interrupt() -> Result<(), Error> {
    loop {
        // An interrupt carries no capability: the destination stays empty,
        // and the channel's own slot, occupied, will do.
        let channel = CAddr::root(INTERRUPTS);
        if let (MessageKind::Interrupt, _line) = channel_take(channel, channel)? {
            return Ok(());
        }
    }
}

/// The kind of what `slot` of this task's root pool holds.
fn kind_in(slot: u8) -> Result<Option<ObjectKind>, Error> {
    let mut entries = [ListEntry { slot: 0, kind: 0, detail: 0 }; ListEntry::MAX];
    let listed = list_pool(CAddr::root(CPOOL), &mut entries)?;
    let entry = listed.iter().find(|entry| entry.slot == slot);
    Ok(entry.and_then(|entry| ObjectKind::try_from(u64::from(entry.kind)).ok()))
}

// ANCHOR: ring
/// A ring of bytes: what a driver has read from its device and not yet
/// put on the input channel. First in, first out; full, it takes nothing
/// more (the caller leaves the rest in the device).
pub struct Ring<const SIZE: usize> {
    bytes: [u8; SIZE],
    /// Where the oldest byte is.
    start: usize,
    len: usize,
}

impl<const SIZE: usize> Ring<SIZE> {
    /// An empty ring.
    pub const fn new() -> Self {
        Ring { bytes: [0; SIZE], start: 0, len: 0 }
    }

    pub const fn len(&self) -> usize {
        self.len
    }

    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub const fn is_full(&self) -> bool {
        self.len == SIZE
    }

    /// Adds `byte` at the back; `false` (and nothing added) if full.
    pub fn push(&mut self, byte: u8) -> bool {
        if self.is_full() {
            return false;
        }
        self.bytes[(self.start + self.len) % SIZE] = byte;
        self.len += 1;
        true
    }

    /// The oldest byte, left in the ring.
    pub fn front(&self) -> Option<u8> {
        (!self.is_empty()).then(|| self.bytes[self.start])
    }

    /// Removes the oldest byte.
    pub fn pop(&mut self) -> Option<u8> {
        let byte = self.front()?;
        self.start = (self.start + 1) % SIZE;
        self.len -= 1;
        Some(byte)
    }

    /// Hands the bytes to `put`, oldest first, until it refuses one (which
    /// stays, the oldest) or none are left; returns how many it took.
    pub fn drain_into<E>(&mut self, mut put: impl FnMut(u8) -> Result<(), E>) -> usize {
        let mut moved = 0;
        while let Some(byte) = self.front() {
            if put(byte).is_err() {
                break;
            }
            self.pop();
            moved += 1;
        }
        moved
    }
}
// ANCHOR_END: ring

impl<const SIZE: usize> Default for Ring<SIZE> {
    fn default() -> Self {
        Ring::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_ring_keeps_its_order_and_refuses_when_full() {
        let mut ring = Ring::<4>::new();
        assert!(ring.is_empty() && ring.front().is_none());
        for byte in 1..=4 {
            assert!(ring.push(byte));
        }
        assert!(ring.is_full() && !ring.push(5), "full: 5 stays in the device");
        assert_eq!(ring.pop(), Some(1));
        assert!(ring.push(5), "room again, past the end of the array");
        let mut out = Vec::new();
        assert_eq!(
            ring.drain_into(|byte| {
                out.push(byte);
                Ok::<_, ()>(())
            }),
            4
        );
        assert_eq!(out, [2, 3, 4, 5]);
        assert!(ring.is_empty());
    }

    #[test]
    fn a_refused_byte_stays_the_oldest() {
        let mut ring = Ring::<8>::new();
        for byte in b"abcdef" {
            ring.push(*byte);
        }
        let mut room = 2;
        let mut taken = Vec::new();
        let moved = ring.drain_into(|byte| match room {
            0 => Err("the channel is full"),
            _ => {
                room -= 1;
                taken.push(byte);
                Ok(())
            }
        });
        assert_eq!((moved, taken.as_slice()), (2, &b"ab"[..]));
        assert_eq!((ring.len(), ring.front()), (4, Some(b'c')));
    }

    #[test]
    fn the_protocol_hands_distinct_slots_past_the_kernels() {
        let slots: Vec<u8> = HANDED.iter().map(|&(slot, _)| slot).collect();
        assert_eq!(slots, [IRQ, PORTS, INTERRUPTS, INPUT, REPLIES]);
        for (index, slot) in slots.iter().enumerate() {
            assert!(!slots[index + 1..].contains(slot), "slot {slot} twice");
            assert!(*slot > abi::task_root::TASK_BUFFER, "slot {slot} is one the kernel fills");
        }
        assert_eq!(INPUT, abi::task_root::INPUT, "the same slot as in rinit's pool");
    }

    proptest! {
        /// Whatever the pushes and the refusals, the bytes come out in the
        /// order they went in, and none is lost or made up.
        #[test]
        fn bytes_come_out_in_order(steps in proptest::collection::vec((0u8..=255, 0usize..6), 0..200)) {
            let mut ring = Ring::<16>::new();
            let (mut sent, mut received) = (Vec::new(), Vec::new());
            for (byte, room) in steps {
                if ring.push(byte) {
                    sent.push(byte);
                }
                let mut left = room;
                ring.drain_into(|byte| match left {
                    0 => Err(()),
                    _ => {
                        left -= 1;
                        received.push(byte);
                        Ok(())
                    }
                });
                prop_assert!(ring.len() <= 16);
            }
            ring.drain_into(|byte| {
                received.push(byte);
                Ok::<_, ()>(())
            });
            prop_assert_eq!(sent, received);
        }
    }
}
