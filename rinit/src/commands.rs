//! The shell's commands: one table, [`COMMANDS`], and one handler function
//! per command below it. The parser (`parse.rs`), `help` and the error
//! messages all read the table, so a command exists once, here.
//!
//! # Adding a command
//!
//! 1. Add a row to [`COMMANDS`]: the command's words (one or two, e.g.
//!    `"send raw"`), its parameters ([`Param`]: a slot, a number, `1|0`, a
//!    word, or the rest of the line as text), a help text of a few words,
//!    and the handler.
//! 2. Write the handler: `fn name(cx: &mut Context, args: &Args) ->
//!    Result<(), Failure>`. Read the arguments by position with the
//!    accessor matching the parameter's kind (`args.slot(0)`,
//!    `args.number(1)`, ...), make the system calls through `cx.sys` (a
//!    call the shell did not make yet: a method of [`System`], implemented
//!    in `src/syscalls.rs` with its `ulib` wrapper and in `src/model.rs`
//!    for the tests), and print with `say!(cx.sys, ...)`.
//!    A refusal is returned, not printed: the shell prints it as one line,
//!    `<command words>: <why>`; `?` on a kernel error gives the kernel's
//!    own text (`abi::Error`'s Display), [`Failure::Refused`] the shell's,
//!    and [`Failure::explained`] the shell's with what it names.
//! 3. Test it against the model kernel, beside the others in
//!    `src/shell/tests.rs`: what it prints, and each way it can fail.
//!    `help` lists it, and the parser's tests try its usage line, by
//!    themselves.
//!
//! The parser already checks that arguments are there, are numbers, are
//! slots from 0 to 255, and that there are no more than the row lists; a
//! handler never sees a bad argument.

use crate::drivers::Driver;
use crate::programs::Programs;
use crate::system::{Message, System, say};
use crate::tasks::{TaskBook, tasks};
use abi::syscall::{ListEntry, MAX_PAYLOAD, TaskField};
use abi::task_root::{CHANNEL, CPOOL, PML4, SPARE_BUFFER, TASK, UNTYPED};
use abi::{CAddr, Error, ObjectKind};
use core::fmt;

/// The slot `start child` makes the child's task in (the walkthrough of
/// the shell's reference, `book/src/shell.md`, uses it too).
pub const CHILD_TASK: u8 = 249;

/// One parameter of a command: what the parser accepts for it, and its
/// name in the usage line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Param {
    /// A slot of the root pool: a number from 0 to 255.
    Slot(&'static str),
    /// Any number that fits in 64 bits.
    Number(&'static str),
    /// `1` (on, start) or `0` (off, stop).
    OnOff,
    /// One word, any text (a name).
    Word(&'static str),
    /// The rest of the line, as typed (may be empty); only as the last
    /// parameter.
    Text(&'static str),
}

/// A command: its words, parameters, help and handler.
pub struct CommandSpec {
    /// The words that name it, separated by one space: `"retype task"`.
    pub words: &'static str,
    /// Its parameters, in order.
    pub params: &'static [Param],
    /// What it does, in a few words (for `help`).
    pub help: &'static str,
    /// What runs it.
    pub run: Handler,
}

/// A command's handler: runs the command with arguments the parser checked.
pub type Handler = fn(&mut Context, &Args) -> Result<(), Failure>;

// ANCHOR: commands
/// Every command, in the order `help` lists them.
pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec { words: "help", params: &[], help: "lists the commands with their arguments", run: help },
    CommandSpec {
        words: "echo",
        params: &[Param::Text("message")],
        help: "prints the message back",
        run: echo,
    },
    CommandSpec { words: "list", params: &[], help: "the occupied slots of the root CPool", run: list },
    CommandSpec {
        words: "retype cpool",
        params: &[Param::Slot("src"), Param::Slot("dst")],
        help: "new CPool in slot dst, from untyped src",
        run: retype_cpool,
    },
    CommandSpec {
        words: "retype task",
        params: &[Param::Slot("src"), Param::Slot("dst")],
        help: "new inactive task in dst, from untyped src",
        run: retype_task,
    },
    CommandSpec {
        words: "revoke",
        params: &[Param::Slot("untyped")],
        help: "destroys all made from the untyped",
        run: revoke,
    },
    CommandSpec {
        words: "set stack",
        params: &[Param::Slot("task"), Param::Number("value")],
        help: "the task's initial stack pointer",
        run: set_stack,
    },
    CommandSpec {
        words: "set instruction",
        params: &[Param::Slot("task"), Param::Number("value")],
        help: "the task's initial instruction pointer",
        run: set_instruction,
    },
    CommandSpec {
        words: "set cpool",
        params: &[Param::Slot("task"), Param::Slot("slot")],
        help: "the task's root CPool",
        run: set_cpool,
    },
    CommandSpec {
        words: "set table",
        params: &[Param::Slot("task"), Param::Slot("slot")],
        help: "the task's top-level page table (PML4)",
        run: set_table,
    },
    CommandSpec {
        words: "set buffer",
        params: &[Param::Slot("task"), Param::Slot("slot")],
        help: "the task's task buffer page",
        run: set_buffer,
    },
    CommandSpec {
        words: "set fault",
        params: &[Param::Slot("task"), Param::Slot("slot")],
        help: "the task's fault channel (faults suspend it)",
        run: set_fault,
    },
    CommandSpec {
        words: "set active",
        params: &[Param::Slot("task"), Param::OnOff],
        help: "starts (1) or stops (0) the task",
        run: set_active,
    },
    CommandSpec {
        words: "start child",
        params: &[],
        help: "all of the above for a child in 249",
        run: start_child,
    },
    CommandSpec {
        words: "send raw",
        params: &[Param::Number("n")],
        help: "puts the number n on channel 255",
        run: send_raw,
    },
    CommandSpec {
        words: "send cap",
        params: &[Param::Slot("slot")],
        help: "sends the capability in slot over 255",
        run: send_cap,
    },
    CommandSpec {
        words: "send text",
        params: &[Param::Text("message")],
        help: "sends the message as bytes over 255",
        run: send_text,
    },
    CommandSpec {
        words: "run",
        params: &[Param::Word("name")],
        help: "starts a program GRUB loaded (listed below)",
        run: run_program,
    },
    CommandSpec { words: "tasks", params: &[], help: "each task the shell knows, and its state", run: tasks },
    CommandSpec { words: "shutdown", params: &[], help: "stops the machine", run: shutdown },
];
// ANCHOR_END: commands

/// What a handler works with.
pub struct Context<'s> {
    /// The kernel and the console.
    pub sys: &'s mut dyn System,
    /// Which fields of which task the shell has set.
    pub configured: &'s mut Configured,
    /// Where the child starts (printed at boot).
    pub child: Child,
    /// The other programs GRUB loaded, for `run`.
    pub programs: &'s Programs,
    /// What the shell last did to each task, for `tasks`.
    pub tasks: &'s mut TaskBook,
}

/// Where the child task starts: what `start child` sets, and what the
/// manual walkthrough types.
/// The fields a task cannot start without (the kernel's `TaskStart`
/// refuses it until they are set), with their `set` words: where it
/// starts, its root pool and its page table. Its stack pointer and task
/// buffer may stay unset.
pub const REQUIRED: [(TaskField, &str); 3] =
    [(TaskField::Instruction, "instruction"), (TaskField::CPool, "cpool"), (TaskField::Table, "table")];

/// Which fields the shell has set on the task in each slot, so that
/// `set active` on a task that cannot start yet names what it lacks.
/// (The kernel only says "not configured"; a task configured by another
/// program is not known here, and then every required field is named.)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Configured([u8; 256]);

impl Configured {
    pub const fn new() -> Configured {
        Configured([0; 256])
    }

    /// The shell names tasks by root slot (a one-step address).
    fn index(slot: CAddr) -> usize {
        usize::from(slot.path().first().copied().unwrap_or(0))
    }

    fn bit(field: TaskField) -> u8 {
        1 << (u64::from(field) - 1)
    }

    /// `slot` holds a new task: nothing set.
    pub fn clear(&mut self, slot: CAddr) {
        self.0[Configured::index(slot)] = 0;
    }

    pub fn set(&mut self, slot: CAddr, field: TaskField) {
        self.0[Configured::index(slot)] |= Configured::bit(field);
    }

    /// The `set` words of the required fields not set on the task in
    /// `slot` (all of them if the shell set none of them: it may not know).
    pub fn missing(&self, slot: CAddr) -> impl Iterator<Item = &'static str> + '_ {
        let bits = self.0[Configured::index(slot)];
        let known = REQUIRED.iter().any(|&(field, _)| bits & Configured::bit(field) != 0);
        REQUIRED
            .iter()
            .filter(move |&&(field, _)| !known || bits & Configured::bit(field) == 0)
            .map(|&(_, word)| word)
    }
}

impl Default for Configured {
    fn default() -> Self {
        Configured::new()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Child {
    /// Its entry (instruction pointer).
    pub entry: u64,
    /// Its initial stack pointer.
    pub stack_pointer: u64,
}

/// Why a command did not do what it was asked: printed as one line after
/// the command's words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The kernel refused a system call: its own explanation.
    Kernel(Error),
    /// The shell's explanation (which may repeat the kernel's and add what
    /// to do about it).
    Refused(&'static str),
    /// The shell's explanation, naming what the user typed or what there
    /// is: made with [`Failure::explained`].
    Explained(Line),
}

impl Failure {
    /// A refusal explained with formatted text (cut at [`Line::MAX`] bytes,
    /// and then ending in `...`, so that a cut line says it was cut):
    /// `Failure::explained(format_args!("no program named {}", Quoted(name)))`.
    pub fn explained(text: fmt::Arguments) -> Failure {
        let mut line = Line::new();
        // Text longer than a line is cut, which is an error to `write`.
        if fmt::write(&mut line, text).is_err() {
            line.mark_cut();
        }
        Failure::Explained(line)
    }
}

// ANCHOR: quoted
/// What the user typed, in quotes, shortened to [`Quoted::MAX`] characters
/// and `...`, so that an error line naming it stays short and still closes
/// its quotes.
pub struct Quoted<'t>(pub &'t str);

impl Quoted<'_> {
    /// The most characters of the text shown.
    pub const MAX: usize = 32;
}

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self.0.char_indices().nth(Quoted::MAX) {
            Some((end, _)) => write!(f, "\"{}...\"", &self.0[..end]),
            None => write!(f, "\"{}\"", self.0),
        }
    }
}
// ANCHOR_END: quoted

impl From<Error> for Failure {
    fn from(error: Error) -> Failure {
        Failure::Kernel(error)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Failure::Kernel(error) => write!(f, "{error}"),
            Failure::Refused(why) => f.write_str(why),
            Failure::Explained(why) => f.write_str(why.as_str()),
        }
    }
}

/// The most parameters a command has.
pub const MAX_PARAMS: usize = 4;

/// One checked argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Value<'l> {
    /// For [`Param::Slot`].
    Slot(u8),
    /// For [`Param::Number`].
    Number(u64),
    /// For [`Param::OnOff`]: `true` for 1.
    On(bool),
    /// For [`Param::Text`].
    Text(&'l str),
}

/// A command's checked arguments, one [`Value`] per parameter, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Args<'l> {
    values: [Value<'l>; MAX_PARAMS],
    len: usize,
}

impl<'l> Args<'l> {
    /// No arguments yet.
    pub const fn new() -> Args<'l> {
        Args { values: [Value::Number(0); MAX_PARAMS], len: 0 }
    }

    /// Adds the next argument (the parser checks there is room).
    pub fn push(&mut self, value: Value<'l>) {
        self.values[self.len] = value;
        self.len += 1;
    }

    /// The arguments, in order.
    pub fn values(&self) -> &[Value<'l>] {
        &self.values[..self.len]
    }

    /// Argument `index`, a [`Param::Slot`], as a root pool address.
    ///
    /// # Panics
    /// If the table gives the command another parameter there: the handler
    /// and its row disagree (the tests run every command).
    pub fn slot(&self, index: usize) -> CAddr {
        match self.values().get(index) {
            Some(Value::Slot(slot)) => CAddr::root(*slot),
            other => panic!("argument {index} is not a slot: {other:?}"),
        }
    }

    /// Argument `index`, a [`Param::Number`] (panics like [`Args::slot`]).
    pub fn number(&self, index: usize) -> u64 {
        match self.values().get(index) {
            Some(Value::Number(value)) => *value,
            other => panic!("argument {index} is not a number: {other:?}"),
        }
    }

    /// Argument `index`, a [`Param::OnOff`] (panics like [`Args::slot`]).
    pub fn on(&self, index: usize) -> bool {
        match self.values().get(index) {
            Some(Value::On(on)) => *on,
            other => panic!("argument {index} is not 1|0: {other:?}"),
        }
    }

    /// Argument `index`, a [`Param::Text`] or a [`Param::Word`] (panics
    /// like [`Args::slot`]).
    pub fn text(&self, index: usize) -> &'l str {
        match self.values().get(index) {
            Some(Value::Text(text)) => text,
            other => panic!("argument {index} is not text: {other:?}"),
        }
    }
}

impl Default for Args<'_> {
    fn default() -> Self {
        Args::new()
    }
}

/// A command's usage line: its words and parameters, `retype task <src> <dst>`.
pub struct Usage<'c>(pub &'c CommandSpec);

impl fmt::Display for Usage<'_> {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.0.words)?;
        for param in self.0.params {
            match param {
                Param::Slot(name) | Param::Number(name) | Param::Word(name) | Param::Text(name) => {
                    write!(f, " <{name}>")?
                }
                Param::OnOff => f.write_str(" 1|0")?,
            }
        }
        Ok(())
    }
}

// ANCHOR: help
fn help(cx: &mut Context, _: &Args) -> Result<(), Failure> {
    say!(cx.sys, "Commands (numbers in decimal or 0x-hex, slots 0 to 255):");
    for command in COMMANDS {
        // Padding needs a string: format the usage into a small buffer.
        let mut usage = Line::new();
        let _ = fmt::write(&mut usage, format_args!("{}", Usage(command)));
        say!(cx.sys, "  {:<31} {}", usage.as_str(), command.help);
    }
    say!(cx.sys, "Programs to run: {}", cx.programs);
    crate::pager::help(cx);
    Ok(())
}
// ANCHOR_END: help

fn echo(cx: &mut Context, args: &Args) -> Result<(), Failure> {
    say!(cx.sys, "{}", args.text(0));
    Ok(())
}

// ANCHOR: list
fn list(cx: &mut Context, _: &Args) -> Result<(), Failure> {
    let mut entries = [ListEntry { slot: 0, kind: 0, detail: 0 }; ListEntry::MAX];
    let count = cx.sys.list_pool(CAddr::root(CPOOL), &mut entries)?;
    for entry in &entries[..count] {
        match cx.programs.all().iter().find(|program| program.slot == entry.slot) {
            // Slots 236 on: the programs GRUB loaded, for `run`.
            Some(program) => {
                say!(cx.sys, "{}, the program {} (run {})", Listed(entry), program.name(), program.name())
            }
            None => say!(cx.sys, "{}", Listed(entry)),
        }
    }
    Ok(())
}
// ANCHOR_END: list

/// One line of `list`: `  2: Untyped, 1044480 bytes free`.
pub struct Listed<'e>(pub &'e ListEntry);

impl fmt::Display for Listed<'_> {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let ListEntry { slot, kind, detail } = *self.0;
        write!(f, "{slot:>3}: ")?;
        match ObjectKind::try_from(u64::from(kind)) {
            Ok(kind @ ObjectKind::Untyped) => write!(f, "{kind}, {detail} bytes free"),
            Ok(kind @ ObjectKind::CPool) => write!(f, "{kind}, {detail} slots used"),
            // The number the kernel names the task by in its reports.
            Ok(kind @ ObjectKind::Task) => write!(f, "{kind} {detail}"),
            Ok(kind) => write!(f, "{kind}"),
            Err(_) => write!(f, "unknown kind {kind}"),
        }
    }
}

fn retype_cpool(cx: &mut Context, args: &Args) -> Result<(), Failure> {
    retype(cx, args, ObjectKind::CPool)
}

fn retype_task(cx: &mut Context, args: &Args) -> Result<(), Failure> {
    retype(cx, args, ObjectKind::Task)
}

fn retype(cx: &mut Context, args: &Args, kind: ObjectKind) -> Result<(), Failure> {
    let (untyped, destination) = (args.slot(0), args.slot(1));
    cx.sys.retype(untyped, kind, destination)?;
    cx.configured.clear(destination);
    cx.tasks.clear(destination);
    say!(cx.sys, "slot {destination}: {} {kind} made from untyped slot {untyped}", kind.article());
    Ok(())
}

// ANCHOR: revoke
/// `revoke <untyped>`: every object made from the untyped is destroyed,
/// wherever its capabilities are (a driver's IrqLine and PortRange with
/// them: `revoke 208` cuts the serial driver off its line and ports).
fn revoke(cx: &mut Context, args: &Args) -> Result<(), Failure> {
    let untyped = args.slot(0);
    cx.sys.revoke(untyped)?;
    say!(cx.sys, "slot {untyped}: everything made from it is destroyed");
    Ok(())
}
// ANCHOR_END: revoke

fn set_stack(cx: &mut Context, args: &Args) -> Result<(), Failure> {
    set(cx, args, TaskField::Stack, args.number(1))
}

fn set_instruction(cx: &mut Context, args: &Args) -> Result<(), Failure> {
    set(cx, args, TaskField::Instruction, args.number(1))
}

fn set_cpool(cx: &mut Context, args: &Args) -> Result<(), Failure> {
    set(cx, args, TaskField::CPool, args.slot(1).to_raw())
}

fn set_table(cx: &mut Context, args: &Args) -> Result<(), Failure> {
    set(cx, args, TaskField::Table, args.slot(1).to_raw())
}

fn set_buffer(cx: &mut Context, args: &Args) -> Result<(), Failure> {
    set(cx, args, TaskField::Buffer, args.slot(1).to_raw())
}

fn set_fault(cx: &mut Context, args: &Args) -> Result<(), Failure> {
    set(cx, args, TaskField::FaultChannel, args.slot(1).to_raw())
}

fn set(cx: &mut Context, args: &Args, field: TaskField, value: u64) -> Result<(), Failure> {
    let task = args.slot(0);
    match cx.sys.task_set(task, field, value) {
        Err(Error::InUse) => return Err(Failure::Refused(RUNNING)),
        result => result?,
    }
    cx.configured.set(task, field);
    match field {
        TaskField::Stack => say!(cx.sys, "task {task}: stack pointer {value:#x}"),
        TaskField::Instruction => say!(cx.sys, "task {task}: instruction pointer {value:#x}"),
        TaskField::CPool => say!(cx.sys, "task {task}: root CPool from slot {}", args.slot(1)),
        TaskField::Table => say!(cx.sys, "task {task}: page table from slot {}", args.slot(1)),
        TaskField::Buffer => say!(cx.sys, "task {task}: task buffer from slot {}", args.slot(1)),
        TaskField::FaultChannel => say!(cx.sys, "task {task}: fault channel from slot {}", args.slot(1)),
    }
    Ok(())
}

fn set_active(cx: &mut Context, args: &Args) -> Result<(), Failure> {
    let task = args.slot(0);
    if args.on(1) {
        // A driver starts only with fresh capabilities, which `run` hands it.
        match driver_in(cx, task) {
            Some((driver, slot)) => crate::drivers::start(cx, driver, slot),
            None => start(cx, task),
        }
    } else if task == CAddr::root(TASK) {
        // Stopped, the shell could never take another line: the kernel
        // would shut the machine down (the first task is gone).
        Err(Failure::Refused(
            "the shell will not stop itself (slot 4 is its own task; shutdown stops the machine)",
        ))
    } else {
        cx.sys.task_stop(task)?;
        cx.tasks.stopped(task);
        say!(cx.sys, "task {task}: stopped");
        Ok(())
    }
}

/// The driver whose program's task is in `task`, and its slot, if it is one.
fn driver_in(cx: &Context, task: CAddr) -> Option<(&'static Driver, u8)> {
    let program = cx.programs.all().iter().find(|program| CAddr::root(program.slot) == task)?;
    Some((Driver::named(program.name())?, program.slot))
}

/// What a refusal with `Error::InUse` means for a task.
const RUNNING: &str = "the object is in use: the task runs (set active <task> 0 stops it)";

/// Starts the task in `task`, explaining what a task lacks.
fn start(cx: &mut Context, task: CAddr) -> Result<(), Failure> {
    match cx.sys.task_start(task) {
        Ok(()) => {
            cx.tasks.started(task);
            match task_number(cx, task) {
                Some(number) => say!(cx.sys, "task {task}: started (the kernel's task {number})"),
                None => say!(cx.sys, "task {task}: started"),
            }
            Ok(())
        }
        Err(Error::NotConfigured) => {
            let mut missing = Line::new();
            for (index, word) in cx.configured.missing(task).enumerate() {
                let _ = fmt::write(&mut missing, format_args!("{}{word}", if index > 0 { ", " } else { "" }));
            }
            Err(Failure::explained(format_args!(
                "the task is not fully configured: set {} first",
                missing.as_str()
            )))
        }
        Err(Error::InUse) => Err(Failure::Refused(RUNNING)),
        Err(error) => Err(error.into()),
    }
}

// ANCHOR: start_child
/// The number the kernel names the task in `task` by (its `ListPool`
/// detail), if the shell can find it.
fn task_number(cx: &mut Context, task: CAddr) -> Option<u64> {
    let mut entries = [ListEntry { slot: 0, kind: 0, detail: 0 }; ListEntry::MAX];
    let count = cx.sys.list_pool(CAddr::root(CPOOL), &mut entries).ok()?;
    entries[..count].iter().find(|entry| CAddr::root(entry.slot) == task).map(|entry| entry.detail)
}

fn start_child(cx: &mut Context, _: &Args) -> Result<(), Failure> {
    let task = CAddr::root(CHILD_TASK);
    match cx.sys.retype(CAddr::root(UNTYPED), ObjectKind::Task, task) {
        Err(Error::SlotOccupied) => {
            return Err(Failure::Refused(
                "slot 249 is not empty: the child was made already (one child at a time)",
            ));
        }
        result => result?,
    }
    let Child { entry, stack_pointer } = cx.child;
    cx.sys.task_set(task, TaskField::Stack, stack_pointer)?;
    cx.sys.task_set(task, TaskField::Instruction, entry)?;
    cx.sys.task_set(task, TaskField::CPool, CAddr::root(CPOOL).to_raw())?;
    cx.sys.task_set(task, TaskField::Table, CAddr::root(PML4).to_raw())?;
    cx.sys.task_set(task, TaskField::Buffer, CAddr::root(SPARE_BUFFER).to_raw())?;
    for field in TaskField::ALL {
        cx.configured.set(task, *field);
    }
    say!(cx.sys, "task {task}: the child, entry {entry:#x}, stack pointer {stack_pointer:#x}");
    start(cx, task)
}
// ANCHOR_END: start_child

fn send_raw(cx: &mut Context, args: &Args) -> Result<(), Failure> {
    send(cx, Message::Raw(args.number(0)))
}

fn send_cap(cx: &mut Context, args: &Args) -> Result<(), Failure> {
    send(cx, Message::Capability(args.slot(0)))
}

fn send_text(cx: &mut Context, args: &Args) -> Result<(), Failure> {
    let text = args.text(0).as_bytes();
    if text.len() > MAX_PAYLOAD {
        // A line is shorter (`line::MAX_LINE`); this keeps it so.
        return Err(Failure::Refused("the message is longer than a payload (256 bytes)"));
    }
    send(cx, Message::Payload(text))
}

/// Puts `message` on channel 255, then lets the child run so that what it
/// prints comes before the next prompt.
///
/// Without a child, messages wait in the channel (it is a queue) until one
/// takes them; when it is full, `send` says so.
fn send(cx: &mut Context, message: Message) -> Result<(), Failure> {
    match cx.sys.channel_put(CAddr::root(CHANNEL), message) {
        Ok(()) => {}
        Err(Error::ChannelFull) => {
            return Err(Failure::Refused("the channel is full: no task takes its messages (start child?)"));
        }
        Err(error) => return Err(error.into()),
    }
    cx.sys.yield_now();
    Ok(())
}

// ANCHOR: run_program
/// Starts a program GRUB loaded: its task waits, configured, in its slot
/// (`programs.rs`). Like `send`, it then lets the program run first, so
/// that what it prints mostly comes before the next prompt (the timer may
/// still switch back to the shell in the middle: the two run side by side).
fn run_program(cx: &mut Context, args: &Args) -> Result<(), Failure> {
    let name = args.text(0);
    let Some(program) = cx.programs.find(name) else {
        return Err(match cx.programs.all() {
            [] => Failure::explained(format_args!("no program named {} (no programs)", Quoted(name))),
            _ => Failure::explained(format_args!(
                "no program named {} (programs: {})",
                Quoted(name),
                cx.programs
            )),
        });
    };
    let slot = program.slot;
    if let Some(driver) = Driver::named(name) {
        return crate::drivers::start(cx, driver, slot);
    }
    crate::pager::attach_if_paged(cx, name, slot)?;
    match cx.sys.task_start(CAddr::root(slot)) {
        Err(Error::InUse) => {
            return Err(Failure::explained(format_args!(
                "{name} is still running: it has not exited yet (set active {slot} 0 stops it)"
            )));
        }
        result => result?,
    }
    cx.tasks.started(CAddr::root(slot));
    say!(cx.sys, "run: started {name} (task in slot {slot})");
    cx.sys.yield_now();
    Ok(())
}
// ANCHOR_END: run_program

fn shutdown(cx: &mut Context, _: &Args) -> Result<(), Failure> {
    say!(cx.sys, "shutting down");
    cx.sys.exit(0);
    Ok(())
}

/// A line of text built in place (no heap), at most [`Line::MAX`] bytes:
/// for formatting that needs a `&str`, such as padding, or that must
/// outlive the handler, such as [`Failure::Explained`].
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Line {
    bytes: [u8; Line::MAX],
    len: u8,
}

impl Line {
    /// The most bytes it holds: more than the screen's 80 columns, few
    /// enough that a handler's `Result` stays small to return.
    pub const MAX: usize = 112;

    const fn new() -> Line {
        Line { bytes: [0; Line::MAX], len: 0 }
    }

    /// Ends the line in `...`, in place of its last characters if it is
    /// full: for a line that was cut.
    fn mark_cut(&mut self) {
        const MARK: &str = "...";
        let mut end = usize::from(self.len).min(Line::MAX - MARK.len());
        while !self.as_str().is_char_boundary(end) {
            end -= 1;
        }
        self.bytes[end..end + MARK.len()].copy_from_slice(MARK.as_bytes());
        // At most Line::MAX, which fits.
        self.len = (end + MARK.len()) as u8;
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        // Only whole characters are copied in (`write_str`).
        core::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or("")
    }
}

impl fmt::Debug for Line {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

impl fmt::Write for Line {
    /// Copies `text`; what does not fit is cut, between two characters,
    /// and is an error.
    fn write_str(&mut self, text: &str) -> fmt::Result {
        let len = usize::from(self.len);
        let mut end = text.len().min(Line::MAX - len);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        self.bytes[len..len + end].copy_from_slice(&text.as_bytes()[..end]);
        // At most Line::MAX, which fits.
        self.len = (len + end) as u8;
        if end == text.len() { Ok(()) } else { Err(fmt::Error) }
    }
}
