//! Tasks a program starts itself, in its own address space: their stacks,
//! their entry, and how `print!` finds a task's buffer.
//!
//! A task started on this program's image shares its memory, like a thread,
//! but has its own stack and its own task buffer page, mapped at its own
//! address. `print!` must use the buffer of the task that runs it, so this
//! module keeps a small registry: for each started task, its stack and its
//! buffer's address. The calling task is the one whose stack holds the
//! stack pointer; a stack pointer on no registered stack is the first
//! task's, whose buffer is at [`abi::TASK_BUFFER`]. (Early Linux threads
//! found their thread descriptor the same way.)
//!
//! **Teaching shortcut:** x86-64 programs normally keep such per-thread data
//! behind the FS segment base; the kernel would then save and restore FS
//! for each task. A registry keeps the kernel out of it.
//!
//! How a task starts ([`prepare`]): the stack pointer it is given points at
//! its entry function, which the program wrote at the top of its stack;
//! its instruction pointer is [`task_entry`], which pops that function,
//! aligns the stack as the System V ABI expects, calls the function, and
//! exits with its result, as `_start` does for `main`.

use crate::syscall::exit;
use abi::Error;
use core::arch::naked_asm;
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicU64, Ordering};

/// How many started tasks the registry has room for.
pub const MAX_TASKS: usize = 8;

/// A task's entry function: what it returns becomes its exit code.
pub type Entry = fn() -> Result<(), Error>;

// ANCHOR: stack
/// Memory for the stack of a task the program starts. Put it in the
/// `.stacks` section, which `user.ld` places after a page it never maps, so
/// that the lowest stack there overflows into a fault instead of into
/// other data:
///
/// ```ignore
/// #[unsafe(link_section = ".stacks")]
/// static CHILD_STACK: Stack<{ 16 * 1024 }> = Stack::new();
/// ```
#[repr(C, align(4096))]
pub struct Stack<const SIZE: usize>(UnsafeCell<[u8; SIZE]>);
// ANCHOR_END: stack

// SAFETY: Rust code never reads or writes a stack's bytes through shared
// references: only the CPU does, as the stack of the one task running on
// it, and `prepare`, through a raw pointer, before that task starts.
unsafe impl<const SIZE: usize> Sync for Stack<SIZE> {}

impl<const SIZE: usize> Stack<SIZE> {
    /// A zeroed stack; `SIZE` is a multiple of 4096.
    #[allow(clippy::new_without_default)]
    pub const fn new() -> Self {
        assert!(SIZE >= 4096 && SIZE.is_multiple_of(4096), "a stack is whole pages");
        Stack(UnsafeCell::new([0; SIZE]))
    }

    /// Its lowest address.
    pub fn bottom(&self) -> u64 {
        self.0.get() as u64
    }

    /// The address just above it, where the stack starts.
    pub fn top(&self) -> u64 {
        self.bottom() + SIZE as u64
    }
}

/// Where a prepared task starts: give it to the task with `TaskSet`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Start {
    /// For [`abi::syscall::TaskField::Stack`].
    pub stack_pointer: u64,
    /// For [`abi::syscall::TaskField::Instruction`]: [`task_entry`].
    pub instruction_pointer: u64,
}

/// The registry has no room for another task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RegistryFull;

// ANCHOR: prepare
/// Prepares `stack` for a task that runs `entry` with its task buffer mapped
/// at `buffer`, and returns where the task starts.
///
/// # Safety
/// The task's buffer page is mapped writable at `buffer` before the task
/// starts, and no Rust data lives there; at most one task runs on `stack`
/// at a time, and it is started only after this returns.
pub unsafe fn prepare<const SIZE: usize>(
    stack: &'static Stack<SIZE>,
    buffer: u64,
    entry: Entry,
) -> Result<Start, RegistryFull> {
    REGISTRY.register(stack.bottom(), stack.top(), buffer)?;
    // The top 16 bytes: the entry function, then padding. `task_entry` pops
    // the function; the stack below is the task's.
    let slot = stack.0.get().cast::<u8>().wrapping_add(SIZE - 16).cast::<u64>();
    // SAFETY: the slot is inside the stack and 16-byte aligned (the stack is
    // page aligned); no task runs on the stack yet (the caller's promise).
    unsafe { slot.write(entry as *const () as u64) };
    Ok(Start { stack_pointer: stack.top() - 16, instruction_pointer: task_entry as *const () as u64 })
}
// ANCHOR_END: prepare

// ANCHOR: task_entry
/// Where a started task begins: pops its entry function (written by
/// [`prepare`]), aligns the stack, and runs it.
#[unsafe(naked)]
pub extern "C" fn task_entry() -> ! {
    naked_asm!(
        "pop rdi",      // the entry function
        "and rsp, -16", // as if called: aligned before the call pushes
        "xor ebp, ebp", // the end of the frame-pointer chain
        "call {run}",
        "ud2",
        run = sym run_task,
    )
}
// ANCHOR_END: task_entry

/// Runs a started task's entry function (passed as a plain pointer: a Rust
/// function pointer is not a C type) and exits with its result.
extern "C" fn run_task(entry: *const ()) -> ! {
    // SAFETY: `task_entry` passes what `prepare` wrote at the top of the
    // stack: an `Entry`, as a pointer. (A task given another stack pointer
    // than the one `prepare` returned breaks `task_start`'s contract.)
    let entry = unsafe { core::mem::transmute::<*const (), Entry>(entry) };
    let result = entry();
    if let Err(error) = result {
        crate::println!("task failed: {error}");
    }
    exit(crate::exit_code(result))
}

/// The buffer of the calling task, found by its stack pointer.
pub fn current_buffer() -> u64 {
    let stack_pointer: u64;
    // SAFETY: reads rsp into a register, nothing else.
    unsafe {
        core::arch::asm!("mov {}, rsp", out(reg) stack_pointer, options(nomem, nostack, preserves_flags))
    };
    REGISTRY.buffer_for(stack_pointer).unwrap_or(abi::TASK_BUFFER)
}

static REGISTRY: Registry = Registry::new();

// ANCHOR: registry
/// The started tasks: their stacks and buffers. An entry is claimed by
/// setting its `bottom`, and published by setting its `top` last, so a
/// reader that sees a `top` also sees the rest.
struct Registry {
    entries: [RegistryEntry; MAX_TASKS],
}

struct RegistryEntry {
    bottom: AtomicU64,
    top: AtomicU64,
    buffer: AtomicU64,
}

impl Registry {
    const fn new() -> Registry {
        Registry {
            entries: [const {
                RegistryEntry { bottom: AtomicU64::new(0), top: AtomicU64::new(0), buffer: AtomicU64::new(0) }
            }; MAX_TASKS],
        }
    }

    /// Records that the stack `bottom..top` belongs to a task whose buffer
    /// is at `buffer` (a stack registered again gets the new buffer).
    fn register(&self, bottom: u64, top: u64, buffer: u64) -> Result<(), RegistryFull> {
        for entry in &self.entries {
            let claimed = entry.bottom.compare_exchange(0, bottom, Ordering::AcqRel, Ordering::Acquire);
            if claimed.is_ok() || claimed == Err(bottom) {
                entry.buffer.store(buffer, Ordering::Relaxed);
                entry.top.store(top, Ordering::Release);
                return Ok(());
            }
        }
        Err(RegistryFull)
    }

    /// The buffer of the task whose stack holds `stack_pointer`.
    fn buffer_for(&self, stack_pointer: u64) -> Option<u64> {
        self.entries.iter().find_map(|entry| {
            let top = entry.top.load(Ordering::Acquire);
            let on_stack = entry.bottom.load(Ordering::Relaxed) < stack_pointer && stack_pointer <= top;
            on_stack.then(|| entry.buffer.load(Ordering::Relaxed))
        })
    }
}
// ANCHOR_END: registry

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stack_pointer_finds_the_task() {
        let registry = Registry::new();
        assert_eq!(registry.buffer_for(0x1000), None);
        registry.register(0x10_0000, 0x10_4000, 0x3000_1000).unwrap();
        registry.register(0x20_0000, 0x20_2000, 0x3000_2000).unwrap();
        assert_eq!(registry.buffer_for(0x10_4000), Some(0x3000_1000), "empty stack: rsp at the top");
        assert_eq!(registry.buffer_for(0x10_0008), Some(0x3000_1000));
        assert_eq!(registry.buffer_for(0x10_0000), None, "rsp at the bottom: nothing left to push on");
        assert_eq!(registry.buffer_for(0x20_1000), Some(0x3000_2000));
        assert_eq!(registry.buffer_for(0x30_0000), None, "the first task's stack");
    }

    #[test]
    fn a_stack_registered_again_keeps_its_entry() {
        let registry = Registry::new();
        for buffer in [1, 2, 3] {
            registry.register(0x10_0000, 0x10_4000, buffer).unwrap();
        }
        assert_eq!(registry.buffer_for(0x10_2000), Some(3));
        for n in 1..MAX_TASKS as u64 {
            registry.register(n << 24, (n << 24) + 0x1000, n).unwrap();
        }
        assert_eq!(registry.register(0x7000_0000, 0x7000_1000, 9), Err(RegistryFull));
    }

    #[test]
    fn prepare_points_the_task_at_its_entry() {
        static STACK: Stack<4096> = Stack::new();
        fn entry() -> Result<(), Error> {
            Ok(())
        }
        // SAFETY: the buffer is never used (no task starts here); no task
        // runs on the stack.
        let start = unsafe { prepare(&STACK, 0x3000_1000, entry) }.unwrap();
        assert_eq!(start.stack_pointer, STACK.top() - 16);
        assert_eq!(start.stack_pointer % 16, 0);
        assert_eq!(start.instruction_pointer, task_entry as *const () as u64);
        // SAFETY: the slot `prepare` wrote, inside the stack, aligned.
        let written = unsafe { STACK.0.get().cast::<u8>().add(4096 - 16).cast::<u64>().read() };
        assert_eq!(written, entry as *const () as u64);
        assert_eq!(REGISTRY.buffer_for(start.stack_pointer), Some(0x3000_1000));
    }
}
