//! The scheduler: round robin over the ready tasks, with the timer taking
//! the CPU back from a task that does not give it up.
//!
//! The kernel's main loop lives here. It takes the task at the front of
//! the run queue, runs it with `switch_to` until it traps, and decides
//! from the reason what happens next: a system call is handled and the
//! task goes on; a timer tick sends it to the back of the queue; a fault
//! stops it, with a report, and the others go on (or, if it has a fault
//! channel, suspends it for its handler: `faults.rs`). One shortcut, kept in
//! its own module: a put to a waiting taker may hand the CPU straight to
//! the taker (`fastpath.rs`).

use crate::devices::{self, Interrupt};
use crate::faults;
use crate::objects::audit::{self, AuditError, AuditReport};
use crate::objects::task::{RUN_QUEUE, Stop, TaskState, make_ready};
use crate::objects::{AnyObject, CPool, ManagedArc, ObjectKind, Task};
use crate::phases::{self, Mark};
use crate::shared_console::kernel_line;
use crate::syscalls::{self, Next};
use common::println;
use common::qemu::{self, ExitCode};
use common::user::Trap;
use x86_64::PhysAddr;
use x86_64::registers::control::Cr3;
use x86_64::structures::paging::PhysFrame;

// ANCHOR: run_forever
/// The kernel's main loop: runs ready tasks for ever, and waits for an
/// interrupt when none is ready. The machine stops when the first task,
/// `first`, exits, or when it is stopped for any other reason
/// ([`first_task_stopped`]).
pub fn run_forever(first: ManagedArc<Task>) -> ! {
    crate::shared_console::set_owner(first.id());
    loop {
        // Checked here, before each pick, and not where a task is stopped
        // (`make_inactive`, `report_stop`): those lie on the paths the
        // bench measures, this costs a load and a compare per turn.
        if let Some(state) = first_task_stopped(&first) {
            println!("the first task (task {}) was stopped ({state}): stopping", first.id());
            shut_down(false);
        }
        let Some(task) = RUN_QUEUE.pop_front() else {
            // Below what other tasks printed, the shell's prompt again.
            crate::shared_console::idle();
            // Tasks blocked in a take wait for a put, and input arrives by
            // interrupt: idle until one comes, unless input is waiting in
            // the serial chip already.
            if devices::poll_serial() == 0 {
                wait_for_interrupt();
            }
            continue;
        };
        if let Some(Exit { task, code }) = run_until_switch(task)
            && task == first.id()
        {
            if devices::lost_input() > 0 {
                println!("input: {} bytes were lost to a full input channel", devices::lost_input());
            }
            crate::phases::report();
            println!("the first task exited with code {code}: stopping");
            shut_down(code == 0);
        }
    }
}

/// Audits the kernel and stops the machine: with the success code if
/// `success` and the audit is clean.
fn shut_down(success: bool) -> ! {
    let clean = match audit() {
        Ok(report) => {
            println!("audit: {report}: ok");
            true
        }
        // Not audited is not a failure: nothing was found broken.
        Err(error) => error.is_too_many(),
    };
    qemu::exit(if success && clean { ExitCode::Success } else { ExitCode::Failure });
}
// ANCHOR_END: run_forever

/// How the first task was stopped, if it was: inactive (a `TaskStop`, its
/// own or another task's, or a fault handler's) or faulted (a fault with
/// no handler, its root pool or page table destroyed). It is the task that
/// drives the machine (rinit's shell): nothing is left to start it again,
/// and the machine would idle for ever.
fn first_task_stopped(first: &ManagedArc<Task>) -> Option<&'static str> {
    match first.run_state() {
        TaskState::Inactive => Some("inactive"),
        TaskState::Faulted(_) => Some("faulted"),
        _ => None,
    }
}

/// A task that ended: its number and exit code.
struct Exit {
    task: u64,
    code: u64,
}

// ANCHOR: run_until_switch
/// Runs `task` until it gives up the CPU, is preempted or stops, and
/// then, if a call switched straight to another task (the IPC fast path,
/// `fastpath.rs`), that task, and so on. Returns which task exited, if
/// one did.
fn run_until_switch(mut task: ManagedArc<Task>) -> Option<Exit> {
    task.set_run_state(TaskState::Running);
    let mut held = enter(&task)?;
    loop {
        phases::mark(Mark::Resuming);
        // SAFETY: `enter` loaded the task's PML4, which shares the kernel
        // half (made so when it was retyped).
        let trap = unsafe { task.run() };
        phases::mark(Mark::Trapped);
        match trap {
            // What runs next, the call's handler decided (`Next`).
            Trap::SystemCall => match syscalls::handle(&task, &held.pool) {
                Next::Caller => {}
                Next::Other => return requeue(&task),
                Next::Switch(next) => {
                    task = next;
                    held = enter(&task)?;
                }
                Next::Exit(code) => {
                    task.reset_to_start();
                    task.set_run_state(TaskState::Inactive);
                    return Some(Exit { task: task.id(), code });
                }
            },
            Trap::Interrupt(line) => {
                if devices::interrupt(line) == Interrupt::Tick {
                    return requeue(&task);
                }
            }
            Trap::Fault(fault) => {
                // Suspended for its handler, or stopped with a report.
                let _ = faults::suspend(&task, fault);
                return None;
            }
        }
    }
}
// ANCHOR_END: run_until_switch

// ANCHOR: enter
/// What a task runs with, held strongly while it runs: a task pins
/// nothing, so either may be gone since it last ran.
struct Held {
    pool: ManagedArc<CPool>,
    /// Held only so that the loaded page table stays alive.
    _table: ManagedArc<AnyObject>,
}

/// Enters `task`, which is about to run: looks up its root pool and page
/// table (a PML4) in its slots, and loads its address space. `None` if
/// either is gone: the task is stopped, with a report.
#[inline(always)] // on the fast path's way to the receiver: no call there
fn enter(task: &ManagedArc<Task>) -> Option<Held> {
    let pool = task.cpool_slot().upgrade::<CPool>().map_err(|_| Stop::NoPool);
    let table = task.table_slot().upgrade::<AnyObject>().ok().filter(|t| t.kind() == ObjectKind::Pml4);
    match (pool, table.ok_or(Stop::NoTable)) {
        (Ok(pool), Ok(table)) => {
            load_address_space(&table);
            Some(Held { pool, _table: table })
        }
        (Err(why), _) | (_, Err(why)) => {
            stop(task, why);
            None
        }
    }
}
// ANCHOR_END: enter

/// Sends a task that is still running to the back of the run queue.
fn requeue(task: &ManagedArc<Task>) -> Option<Exit> {
    if task.run_state() == TaskState::Running {
        make_ready(task);
    }
    None
}

// ANCHOR: stop
/// Stops `task` for `why`, with a report; the other tasks go on. Out of
/// line and cold: the loop of `run_until_switch` keeps its registers for
/// the paths every call takes.
#[cold]
#[inline(never)]
fn stop(task: &ManagedArc<Task>, why: Stop) -> Option<Exit> {
    report_stop(task, why);
    None
}

/// Prints why `task` stops, and makes it Faulted (also for `faults.rs`).
pub fn report_stop(task: &ManagedArc<Task>, why: Stop) {
    match why {
        Stop::Fault(fault) => kernel_line(format_args!("task {} stopped by a fault: {fault}", task.id())),
        Stop::NoPool => {
            kernel_line(format_args!("task {} stopped: its root capability pool was destroyed", task.id()))
        }
        Stop::NoTable => {
            kernel_line(format_args!("task {} stopped: its page table was destroyed", task.id()))
        }
    }
    task.set_run_state(TaskState::Faulted(why));
}
// ANCHOR_END: stop

/// Loads the address space whose PML4 is `table`, unless it is loaded.
fn load_address_space(table: &ManagedArc<AnyObject>) {
    let frame = PhysFrame::containing_address(PhysAddr::new(table.address()));
    let (current, flags) = Cr3::read();
    if current != frame {
        // SAFETY: a PML4 object shares the kernel half of the kernel's own
        // tables (copied when it was retyped), so the kernel runs on.
        unsafe { Cr3::write(frame, flags) };
    }
}

// ANCHOR: audit
/// Audits every object the kernel has (`objects::audit`), the run queue
/// included; a broken invariant is printed as a line starting
/// `AUDIT FAILED:`, which no boot test lets pass. More objects than the
/// audit has room for is said apart: not audited, which is no failure.
pub fn audit() -> Result<AuditReport, AuditError> {
    let result = audit::audit_kernel(&RUN_QUEUE);
    match &result {
        Err(error) if error.is_too_many() => {
            println!("audit: not done: more objects than its room for {}", audit::SCRATCH);
        }
        Err(error) => println!("AUDIT FAILED: {error}"),
        Ok(_) => {}
    }
    result
}
// ANCHOR_END: audit

/// The numbers of the tasks in the run queue, front first (at most
/// `limit`: a bound, so that a broken link cannot make a walk spin).
pub fn ready_tasks(limit: usize) -> impl Iterator<Item = u64> {
    RUN_QUEUE.ids(limit)
}

// ANCHOR: idle
/// Lets interrupts in until one arrives, then shuts them out again: the
/// kernel's idle loop, one turn. The interrupt is handled in ring 0 on the
/// kernel's stack (`kernel_trap` in `main.rs`); `sti` takes effect after the
/// next instruction, so no interrupt can slip in between it and `hlt`.
#[unsafe(naked)]
extern "C" fn wait_for_interrupt() {
    // No Rust code runs here, so no red zone can be overwritten by the
    // interrupt frame the CPU pushes below the return address.
    core::arch::naked_asm!("sti", "hlt", "cli", "ret");
}
// ANCHOR_END: idle
