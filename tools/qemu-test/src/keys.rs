//! Typing on the emulated PS/2 keyboard: which key, in the QEMU monitor's
//! `sendkey` names, types each character on a US keyboard layout.
//!
//! Lowercase letters and digits are keys of their own name (`a`, `7`);
//! uppercase letters and the upper symbols of a key are that key with
//! shift (`shift-a`, `shift-1` for `!`). Space is `spc`, `\n` the Enter
//! key (`ret`), `\t` `tab`, `\x08` `backspace` and `\x1b` `esc`. Anything
//! else (other control characters, `\r`, `\x7f`, non-ASCII) has no key:
//! [`key_name`] returns `None` for it.

/// The keys whose names are not their character, with the character they
/// type unshifted and shifted (a shifted `None` means not used shifted).
const SYMBOL_KEYS: [(char, Option<char>, &str); 21] = [
    ('1', Some('!'), "1"),
    ('2', Some('@'), "2"),
    ('3', Some('#'), "3"),
    ('4', Some('$'), "4"),
    ('5', Some('%'), "5"),
    ('6', Some('^'), "6"),
    ('7', Some('&'), "7"),
    ('8', Some('*'), "8"),
    ('9', Some('('), "9"),
    ('0', Some(')'), "0"),
    ('-', Some('_'), "minus"),
    ('=', Some('+'), "equal"),
    ('[', Some('{'), "bracket_left"),
    (']', Some('}'), "bracket_right"),
    ('\\', Some('|'), "backslash"),
    (';', Some(':'), "semicolon"),
    ('\'', Some('"'), "apostrophe"),
    ('`', Some('~'), "grave_accent"),
    (',', Some('<'), "comma"),
    ('.', Some('>'), "dot"),
    ('/', Some('?'), "slash"),
];

/// Keys that type a space or a control character.
const CONTROL_KEYS: [(char, &str); 5] =
    [(' ', "spc"), ('\n', "ret"), ('\t', "tab"), ('\x08', "backspace"), ('\x1b', "esc")];

/// The `sendkey` name of the key (with `shift-` when needed) that types
/// `character`, or `None` if no key is mapped to it.
pub fn key_name(character: char) -> Option<String> {
    if character.is_ascii_lowercase() {
        return Some(character.to_string());
    }
    if character.is_ascii_uppercase() {
        return Some(format!("shift-{}", character.to_ascii_lowercase()));
    }
    if let Some((_, name)) = CONTROL_KEYS.iter().find(|(c, _)| *c == character) {
        return Some((*name).to_string());
    }
    SYMBOL_KEYS.iter().find_map(|&(plain, shifted, name)| {
        if plain == character {
            Some(name.to_string())
        } else if shifted == Some(character) {
            Some(format!("shift-{name}"))
        } else {
            None
        }
    })
}

/// The character that the `sendkey` name `name` types: the inverse of
/// [`key_name`].
pub fn key_char(name: &str) -> Option<char> {
    let (shift, key) = match name.strip_prefix("shift-") {
        Some(key) => (true, key),
        None => (false, name),
    };
    let mut letters = key.chars();
    if let (Some(letter), None) = (letters.next(), letters.next())
        && letter.is_ascii_lowercase()
    {
        return Some(if shift { letter.to_ascii_uppercase() } else { letter });
    }
    if !shift && let Some((character, _)) = CONTROL_KEYS.iter().find(|(_, n)| *n == key) {
        return Some(*character);
    }
    let &(plain, shifted, _) = SYMBOL_KEYS.iter().find(|(_, _, n)| *n == key)?;
    if shift { shifted } else { Some(plain) }
}

/// The keys that type `text`, or the first character that has no key.
pub fn key_names(text: &str) -> Result<Vec<String>, char> {
    text.chars().map(|character| key_name(character).ok_or(character)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every printable ASCII character and the control keys a test types.
    fn mapped() -> impl Iterator<Item = char> {
        (' '..='~').chain(['\n', '\t', '\x08', '\x1b'])
    }

    #[test]
    fn every_mapped_character_round_trips() {
        for character in mapped() {
            let name = key_name(character).unwrap_or_else(|| panic!("{character:?} has no key"));
            assert_eq!(key_char(&name), Some(character), "{character:?} -> {name}");
        }
    }

    #[test]
    fn no_two_characters_share_a_key() {
        let mut names: Vec<String> = mapped().filter_map(key_name).collect();
        let count = names.len();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), count);
    }

    #[test]
    fn names_are_qemu_key_names() {
        assert_eq!(
            key_names("ls -l 0x1F\n"),
            Ok(["l", "s", "spc", "minus", "l", "spc", "0", "x", "1", "shift-f", "ret"]
                .map(String::from)
                .to_vec())
        );
        assert_eq!(key_name('_').as_deref(), Some("shift-minus"));
        assert_eq!(key_name('.').as_deref(), Some("dot"));
        assert_eq!(key_name('"').as_deref(), Some("shift-apostrophe"));
        assert_eq!(key_name('\x08').as_deref(), Some("backspace"));
    }

    #[test]
    fn unmapped_characters_are_refused() {
        for character in ['\r', '\0', '\x7f', '\x01', 'é', '€'] {
            assert_eq!(key_name(character), None, "{character:?}");
        }
        assert_eq!(key_names("ok\r\n"), Err('\r'));
    }

    #[test]
    fn unknown_names_have_no_character() {
        for name in ["shift-spc", "shift-ret", "ctrl-c", "shift-", "", "f1", "ab"] {
            assert_eq!(key_char(name), None, "{name}");
        }
    }
}
