//! The parser: a line of text to a [`Command`] of the table in
//! `commands.rs`, with every argument checked, or a [`ParseError`] that
//! says in one line what was wrong.
//!
//! A pure function of the line ([`parse`]): no system call, no state, so
//! the host tests try every command and every mistake, and a property test
//! feeds it arbitrary text.

use crate::commands::{Args, COMMANDS, CommandSpec, Param, Usage, Value};
use crate::number::{NumberError, parse_number};
use core::fmt;

/// A command to run: its row in the table and its checked arguments.
#[derive(Clone, Copy)]
pub struct Command<'l> {
    /// The command's row in [`COMMANDS`].
    pub spec: &'static CommandSpec,
    /// Its arguments, one per parameter.
    pub args: Args<'l>,
}

impl fmt::Debug for Command<'_> {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "Command({:?}, {:?})", self.spec.words, self.args.values())
    }
}

/// What is wrong with a line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseError<'l> {
    /// Nothing but spaces (the shell just shows a new prompt).
    Empty,
    /// The first word is no command; `suggestion` is a command it looks like.
    Unknown {
        /// The word typed.
        word: &'l str,
        /// A command word close to it, if any.
        suggestion: Option<&'static str>,
    },
    /// The first word starts several commands (`retype`, `set`, `send`,
    /// `start`) and the second is missing or is none of them.
    Incomplete {
        /// The first word.
        first: &'static str,
        /// The second word, if one was typed.
        second: Option<&'l str>,
    },
    /// An argument is missing.
    Missing { spec: &'static str, param: Param },
    /// An argument is not a number.
    BadNumber { spec: &'static str, param: Param, word: &'l str, error: NumberError },
    /// A slot number above 255.
    SlotOutOfRange { spec: &'static str, param: Param, word: &'l str },
    /// Neither 1 nor 0.
    NotOnOff { spec: &'static str, word: &'l str },
    /// More words than the command takes; `word` is the first extra one.
    TooMany { spec: &'static str, word: &'l str },
}

// ANCHOR: parse
/// Reads `line` as a command of [`COMMANDS`].
pub fn parse(line: &str) -> Result<Command<'_>, ParseError<'_>> {
    let line = line.trim();
    let mut words = line.split_ascii_whitespace();
    let first = words.next().ok_or(ParseError::Empty)?;
    let second = words.next();
    let spec = find(first, second)?;
    // The words after the command's own are its arguments.
    let mut rest = line;
    for _ in 0..spec.words.split(' ').count() {
        rest = skip_word(rest);
    }
    let mut args = Args::new();
    for &param in spec.params {
        if let Param::Text(_) = param {
            args.push(Value::Text(rest));
            rest = "";
            break;
        }
        let word =
            rest.split_ascii_whitespace().next().ok_or(ParseError::Missing { spec: spec.words, param })?;
        args.push(argument(spec, param, word)?);
        rest = skip_word(rest);
    }
    match rest.split_ascii_whitespace().next() {
        Some(word) => Err(ParseError::TooMany { spec: spec.words, word }),
        None => Ok(Command { spec, args }),
    }
}
// ANCHOR_END: parse

/// The command named by the first one or two words.
fn find<'l>(first: &'l str, second: Option<&'l str>) -> Result<&'static CommandSpec, ParseError<'l>> {
    let mut group = None;
    for spec in COMMANDS {
        let mut words = spec.words.split(' ');
        let (command_first, command_second) = (words.next().unwrap_or(""), words.next());
        if command_first != first {
            continue;
        }
        match command_second {
            None => return Ok(spec),
            Some(word) if Some(word) == second => return Ok(spec),
            Some(_) => group = Some(command_first),
        }
    }
    match group {
        Some(first) => Err(ParseError::Incomplete { first, second }),
        None => Err(ParseError::Unknown { word: first, suggestion: suggestion(first) }),
    }
}

/// `text` without its first word and the spaces around it.
fn skip_word(text: &str) -> &str {
    let text = text.trim_start();
    text.find(|c: char| c.is_ascii_whitespace()).map_or("", |end| text[end..].trim_start())
}

/// Checks one argument.
fn argument<'l>(
    spec: &'static CommandSpec,
    param: Param,
    word: &'l str,
) -> Result<Value<'l>, ParseError<'l>> {
    let number = |word| {
        parse_number(word).map_err(|error| ParseError::BadNumber { spec: spec.words, param, word, error })
    };
    match param {
        Param::Slot(_) => u8::try_from(number(word)?)
            .map(Value::Slot)
            .map_err(|_| ParseError::SlotOutOfRange { spec: spec.words, param, word }),
        Param::Number(_) => number(word).map(Value::Number),
        Param::OnOff => match word {
            "1" => Ok(Value::On(true)),
            "0" => Ok(Value::On(false)),
            _ => Err(ParseError::NotOnOff { spec: spec.words, word }),
        },
        Param::Word(_) | Param::Text(_) => Ok(Value::Text(word)),
    }
}

/// The command word closest to `word`, if it looks like a typo of one: at
/// most two letters changed, added, dropped or swapped, and at most half
/// of the command's letters.
fn suggestion(word: &str) -> Option<&'static str> {
    let mut best: Option<(&'static str, usize)> = None;
    for spec in COMMANDS {
        let first = spec.words.split(' ').next().unwrap_or("");
        let distance = typo_distance(word, first);
        if distance <= 2 && distance <= first.len() / 2 && best.is_none_or(|(_, best)| distance < best) {
            best = Some((first, distance));
        }
    }
    best.map(|(first, _)| first)
}

/// How many single-letter edits (change, add, drop, swap two neighbours)
/// turn `a` into `b`, ignoring case; `usize::MAX` for words over 32
/// letters (no command is that long).
fn typo_distance(a: &str, b: &str) -> usize {
    const MAX: usize = 32;
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() > MAX || b.len() > MAX {
        return usize::MAX;
    }
    // d[i][j]: the distance between the first i letters of a and the first j of b.
    let mut d = [[0usize; MAX + 1]; MAX + 1];
    for (i, row) in d.iter_mut().enumerate().take(a.len() + 1) {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate().take(b.len() + 1) {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let same = a[i - 1].eq_ignore_ascii_case(&b[j - 1]);
            let mut best = (d[i - 1][j] + 1).min(d[i][j - 1] + 1).min(d[i - 1][j - 1] + usize::from(!same));
            if i > 1
                && j > 1
                && a[i - 1].eq_ignore_ascii_case(&b[j - 2])
                && a[i - 2].eq_ignore_ascii_case(&b[j - 1])
            {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

/// The usage of the command `words` (a row of the table).
fn usage(words: &str) -> impl fmt::Display + '_ {
    struct ByWords<'w>(&'w str);
    impl fmt::Display for ByWords<'_> {
        fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
            match COMMANDS.iter().find(|spec| spec.words == self.0) {
                Some(spec) => write!(f, "{}", Usage(spec)),
                None => f.write_str(self.0),
            }
        }
    }
    ByWords(words)
}

/// The parameter as the usage line names it.
fn name(param: Param) -> impl fmt::Display {
    struct Name(Param);
    impl fmt::Display for Name {
        fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
            match self.0 {
                Param::Slot(name) | Param::Number(name) | Param::Word(name) | Param::Text(name) => {
                    write!(f, "<{name}>")
                }
                Param::OnOff => f.write_str("1|0"),
            }
        }
    }
    Name(param)
}

// ANCHOR: errors
impl fmt::Display for ParseError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match *self {
            ParseError::Empty => f.write_str("empty line"),
            ParseError::Unknown { word, suggestion: Some(command) } => {
                write!(f, "unknown command \"{word}\" (did you mean {command}?): type help")
            }
            ParseError::Unknown { word, suggestion: None } => {
                write!(f, "unknown command \"{word}\": type help")
            }
            ParseError::Incomplete { first, second } => {
                write!(f, "{first}: expected ")?;
                let choices =
                    COMMANDS.iter().filter_map(|spec| spec.words.strip_prefix(first)?.strip_prefix(' '));
                let count = choices.clone().count();
                for (index, choice) in choices.enumerate() {
                    let separator = match index {
                        0 => "",
                        _ if index + 1 == count => " or ",
                        _ => ", ",
                    };
                    write!(f, "{separator}{choice}")?;
                }
                match second {
                    Some(word) => write!(f, ", not \"{word}\""),
                    None => write!(f, " after {first}"),
                }
            }
            ParseError::Missing { spec, param } => {
                write!(f, "{spec}: missing {} (usage: {})", name(param), usage(spec))
            }
            ParseError::BadNumber { spec, param, word, error } => {
                write!(f, "{spec}: {} \"{word}\": {error}", name(param))
            }
            ParseError::SlotOutOfRange { spec, param, word } => {
                write!(f, "{spec}: {} \"{word}\": slots are numbered 0 to 255", name(param))
            }
            ParseError::NotOnOff { spec, word } => {
                write!(f, "{spec}: \"{word}\" is neither 1 (start) nor 0 (stop)")
            }
            ParseError::TooMany { spec, word } => {
                write!(f, "{spec}: unexpected \"{word}\" (usage: {})", usage(spec))
            }
        }
    }
}
// ANCHOR_END: errors

#[cfg(test)]
mod tests;
