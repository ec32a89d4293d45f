//! One console, several writers. The shell (the first task) leaves its
//! prompt, and what is being typed after it, on an unfinished line while
//! it waits for a key; then another task prints (the child's answer, a
//! program's lines) or the kernel reports a task's fault. Printed as they
//! come, those lines would start after the prompt, and the next command
//! would be typed on a line with no prompt. So the console keeps the
//! shell's unfinished line: another writer's output starts on a line of its
//! own, and once the machine is idle again (every task waiting), the
//! shell's line is printed again below it, as a line editor's redisplay
//! does.
//!
//! [`Turns`] is the logic, tested on the host; the functions below are the
//! kernel's one console, shared.

use spin::Mutex;

/// The most of the shell's unfinished line kept for printing again (a
/// prompt and a typed line: the shell's lines are shorter).
const LINE_MAX: usize = 160;

/// Who printed last, and the owner's unfinished line.
pub struct Turns {
    /// The task whose line is kept (the shell); none before it runs.
    owner: Option<u64>,
    line: [u8; LINE_MAX],
    len: usize,
    /// The unfinished line was longer than [`LINE_MAX`]: not printed again.
    overflowed: bool,
    /// Another writer's output broke the owner's line, and it is not yet
    /// printed again.
    broken: bool,
    /// Another writer's last output did not end its line.
    other_mid_line: bool,
}

impl Turns {
    pub const fn new() -> Turns {
        Turns {
            owner: None,
            line: [0; LINE_MAX],
            len: 0,
            overflowed: false,
            broken: false,
            other_mid_line: false,
        }
    }

    /// Makes `task`'s line the one kept.
    pub fn set_owner(&mut self, task: u64) {
        self.owner = Some(task);
    }

    /// `task` prints `text` (None: the kernel); what reaches the screen
    /// goes to `out`.
    pub fn write(&mut self, task: Option<u64>, text: &str, out: &mut dyn FnMut(&str)) {
        if task.is_some() && task == self.owner {
            self.owner_writes(text, out);
        } else {
            self.other_writes(text, out);
        }
    }

    fn owner_writes(&mut self, text: &str, out: &mut dyn FnMut(&str)) {
        if self.other_mid_line {
            out("\n");
            self.other_mid_line = false;
        }
        if self.broken {
            self.restore(out);
        }
        for byte in text.bytes() {
            match byte {
                b'\n' | b'\r' => (self.len, self.overflowed) = (0, false),
                // The shell erases with "\x08 \x08": back, a space, back.
                0x08 => self.len = self.len.saturating_sub(1),
                _ if self.len < LINE_MAX => {
                    self.line[self.len] = byte;
                    self.len += 1;
                }
                _ => self.overflowed = true,
            }
        }
        out(text);
    }

    fn other_writes(&mut self, text: &str, out: &mut dyn FnMut(&str)) {
        if text.is_empty() {
            return;
        }
        if self.len > 0 && !self.broken && !self.other_mid_line {
            out("\n");
            self.broken = true;
        }
        out(text);
        self.other_mid_line = !text.ends_with('\n');
    }

    /// The machine waits for an interrupt: the owner's line comes back.
    pub fn idle(&mut self, out: &mut dyn FnMut(&str)) {
        if !self.broken {
            return;
        }
        if self.other_mid_line {
            out("\n");
            self.other_mid_line = false;
        }
        self.restore(out);
    }

    fn restore(&mut self, out: &mut dyn FnMut(&str)) {
        self.broken = false;
        if !self.overflowed {
            // Only whole UTF-8 text was kept: the owner printed `&str`s.
            out(core::str::from_utf8(&self.line[..self.len]).unwrap_or(""));
        }
    }
}

impl Default for Turns {
    fn default() -> Self {
        Turns::new()
    }
}

static TURNS: Mutex<Turns> = Mutex::new(Turns::new());

/// The kernel's own text: on the console and on the kernel's channel
/// (`common::console`).
fn to_console(text: &str) {
    common::print!("{text}");
}

/// A task's text, and the shell's line printed again: on the console
/// only, never on the kernel's channel, so no task can make it look like
/// a kernel report.
fn task_text_to_console(text: &str) {
    common::console::print_from_task(text);
}

/// The first task's line is the one kept (`scheduler::run_forever`).
pub fn set_owner(task: u64) {
    TURNS.lock().set_owner(task);
}

/// A task's `Print`.
pub fn task_print(task: u64, text: &str) {
    TURNS.lock().write(Some(task), text, &mut task_text_to_console);
}

/// A line of the kernel's about a task (a fault report).
pub fn kernel_line(arguments: core::fmt::Arguments) {
    let mut line = heapless_line::Line::new();
    let _ = core::fmt::write(&mut line, arguments);
    let mut turns = TURNS.lock();
    turns.write(None, line.as_str(), &mut to_console);
    turns.write(None, "\n", &mut to_console);
}

/// The scheduler found no task ready.
pub fn idle() {
    TURNS.lock().idle(&mut task_text_to_console);
}

/// A line of text without the heap: a kernel report fits in it (longer
/// ones are cut).
mod heapless_line {
    pub struct Line {
        bytes: [u8; 256],
        len: usize,
    }

    impl Line {
        pub const fn new() -> Line {
            Line { bytes: [0; 256], len: 0 }
        }

        pub fn as_str(&self) -> &str {
            core::str::from_utf8(&self.bytes[..self.len]).unwrap_or("")
        }
    }

    impl core::fmt::Write for Line {
        fn write_str(&mut self, text: &str) -> core::fmt::Result {
            for c in text.chars() {
                let mut buffer = [0; 4];
                let encoded = c.encode_utf8(&mut buffer).as_bytes();
                if self.len + encoded.len() > self.bytes.len() {
                    return Ok(());
                }
                self.bytes[self.len..self.len + encoded.len()].copy_from_slice(encoded);
                self.len += encoded.len();
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHELL: Option<Option<u64>> = Some(Some(1));
    const CHILD: Option<Option<u64>> = Some(Some(2));

    /// What the screen shows after `steps`: a writer (`Some(None)`, the
    /// kernel) and its text, or `None` for the machine going idle.
    fn screen(steps: &[(Option<Option<u64>>, &str)]) -> String {
        let mut turns = Turns::new();
        turns.set_owner(1);
        let mut shown = String::new();
        for &(writer, text) in steps {
            let mut out = |text: &str| shown.push_str(text);
            match writer {
                Some(task) => turns.write(task, text, &mut out),
                None => turns.idle(&mut out),
            }
        }
        shown
    }

    #[test]
    fn another_task_s_lines_get_a_prompt_below_them() {
        let shown =
            screen(&[(SHELL, "rinit> "), (CHILD, "hello: one\n"), (CHILD, "hello: two\n"), (None, "")]);
        assert_eq!(shown, "rinit> \nhello: one\nhello: two\nrinit> ");
    }

    #[test]
    fn what_was_typed_comes_back_with_the_prompt() {
        let shown = screen(&[
            (SHELL, "rinit> "),
            (SHELL, "ec"),
            (SHELL, "x"),
            (SHELL, "\x08 \x08"),
            (Some(None), "task 5 stopped by a fault: page fault\n"),
            (None, ""),
        ]);
        // `Some(None)` is the kernel; `None` the machine going idle.
        assert_eq!(shown, "rinit> ecx\x08 \x08\ntask 5 stopped by a fault: page fault\nrinit> ec");
    }

    #[test]
    fn the_kernel_s_report_and_an_unfinished_line_of_another() {
        let mut turns = Turns::new();
        turns.set_owner(1);
        let mut shown = String::new();
        let mut out = |text: &str| shown.push_str(text);
        turns.write(Some(1), "rinit> ", &mut out);
        turns.write(None, "task 5 stopped by a fault\n", &mut out);
        turns.write(Some(2), "no newline", &mut out);
        turns.idle(&mut out);
        turns.write(Some(1), "l", &mut out);
        assert_eq!(shown, "rinit> \ntask 5 stopped by a fault\nno newline\nrinit> l");
    }

    #[test]
    fn nothing_changes_while_the_shell_is_not_mid_line() {
        let shown = screen(&[
            (SHELL, "rinit> send raw 5\n"),
            (CHILD, "Received from master: 5\n"),
            (None, ""),
            (SHELL, "rinit> "),
        ]);
        assert_eq!(shown, "rinit> send raw 5\nReceived from master: 5\nrinit> ");
    }

    #[test]
    fn typing_while_another_prints_brings_the_line_back_first() {
        let shown = screen(&[(SHELL, "rinit> "), (CHILD, "hi\n"), (SHELL, "l")]);
        assert_eq!(shown, "rinit> \nhi\nrinit> l");
    }
}
