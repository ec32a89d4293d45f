//! The line editor: collects keys into a line, says what to echo, and hands
//! over the line when Enter is pressed.
//!
//! A line holds at most [`MAX_LINE`] characters. Keys past that are ignored
//! (not echoed), and the whole line is refused when Enter is pressed, with
//! [`Edit::TooLong`]: running the part that fitted could run a different
//! command than the one typed.

use crate::input::Key;

/// The longest line the shell runs, in characters (ASCII, so bytes).
pub const MAX_LINE: usize = 120;

/// What a key did to the line, and so what to show.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Edit<'l> {
    /// A character was added: echo it.
    Echo(u8),
    /// The last character was erased: move back over it, blank it, move
    /// back again (`"\x08 \x08"`).
    Erase,
    /// Nothing changed (Backspace on an empty line, a key past the limit).
    Nothing,
    /// Enter: the line to run (the editor starts a new one).
    Line(&'l str),
    /// Enter on a line that had more than [`MAX_LINE`] characters: refused;
    /// `ignored` keys past the limit were dropped.
    TooLong {
        /// How many characters past the limit were dropped.
        ignored: usize,
    },
}

/// The line being typed.
pub struct LineEditor {
    bytes: [u8; MAX_LINE],
    len: usize,
    ignored: usize,
}

impl LineEditor {
    /// An empty line.
    pub const fn new() -> LineEditor {
        LineEditor { bytes: [0; MAX_LINE], len: 0, ignored: 0 }
    }

    // ANCHOR: key
    /// Applies `key` to the line.
    pub fn key(&mut self, key: Key) -> Edit<'_> {
        match key {
            Key::Char(_) if self.len == MAX_LINE => {
                self.ignored += 1;
                Edit::Nothing
            }
            Key::Char(byte) => {
                self.bytes[self.len] = byte;
                self.len += 1;
                Edit::Echo(byte)
            }
            Key::Backspace if self.len == 0 => Edit::Nothing,
            Key::Backspace => {
                self.len -= 1;
                Edit::Erase
            }
            Key::Enter => {
                let (len, ignored) = (core::mem::take(&mut self.len), core::mem::take(&mut self.ignored));
                if ignored > 0 {
                    return Edit::TooLong { ignored };
                }
                // Only printable ASCII goes in (`Key::Char`), so this is text.
                Edit::Line(core::str::from_utf8(&self.bytes[..len]).unwrap_or(""))
            }
        }
    }
    // ANCHOR_END: key
}

impl Default for LineEditor {
    fn default() -> Self {
        LineEditor::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn type_text(editor: &mut LineEditor, text: &str) {
        for byte in text.bytes() {
            assert_eq!(editor.key(Key::Char(byte)), Edit::Echo(byte));
        }
    }

    #[test]
    fn characters_echo_and_enter_hands_over_the_line() {
        let mut editor = LineEditor::new();
        type_text(&mut editor, "send raw 5");
        assert_eq!(editor.key(Key::Enter), Edit::Line("send raw 5"));
        assert_eq!(editor.key(Key::Enter), Edit::Line(""), "a new, empty line");
    }

    #[test]
    fn backspace_erases_the_last_character() {
        let mut editor = LineEditor::new();
        assert_eq!(editor.key(Key::Backspace), Edit::Nothing, "nothing to erase");
        type_text(&mut editor, "lisx");
        assert_eq!(editor.key(Key::Backspace), Edit::Erase);
        type_text(&mut editor, "t");
        assert_eq!(editor.key(Key::Enter), Edit::Line("list"));
    }

    #[test]
    fn a_line_at_the_limit_runs() {
        let mut editor = LineEditor::new();
        let text = "e".repeat(MAX_LINE);
        type_text(&mut editor, &text);
        assert_eq!(editor.key(Key::Enter), Edit::Line(text.as_str()));
    }

    #[test]
    fn a_longer_line_is_refused_and_the_next_one_works() {
        let mut editor = LineEditor::new();
        type_text(&mut editor, &"e".repeat(MAX_LINE));
        for _ in 0..1000 {
            assert_eq!(editor.key(Key::Char(b'x')), Edit::Nothing, "not echoed");
        }
        // Erasing shown characters does not make the line acceptable: it
        // was not typed as the user sees it.
        assert_eq!(editor.key(Key::Backspace), Edit::Erase);
        assert_eq!(editor.key(Key::Enter), Edit::TooLong { ignored: 1000 });
        type_text(&mut editor, "help");
        assert_eq!(editor.key(Key::Enter), Edit::Line("help"));
    }

    proptest! {
        #[test]
        fn any_keys_keep_the_line_within_the_limit(keys in proptest::collection::vec(
            prop_oneof![(0x20u8..0x7f).prop_map(Key::Char), Just(Key::Backspace), Just(Key::Enter)], 0..400)) {
            let mut editor = LineEditor::new();
            let mut shown = 0usize;
            for key in keys {
                match editor.key(key) {
                    Edit::Echo(_) => shown += 1,
                    Edit::Erase => shown -= 1,
                    Edit::Nothing => {}
                    Edit::Line(line) => {
                        prop_assert_eq!(line.len(), shown);
                        shown = 0;
                    }
                    Edit::TooLong { ignored } => {
                        prop_assert!(ignored > 0);
                        shown = 0;
                    }
                }
                prop_assert!(shown <= MAX_LINE);
            }
        }
    }
}
