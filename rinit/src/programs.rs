//! The other programs GRUB loaded, which `run <name>` loads and starts.
//!
//! The kernel copies each module other than `rinit` into read-only pages,
//! puts them in a pool in rinit's root pool from slot
//! `abi::task_root::FIRST_PROGRAM` (236) on, and tells rinit which is
//! which, and how many bytes long, by adding one word per program to
//! rinit's argument string:
//!
//! ```text
//! program=hello@236:36088 program=sh@237:40960
//! ```
//!
//! rinit loads a program itself (`ulib::loader`, from `rinit/src/
//! launch.rs`), into a task it names in root slot [`Program::task_slot`]
//! (200 on: the program in slot 236 has its task in 200, and so on).
//!
//! [`Programs::from_args`] reads those words into a fixed table (no heap).
//! The kernel wrote them, but the shell checks them all the same, and
//! leaves out, without a word, any that is not exactly right: a name that
//! is empty, longer than [`MAX_NAME`] or not made of `a-z`, `0-9` and `-`;
//! a slot that is not a decimal number of the program slots (236 to 247);
//! a length that is not a decimal number;
//! a name or a slot seen before; a program past the twelfth. Other words
//! are not about programs and are ignored.

use abi::task_root::{FIRST_PROGRAM, MAX_PROGRAMS};
use core::fmt;

/// The longest program name (a GRUB module's name).
pub const MAX_NAME: usize = 16;

/// What starts the word naming a program.
const PREFIX: &str = "program=";

/// The root slot of the task loaded from the module in slot
/// `FIRST_PROGRAM`; the others follow.
pub const FIRST_TASK_SLOT: u8 = 200;
/// Three free root slots for the page tables of the loader's window
/// (`ulib::loader::Workspace`).
pub const LOADER_TABLES: [u8; 3] = [212, 213, 214];

/// One program: its name, the root slot of its module, its length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Program {
    name: [u8; MAX_NAME],
    len: u8,
    /// The root slot of its module's pool.
    pub slot: u8,
    /// The module's length in bytes.
    pub length: u64,
}

impl Program {
    /// Reads `NAME@SLOT:LENGTH` (the word without `program=`); `None` if
    /// it is not exactly right.
    fn parse(text: &str) -> Option<Program> {
        let (name, rest) = text.split_once('@')?;
        let (slot, length) = rest.split_once(':')?;
        // Decimal digits only: `str::parse` would also take a `+`.
        if length.is_empty() || !length.bytes().all(|byte| byte.is_ascii_digit()) {
            return None;
        }
        let length: u64 = length.parse().ok()?;
        let name_ok = |byte: u8| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-';
        if name.is_empty() || name.len() > MAX_NAME || !name.bytes().all(name_ok) {
            return None;
        }
        // Decimal digits only: `str::parse` would also take a `+`.
        if slot.is_empty() || !slot.bytes().all(|byte| byte.is_ascii_digit()) {
            return None;
        }
        let slot: u8 = slot.parse().ok()?;
        if !(FIRST_PROGRAM..FIRST_PROGRAM + MAX_PROGRAMS).contains(&slot) {
            return None;
        }
        let mut program = Program { name: [0; MAX_NAME], len: name.len() as u8, slot, length };
        program.name[..name.len()].copy_from_slice(name.as_bytes());
        Some(program)
    }

    /// The root slot rinit loads its task into.
    pub fn task_slot(&self) -> u8 {
        FIRST_TASK_SLOT + (self.slot - FIRST_PROGRAM)
    }

    /// Its name.
    pub fn name(&self) -> &str {
        // Only ASCII was copied in (`parse`).
        core::str::from_utf8(&self.name[..usize::from(self.len)]).unwrap_or("")
    }
}

/// The programs rinit was told about, in the order of the words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Programs {
    table: [Program; MAX_PROGRAMS as usize],
    count: usize,
}

impl Programs {
    /// No programs.
    pub const fn none() -> Programs {
        let empty = Program { name: [0; MAX_NAME], len: 0, slot: 0, length: 0 };
        Programs { table: [empty; MAX_PROGRAMS as usize], count: 0 }
    }

    // ANCHOR: from_args
    /// The programs named by the `program=NAME@SLOT:LENGTH` words of `args`.
    pub fn from_args(args: &str) -> Programs {
        let mut programs = Programs::none();
        for word in args.split_ascii_whitespace() {
            if let Some(program) = word.strip_prefix(PREFIX).and_then(Program::parse) {
                programs.add(program);
            }
        }
        programs
    }
    // ANCHOR_END: from_args

    /// Adds `program`, unless the table is full or has its name or slot.
    fn add(&mut self, program: Program) {
        let taken =
            self.all().iter().any(|known| known.name() == program.name() || known.slot == program.slot);
        if !taken && self.count < self.table.len() {
            self.table[self.count] = program;
            self.count += 1;
        }
    }

    /// Every program, in order.
    pub fn all(&self) -> &[Program] {
        &self.table[..self.count]
    }

    /// The program named `name`.
    pub fn find(&self, name: &str) -> Option<&Program> {
        self.all().iter().find(|program| program.name() == name)
    }
}

impl Default for Programs {
    fn default() -> Self {
        Programs::none()
    }
}

/// The names, for messages: `hello, sh`, or `none`.
impl fmt::Display for Programs {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        if self.count == 0 {
            return f.write_str("none");
        }
        for (index, program) in self.all().iter().enumerate() {
            let separator = if index == 0 { "" } else { ", " };
            write!(f, "{separator}{}", program.name())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
