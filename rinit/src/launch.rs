//! Loading and starting the programs GRUB loaded, by name: the one place
//! rinit calls the loader (`ulib::loader`) from. The kernel handed each
//! program over as a pool of read-only pages (`rinit::programs`); these
//! functions build its task in user space and start it.
//!
//! - [`load`]: the program named, from its module, into a task in its task
//!   slot (`Program::task_slot`), configured and inactive, with a given
//!   channel as its slot 255; the shell's `run` uses it (through
//!   `System::load_program`), and so does the bench;
//! - [`start`]: [`load`] with channel 255 (the shell's, `abi::task_root::
//!   CHANNEL`), then `TaskStart`: what anything that starts a program at
//!   boot calls.

use abi::task_root::{CHANNEL, PML4, PROGRAM_MEMORY};
use abi::{CAddr, Error};
use core::fmt;
use rinit::programs::{LOADER_TABLES, Program, Programs};
use ulib::loader::{self, Grants, LoadError, Module, Workspace};

/// Why a program was not started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartError {
    /// No program of that name was loaded by GRUB.
    NoSuchProgram,
    /// The loader refused it.
    Load(LoadError),
    /// `TaskStart` refused the task.
    Start(Error),
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            StartError::NoSuchProgram => f.write_str("no program of that name was loaded"),
            StartError::Load(error) => write!(f, "{error}"),
            StartError::Start(error) => write!(f, "{error}"),
        }
    }
}

/// The loader's part of rinit: the untyped the kernel gave it for the
/// programs, its address space, and the slots of its window's tables.
const WORKSPACE: Workspace = Workspace {
    untyped: CAddr::root(PROGRAM_MEMORY),
    space: CAddr::root(PML4),
    tables: [CAddr::root(LOADER_TABLES[0]), CAddr::root(LOADER_TABLES[1]), CAddr::root(LOADER_TABLES[2])],
};

// ANCHOR: load
/// Loads `program` into a task in root slot `program.task_slot()`,
/// configured and inactive, with the channel in `channel` as its slot 255;
/// returns its entry point.
pub fn load(program: &Program, channel: CAddr) -> Result<u64, LoadError> {
    let module = Module { slot: program.slot, length: program.length };
    let grants = Grants { channel, task: CAddr::root(program.task_slot()) };
    loader::load(&mut loader::Syscalls, &WORKSPACE, module, &grants)
}
// ANCHOR_END: load

// ANCHOR: start
/// Loads the program named `name` (one of `programs`) and starts it, with
/// channel 255 as its slot 255; returns the root slot of its task.
pub fn start(programs: &Programs, name: &str) -> Result<u8, StartError> {
    let program = programs.find(name).ok_or(StartError::NoSuchProgram)?;
    load(program, CAddr::root(CHANNEL)).map_err(StartError::Load)?;
    let task = program.task_slot();
    // SAFETY: the task has an address space of its own, which the loader
    // just built: it shares no memory with rinit.
    unsafe { ulib::syscall::task_start(CAddr::root(task)) }.map_err(StartError::Start)?;
    Ok(task)
}
// ANCHOR_END: start
