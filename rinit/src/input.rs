//! From input messages to keys: the kernel puts every byte typed on the
//! serial line and every PS/2 scancode into the input channel
//! ([`abi::syscall::input`]); this module turns them into the few keys the
//! line editor knows.
//!
//! - Serial bytes are what a terminal sends: printable ASCII, `\r` or `\n`
//!   for Enter (a `\n` right after a `\r` is the same Enter), `0x7f` or
//!   `0x08` for Backspace. Escape sequences (arrow keys and the like:
//!   `ESC [ ... letter`, `ESC O letter`) are skipped whole.
//! - Keyboard scancodes (set 1) are decoded by the `pc-keyboard` crate with
//!   the US 104-key layout; its Enter is `\n` and its Backspace `\x08`.
//!
//! Anything else (other control characters, non-ASCII characters, function
//! keys) is ignored: the VGA text console shows ASCII only.

use abi::syscall::input::{self, Source};
use pc_keyboard::layouts::Us104Key;
use pc_keyboard::{DecodedKey, HandleControl, PS2Keyboard, ScancodeSet1};

/// A key the line editor acts on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Key {
    /// A printable ASCII character (`' '` to `'~'`).
    Char(u8),
    /// Erase the last character.
    Backspace,
    /// Run the line.
    Enter,
}

/// Where a serial escape sequence is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Escape {
    /// Not in one.
    None,
    /// Just after `ESC`.
    Started,
    /// After `ESC [` or `ESC O`: parameters until a final letter.
    Sequence,
}

/// Decodes input messages into keys; keeps the state that spans several
/// messages (a keyboard's shift and multi-byte scancodes, a terminal's
/// escape sequences and `\r\n`).
pub struct Keys {
    keyboard: PS2Keyboard<Us104Key, ScancodeSet1>,
    escape: Escape,
    after_return: bool,
}

impl Keys {
    /// A decoder with no key pressed and no sequence started.
    pub const fn new() -> Keys {
        Keys {
            keyboard: PS2Keyboard::new(ScancodeSet1::new(), Us104Key, HandleControl::Ignore),
            escape: Escape::None,
            after_return: false,
        }
    }

    // ANCHOR: decode
    /// The key that the input message `value` completes, if any.
    pub fn decode(&mut self, value: u64) -> Option<Key> {
        match input::decode(value)? {
            (Source::Serial, byte) => self.serial(byte),
            (Source::Keyboard, scancode) => self.keyboard(scancode),
        }
    }
    // ANCHOR_END: decode

    fn serial(&mut self, byte: u8) -> Option<Key> {
        let after_return = core::mem::replace(&mut self.after_return, byte == b'\r');
        match self.escape {
            Escape::Started if byte == b'[' || byte == b'O' => {
                self.escape = Escape::Sequence;
                return None;
            }
            // Not a sequence after all (Alt+key sends ESC, key): the byte
            // counts on its own.
            Escape::Started => self.escape = Escape::None,
            Escape::Sequence => {
                if (0x40..=0x7e).contains(&byte) {
                    self.escape = Escape::None;
                }
                return None;
            }
            Escape::None => {}
        }
        match byte {
            0x1b => {
                self.escape = Escape::Started;
                None
            }
            b'\n' if after_return => None,
            _ => key_for(byte),
        }
    }

    fn keyboard(&mut self, scancode: u8) -> Option<Key> {
        let event = self.keyboard.add_byte(scancode).ok()??;
        match self.keyboard.process_keyevent(event)? {
            DecodedKey::Unicode(character) => u8::try_from(character).ok().and_then(key_for),
            DecodedKey::RawKey(_) => None,
        }
    }
}

/// The key for an ASCII byte, if it is one.
fn key_for(byte: u8) -> Option<Key> {
    match byte {
        b'\r' | b'\n' => Some(Key::Enter),
        0x08 | 0x7f => Some(Key::Backspace),
        b' '..=b'~' => Some(Key::Char(byte)),
        _ => None,
    }
}

impl Default for Keys {
    fn default() -> Self {
        Keys::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use abi::syscall::input::encode;
    use proptest::prelude::*;

    fn serial(keys: &mut Keys, bytes: &[u8]) -> Vec<Key> {
        bytes.iter().filter_map(|&byte| keys.decode(encode(Source::Serial, byte))).collect()
    }

    fn keyboard(keys: &mut Keys, scancodes: &[u8]) -> Vec<Key> {
        scancodes.iter().filter_map(|&code| keys.decode(encode(Source::Keyboard, code))).collect()
    }

    #[test]
    fn serial_characters_enter_and_backspace() {
        let mut keys = Keys::new();
        assert_eq!(serial(&mut keys, b"ls -a"), b"ls -a".map(Key::Char));
        assert_eq!(serial(&mut keys, b"\r"), [Key::Enter]);
        assert_eq!(serial(&mut keys, b"\n"), [], "\\r\\n is one Enter");
        assert_eq!(serial(&mut keys, b"\n\n"), [Key::Enter, Key::Enter], "a \\n alone is an Enter");
        assert_eq!(serial(&mut keys, b"\r\r"), [Key::Enter, Key::Enter]);
        assert_eq!(serial(&mut keys, &[0x7f, 0x08]), [Key::Backspace, Key::Backspace]);
        assert_eq!(serial(&mut keys, &[0x00, 0x07, b'\t', 0x80, 0xc3, 0xa9, 0xff]), [], "ignored");
    }

    #[test]
    fn serial_escape_sequences_are_skipped() {
        let mut keys = Keys::new();
        // Up arrow, then F1 (ESC O P), then Delete (ESC [ 3 ~), then a key.
        assert_eq!(serial(&mut keys, b"\x1b[A\x1bOP\x1b[3~x"), [Key::Char(b'x')]);
        // ESC before anything else than [ or O is ignored alone.
        assert_eq!(serial(&mut keys, b"\x1bq\x1b\r"), [Key::Char(b'q'), Key::Enter]);
    }

    #[test]
    fn keyboard_scancodes_through_pc_keyboard() {
        let mut keys = Keys::new();
        // 'h' (0x23), 'i' (0x17), each pressed then released (| 0x80).
        assert_eq!(keyboard(&mut keys, &[0x23, 0xa3, 0x17, 0x97]), [Key::Char(b'h'), Key::Char(b'i')]);
        // Shift (0x2a) + '1' (0x02) is '!'; space (0x39).
        assert_eq!(
            keyboard(&mut keys, &[0x2a, 0x02, 0x82, 0xaa, 0x39, 0xb9]),
            [Key::Char(b'!'), Key::Char(b' ')]
        );
        // Backspace (0x0e), Enter (0x1c), keypad Enter (0xe0 0x1c).
        assert_eq!(keyboard(&mut keys, &[0x0e, 0x8e, 0x1c, 0x9c]), [Key::Backspace, Key::Enter]);
        assert_eq!(keyboard(&mut keys, &[0xe0, 0x1c, 0xe0, 0x9c]), [Key::Enter]);
        // Up arrow (0xe0 0x48), F1 (0x3b), Escape (0x01): nothing.
        assert_eq!(keyboard(&mut keys, &[0xe0, 0x48, 0xe0, 0xc8, 0x3b, 0xbb, 0x01, 0x81]), []);
    }

    #[test]
    fn sources_mix_and_unknown_sources_are_ignored() {
        let mut keys = Keys::new();
        assert_eq!(keys.decode(encode(Source::Keyboard, 0x2a)), None, "shift down");
        assert_eq!(keys.decode(encode(Source::Serial, b'a')), Some(Key::Char(b'a')), "serial has no shift");
        assert_eq!(keys.decode(encode(Source::Keyboard, 0x1e)), Some(Key::Char(b'A')));
        assert_eq!(keys.decode(0x361), None, "source 3");
        assert_eq!(keys.decode(0x61), None, "source 0");
        assert_eq!(keys.decode(u64::MAX), None);
    }

    proptest! {
        #[test]
        fn any_message_is_a_key_or_nothing(values in proptest::collection::vec(any::<u64>(), 0..64),
                                           bytes in proptest::collection::vec(0u64..0x300, 0..256)) {
            let mut keys = Keys::new();
            for value in values.into_iter().chain(bytes) {
                if let Some(Key::Char(byte)) = keys.decode(value) {
                    prop_assert!((b' '..=b'~').contains(&byte));
                }
            }
        }
    }
}
