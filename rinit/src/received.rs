//! What the child task prints for each message it takes from channel 255
//! (the child itself is `src/child.rs`, in the program):
//!
//! ```text
//! Received from master: 5
//! Received from master: a capability, put in slot 248
//! Received from master: 11 bytes: "hello child"
//! ```
//!
//! A capability goes into the highest empty slot below 250
//! ([`highest_free_slot`]), which the child looks up before each take.

use abi::syscall::{ListEntry, MessageKind, REVOKED_IN_FLIGHT};
use abi::{CAddr, CPOOL_SLOTS};
use core::fmt;

/// The highest slot, below `below`, that no entry of a pool listing names.
pub fn highest_free_slot(entries: &[ListEntry], below: u8) -> Option<u8> {
    let mut occupied = [false; CPOOL_SLOTS];
    for entry in entries {
        occupied[usize::from(entry.slot)] = true;
    }
    (0..below).rev().find(|&slot| !occupied[usize::from(slot)])
}

// ANCHOR: received
/// The line the child prints for a message: its kind, its value (see
/// `ulib::syscall::channel_take`) and, for a payload, its bytes.
pub struct Received<'p> {
    pub kind: MessageKind,
    pub value: u64,
    pub payload: &'p [u8],
}

impl fmt::Display for Received<'_> {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("Received from master: ")?;
        match self.kind {
            MessageKind::Raw => write!(f, "{}", self.value),
            MessageKind::Capability if self.value == REVOKED_IN_FLIGHT => {
                f.write_str("a capability, revoked before it arrived")
            }
            MessageKind::Capability => match CAddr::from_raw(self.value) {
                Ok(slot) => write!(f, "a capability, put in slot {slot}"),
                Err(_) => write!(f, "a capability, at the malformed address {:#x}", self.value),
            },
            MessageKind::Fault => write!(f, "a fault message (only the kernel sends these)"),
            MessageKind::Interrupt => {
                write!(f, "an interrupt of line {} (only the kernel sends these)", self.value)
            }
            MessageKind::Payload => {
                write!(f, "{} bytes: \"", self.value)?;
                // Text as typed; quotes, backslashes, control characters
                // and bytes that are not UTF-8 escaped, so the line stays one line.
                for chunk in self.payload.utf8_chunks() {
                    write!(f, "{}", chunk.valid().escape_debug())?;
                    for byte in chunk.invalid() {
                        write!(f, "\\x{byte:02x}")?;
                    }
                }
                f.write_str("\"")
            }
        }
    }
}
// ANCHOR_END: received

#[cfg(test)]
mod tests {
    use super::*;

    fn line(kind: MessageKind, value: u64, payload: &[u8]) -> String {
        Received { kind, value, payload }.to_string()
    }

    #[test]
    fn the_lines_of_shell_md() {
        assert_eq!(line(MessageKind::Raw, 5, &[]), "Received from master: 5");
        assert_eq!(line(MessageKind::Raw, u64::MAX, &[]), "Received from master: 18446744073709551615");
        let slot = CAddr::root(248).to_raw();
        assert_eq!(
            line(MessageKind::Capability, slot, &[]),
            "Received from master: a capability, put in slot 248"
        );
        assert_eq!(
            line(MessageKind::Capability, REVOKED_IN_FLIGHT, &[]),
            "Received from master: a capability, revoked before it arrived"
        );
        assert_eq!(
            line(MessageKind::Capability, 0, &[]),
            "Received from master: a capability, at the malformed address 0x0"
        );
        assert_eq!(
            line(MessageKind::Payload, 11, b"hello child"),
            "Received from master: 11 bytes: \"hello child\""
        );
        assert_eq!(line(MessageKind::Payload, 0, b""), "Received from master: 0 bytes: \"\"");
    }

    #[test]
    fn payloads_stay_on_one_line() {
        assert_eq!(
            line(MessageKind::Payload, 9, b"a\"b\\c\nd\xff"),
            "Received from master: 9 bytes: \"a\\\"b\\\\c\\nd\\xff\""
        );
        assert_eq!(line(MessageKind::Payload, 3, "é!".as_bytes()), "Received from master: 3 bytes: \"é!\"");
    }

    #[test]
    fn the_highest_free_slot_below() {
        let entry = |slot| ListEntry { slot, kind: 1, detail: 0 };
        let entries: Vec<_> = [0, 1, 2, 249, 250, 255].map(entry).into();
        assert_eq!(highest_free_slot(&entries, 250), Some(248));
        assert_eq!(highest_free_slot(&entries, 3), None);
        assert_eq!(highest_free_slot(&entries, 0), None);
        let full: Vec<_> = (0..=255).map(entry).collect();
        assert_eq!(highest_free_slot(&full, 250), None);
        assert_eq!(highest_free_slot(&[], 250), Some(249));
    }
}
