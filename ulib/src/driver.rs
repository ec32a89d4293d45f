//! Drivers in user space (stage 6): how rinit hands a driver its
//! capabilities, and the ring a driver keeps the bytes in that the input
//! channel cannot take yet. User space only: the kernel knows IrqLines,
//! PortRanges and channels, nothing of this protocol.
//!
//! A driver is a program GRUB loaded, like `hello`, and rinit loads it
//! with its loader (`ulib::loader`), which builds the driver's root pool
//! itself. rinit derives, out of an untyped of its own for that driver, an
//! IrqLine from the kernel's (`abi::device`, the devices pool at root slot
//! 251), a PortRange for the device's ports, and a channel for the line's
//! interrupts; it copies them, with the input channel, into the driver's
//! pool at the slots of [`HANDED`] before it starts the driver. The
//! driver's slot 255 is a reply channel of its own (not the shell's
//! channel 255, where the shell's child takes: a driver taking from that
//! one could take the child's messages); the driver checks what it holds
//! and says [`READY`] there once. Revoking the untyped destroys the
//! derived objects, the driver's copies with them: the line is masked and
//! unbound, the ports closed, whatever the driver does. Started again, the
//! driver is loaded again, from its module: a fresh task, from its entry.

use crate::syscall::{channel_put, channel_take, list_pool};
use abi::syscall::input::{self, Source};
use abi::syscall::{ListEntry, MessageKind};
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
/// The channel the driver says [`READY`] on, once: its slot 255, a
/// channel of its own that rinit made for it (not the shell's channel 255).
pub const REPLIES: u8 = CHANNEL;

/// What rinit puts in a driver's root pool before it starts it: the slot
/// of each capability, and its kind. (Its reply channel, [`REPLIES`], is
/// the loader's to put: every program's slot 255.)
pub const HANDED: [(u8, ObjectKind); 4] = [
    (IRQ, ObjectKind::IrqLine),
    (PORTS, ObjectKind::PortRange),
    (INTERRUPTS, ObjectKind::Channel),
    (INPUT, ObjectKind::Channel),
];

/// What a driver puts on its reply channel once it has found its
/// capabilities, before it binds its line.
pub const READY: u64 = 0x0044_5256_5244; // "DRVRD" in ASCII
// ANCHOR_END: driver_protocol

/// Checks that the driver's root pool holds what rinit hands a driver
/// ([`HANDED`], each of its kind), then says [`READY`] on [`REPLIES`]. A
/// slot that is empty or holds another kind is [`Error::NotConfigured`]:
/// the driver was started by something other than rinit's drivers code,
/// and serves nothing.
pub fn check_capabilities() -> Result<(), Error> {
    for (slot, kind) in HANDED {
        if kind_in(slot)? != Some(kind) {
            return Err(Error::NotConfigured);
        }
    }
    channel_put(CAddr::root(REPLIES), MessageKind::Raw, READY).map(drop)
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
        assert_eq!(slots, [IRQ, PORTS, INTERRUPTS, INPUT]);
        for (index, slot) in slots.iter().enumerate() {
            assert!(!slots[index + 1..].contains(slot), "slot {slot} twice");
            assert!(*slot > abi::task_root::TASK_BUFFER, "slot {slot} is one the kernel fills");
        }
        assert_eq!(INPUT, abi::task_root::INPUT, "the same slot as in rinit's pool");
        assert!(!slots.contains(&REPLIES), "the reply channel is the loader's slot 255");
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
