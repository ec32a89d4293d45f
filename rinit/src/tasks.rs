//! `tasks`: one line per task the shell knows, `<slot>: <name> <state>`:
//! the shell itself (slot 4), the child (249) once made, and every program
//! GRUB loaded (236 on), the drivers among them.
//!
//! The kernel has no call that tells a task's state, so the shell puts
//! together what it knows: whether the kernel says the task is live (the
//! probe of [`is_running`]) and what the shell itself did to it last
//! ([`TaskBook`]):
//!
//! | state | meaning |
//! |---|---|
//! | `running` | live: running, ready, or waiting for a message |
//! | `inactive` | not started since boot |
//! | `stopped` | stopped by the shell (`set active <slot> 0`) |
//! | `ended` | started, and no longer live: it exited, or a fault stopped it (the kernel's line said which) |

use crate::commands::{Args, CHILD_TASK, Context, Failure};
use crate::system::say;
use abi::syscall::{ListEntry, TaskField};
use abi::task_root::{CPOOL, TASK};
use abi::{CAddr, Error, ObjectKind, USER_END};

/// What the shell last did to the task in a slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Done {
    Nothing,
    Started,
    Stopped,
}

/// What the shell last did to the task in each root slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TaskBook([Done; 256]);

impl TaskBook {
    pub const fn new() -> TaskBook {
        TaskBook([Done::Nothing; 256])
    }

    fn index(task: CAddr) -> usize {
        usize::from(task.path().first().copied().unwrap_or(0))
    }

    /// The shell started the task in `task`.
    pub fn started(&mut self, task: CAddr) {
        self.0[TaskBook::index(task)] = Done::Started;
    }

    /// The shell stopped the task in `task`.
    pub fn stopped(&mut self, task: CAddr) {
        self.0[TaskBook::index(task)] = Done::Stopped;
    }

    /// A new task in `task`: nothing done to it yet.
    pub fn clear(&mut self, task: CAddr) {
        self.0[TaskBook::index(task)] = Done::Nothing;
    }

    /// The state `tasks` shows for the task in `task`, live or not.
    pub fn state(&self, task: CAddr, live: bool) -> &'static str {
        match (live, self.0[TaskBook::index(task)]) {
            (true, _) => "running",
            (false, Done::Nothing) => "inactive",
            (false, Done::Stopped) => "stopped",
            (false, Done::Started) => "ended",
        }
    }
}

impl Default for TaskBook {
    fn default() -> Self {
        TaskBook::new()
    }
}

// ANCHOR: probe
/// Whether the task in `task` is live (running, ready, or waiting for a
/// message). The kernel refuses to change a live task's fields
/// ([`Error::InUse`]) before it looks at the value, and refuses a stack
/// pointer outside the user half of any other task: so a `TaskSet` of the
/// stack to [`USER_END`] asks, and changes nothing either way.
pub fn is_running(cx: &mut Context, task: CAddr) -> Result<bool, Error> {
    match cx.sys.task_set(task, TaskField::Stack, USER_END) {
        Err(Error::InUse) => Ok(true),
        Err(Error::NotUserAddress) => Ok(false),
        Err(error) => Err(error),
        Ok(()) => unreachable!("the kernel set a stack pointer outside the user half"),
    }
}
// ANCHOR_END: probe

// ANCHOR: tasks
/// `tasks`: the shell, the child, then the programs, each with its state.
pub fn tasks(cx: &mut Context, _: &Args) -> Result<(), Failure> {
    say!(cx.sys, "{TASK}: rinit running");
    let mut entries = [ListEntry { slot: 0, kind: 0, detail: 0 }; ListEntry::MAX];
    let count = cx.sys.list_pool(CAddr::root(CPOOL), &mut entries)?;
    let is_task =
        |slot: u8| entries[..count].iter().any(|e| e.slot == slot && e.kind == ObjectKind::Task as u8);
    if is_task(CHILD_TASK) {
        line(cx, CHILD_TASK, "child")?;
    }
    let programs = *cx.programs;
    for program in programs.all() {
        line(cx, program.slot, program.name())?;
    }
    Ok(())
}

fn line(cx: &mut Context, slot: u8, name: &str) -> Result<(), Failure> {
    let task = CAddr::root(slot);
    let live = is_running(cx, task)?;
    let state = cx.tasks.state(task, live);
    say!(cx.sys, "{slot}: {name} {state}");
    Ok(())
}
// ANCHOR_END: tasks
