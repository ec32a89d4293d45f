//! The shell's loop: the boot lines, the prompt, then for every input
//! message a key, for every key an edit, and for every line a command.
//!
//! ```text
//! input channel --value--> Keys --Key--> LineEditor --line--> parse --Command--> handler
//!  (root slot 7)           input.rs      line.rs              parse.rs          commands.rs
//! ```
//!
//! Output goes to the console, which the kernel shows on VGA and serial
//! alike: the echo of each key, the command's lines, one line for any
//! error, and the prompt again.

use crate::commands::{Child, Configured, Context};
use crate::input::Keys;
use crate::line::{Edit, LineEditor, MAX_LINE};
use crate::parse::{ParseError, parse};
use crate::programs::Programs;
use crate::system::{System, say};
use crate::tasks::TaskBook;
use abi::Error;

/// What the shell shows when it waits for a line.
pub const PROMPT: &str = "rinit> ";

/// The shell's state between two input messages.
pub struct Shell {
    keys: Keys,
    editor: LineEditor,
    child: Child,
    programs: Programs,
    configured: Configured,
    tasks: TaskBook,
}

impl Shell {
    /// A shell that starts children at `child`, and `programs` by name.
    pub const fn new(child: Child, programs: Programs) -> Shell {
        Shell {
            keys: Keys::new(),
            editor: LineEditor::new(),
            child,
            programs,
            configured: Configured::new(),
            tasks: TaskBook::new(),
        }
    }

    // ANCHOR: run
    /// Prints the boot lines and the prompt, then serves input until the
    /// input channel fails (it never does while the kernel runs).
    pub fn run(&mut self, sys: &mut dyn System) -> Result<(), Error> {
        let Child { entry, stack_pointer } = self.child;
        say!(sys, "Child entry should be at: {entry:#x} ({entry})");
        say!(sys, "Child stack pointer should be at: {stack_pointer:#x} ({stack_pointer})");
        crate::drivers::start_all(&mut self.context(sys));
        say!(sys, "Type help for the commands.");
        sys.print(format_args!("{PROMPT}"));
        loop {
            let value = sys.take_input()?;
            self.input(sys, value);
        }
    }
    // ANCHOR_END: run

    // ANCHOR: input
    /// Handles one message of the input channel.
    pub fn input(&mut self, sys: &mut dyn System, value: u64) {
        let Some(key) = self.keys.decode(value) else { return };
        match self.editor.key(key) {
            Edit::Echo(byte) => sys.print(format_args!("{}", char::from(byte))),
            Edit::Erase => sys.print(format_args!("\x08 \x08")),
            Edit::Nothing => {}
            Edit::Line(line) => {
                sys.print(format_args!("\n"));
                let (configured, tasks) = (&mut self.configured, &mut self.tasks);
                let programs = &self.programs;
                run_line(&mut Context { sys, configured, child: self.child, programs, tasks }, line);
                sys.print(format_args!("{PROMPT}"));
            }
            Edit::TooLong { ignored } => {
                sys.print(format_args!("\n"));
                say!(
                    sys,
                    "line too long: {MAX_LINE} characters at most; {ignored} more were dropped; nothing ran"
                );
                sys.print(format_args!("{PROMPT}"));
            }
        }
    }
    // ANCHOR_END: input

    /// What a handler works with, for the boot's own commands.
    fn context<'s>(&'s mut self, sys: &'s mut dyn System) -> Context<'s> {
        let (configured, tasks, programs) = (&mut self.configured, &mut self.tasks, &self.programs);
        Context { sys, configured, child: self.child, programs, tasks }
    }
}

// ANCHOR: run_line
/// Runs one line: a command, or one line saying why not.
pub fn run_line(cx: &mut Context, line: &str) {
    match parse(line) {
        Ok(command) => {
            if let Err(failure) = (command.spec.run)(cx, &command.args) {
                say!(cx.sys, "{}: {failure}", command.spec.words);
            }
        }
        Err(ParseError::Empty) => {}
        Err(error) => say!(cx.sys, "{error}"),
    }
}
// ANCHOR_END: run_line

#[cfg(test)]
mod tests;
