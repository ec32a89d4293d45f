//! The scheduler: round robin over the ready tasks, with the timer taking
//! the CPU back from a task that does not give it up.
//!
//! The kernel's main loop lives here. It takes the task at the front of
//! the run queue, runs it with `switch_to` until it traps, and decides
//! from the reason what happens next: a system call is handled and the
//! task goes on; a timer tick sends it to the back of the queue; a fault
//! stops it, with a report, and the others go on. One shortcut, kept in
//! its own module: a put to a waiting taker may hand the CPU straight to
//! the taker (`fastpath.rs`).

use crate::devices::{self, Interrupt};
use crate::fastpath;
use crate::objects::audit::{self, AuditError, AuditReport};
use crate::objects::task::{Stop, TaskQueue, TaskState};
use crate::objects::{AnyObject, CPool, ManagedArc, ObjectKind, Task};
use crate::phases::{self, Mark};
use crate::syscalls::{self, After};
use common::println;
use common::qemu::{self, ExitCode};
use common::user::{self, Trap};
use x86_64::PhysAddr;
use x86_64::registers::control::Cr3;
use x86_64::structures::paging::PhysFrame;

// ANCHOR: run_queue
/// The tasks ready to run, in the order they will.
static RUN_QUEUE: TaskQueue = TaskQueue::new();

/// Makes `task` ready: it joins the back of the run queue.
pub fn make_ready(task: &ManagedArc<Task>) {
    task.set_run_state(TaskState::Ready);
    RUN_QUEUE.push_back(task);
}

/// Whether no task is ready (the fast path's condition: see `fastpath.rs`).
pub fn nothing_ready() -> bool {
    RUN_QUEUE.is_empty()
}

/// Makes `task` inactive: out of the run queue or a channel's queue of
/// takers, or off the CPU once its system call returns. A take it was
/// blocked in is cancelled: it returns `ChannelEmpty` if the task is
/// started again.
pub fn make_inactive(task: &ManagedArc<Task>) {
    match task.run_state() {
        TaskState::Ready => task.leave_queue(),
        TaskState::Blocked => {
            task.leave_queue();
            // SAFETY: a blocked task is not running; nothing else uses it.
            unsafe { task.context() }.frame.rax = abi::Error::ChannelEmpty as u64;
        }
        _ => {}
    }
    task.set_run_state(TaskState::Inactive);
}
// ANCHOR_END: run_queue

// ANCHOR: run_forever
/// The kernel's main loop: runs ready tasks for ever, and waits for an
/// interrupt when none is ready. The machine stops when the first task,
/// `first`, exits.
pub fn run_forever(first: u64) -> ! {
    loop {
        let Some(task) = RUN_QUEUE.pop_front() else {
            // Tasks blocked in a take wait for a put, and input arrives by
            // interrupt: idle until one comes, unless input is waiting in
            // the serial chip already.
            if devices::poll_serial() == 0 {
                wait_for_interrupt();
            }
            continue;
        };
        if let Some(Exit { task, code }) = run_until_switch(task)
            && task == first
        {
            if devices::lost_input() > 0 {
                println!("input: {} bytes were lost to a full input channel", devices::lost_input());
            }
            crate::phases::report();
            println!("the first task exited with code {code}: stopping");
            let clean = match audit() {
                Ok(report) => {
                    println!("audit: {report}: ok");
                    true
                }
                Err(_) => false,
            };
            qemu::exit(if code == 0 && clean { ExitCode::Success } else { ExitCode::Failure });
        }
    }
}
// ANCHOR_END: run_forever

/// A task that ended: its number and exit code.
struct Exit {
    task: u64,
    code: u64,
}

// ANCHOR: run_until_switch
/// Runs `task` until it gives up the CPU, is preempted or stops, and
/// then, if the IPC fast path handed the CPU straight to another task
/// (`fastpath.rs`), that task, and so on. Returns which task exited, if
/// one did.
fn run_until_switch(mut task: ManagedArc<Task>) -> Option<Exit> {
    task.set_run_state(TaskState::Running);
    // What the task runs with, held strongly while it runs: a task pins
    // nothing, so either may be gone since it last ran.
    let (mut pool, mut table) = match runs_with(&task) {
        Ok(found) => found,
        Err(why) => return stop(&task, why),
    };
    load_address_space(&table);
    loop {
        phases::mark(Mark::Resuming);
        // SAFETY: the task's PML4 is loaded, and shares the kernel half
        // (made so when it was retyped); nothing else uses the context.
        let trap = unsafe { user::run(task.context()) };
        phases::mark(Mark::Trapped);
        match trap {
            Trap::SystemCall => {
                // The fast path first: a put to a waiting taker switches
                // straight to it. Anything else goes the general way.
                if let Some(receiver) = fastpath::channel_put(&task, &pool) {
                    task = receiver;
                    (pool, table) = match runs_with(&task) {
                        Ok(found) => found,
                        Err(why) => return stop(&task, why),
                    };
                    load_address_space(&table);
                    continue;
                }
                match syscalls::handle(&task, &pool) {
                    After::Continue => {}
                    After::Recheck => {
                        // The call may have changed what the task runs
                        // with: look it up again if so. (None can today:
                        // TaskSet refuses a running task, revoke an object
                        // in use; comparing two addresses is cheap, and
                        // keeps this loop right if that changes.)
                        if !task.cpool_slot().names(&pool) || !task.table_slot().names(&table) {
                            (pool, table) = match runs_with(&task) {
                                Ok(found) => found,
                                Err(why) => return stop(&task, why),
                            };
                            load_address_space(&table);
                        }
                    }
                    After::Yield => return requeue(&task),
                    After::Stopped | After::Blocked => return None,
                    After::Exit(code) => {
                        task.reset_to_start();
                        task.set_run_state(TaskState::Inactive);
                        return Some(Exit { task: task.id(), code });
                    }
                }
            }
            Trap::Interrupt(line) => {
                if devices::interrupt(line) == Interrupt::Tick {
                    return requeue(&task);
                }
            }
            Trap::Fault(fault) => return stop(&task, Stop::Fault(fault)),
        }
    }
}

/// The task's root pool and page table (a PML4), looked up in its slots;
/// why it cannot run if either is gone.
fn runs_with(task: &ManagedArc<Task>) -> Result<(ManagedArc<CPool>, ManagedArc<AnyObject>), Stop> {
    let pool = task.cpool_slot().upgrade::<CPool>().map_err(|_| Stop::NoPool)?;
    let table = task.table_slot().upgrade::<AnyObject>().ok().filter(|t| t.kind() == ObjectKind::Pml4);
    Ok((pool, table.ok_or(Stop::NoTable)?))
}
// ANCHOR_END: run_until_switch

/// Sends a task that is still running to the back of the run queue.
fn requeue(task: &ManagedArc<Task>) -> Option<Exit> {
    if task.run_state() == TaskState::Running {
        make_ready(task);
    }
    None
}

// ANCHOR: stop
/// Stops `task` for `why`, with a report; the other tasks go on.
fn stop(task: &ManagedArc<Task>, why: Stop) -> Option<Exit> {
    match why {
        Stop::Fault(fault) => println!("task {} stopped by a fault: {fault}", task.id()),
        Stop::NoPool => println!("task {} stopped: its root capability pool was destroyed", task.id()),
        Stop::NoTable => println!("task {} stopped: its page table was destroyed", task.id()),
    }
    task.set_run_state(TaskState::Faulted(why));
    None
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
/// `AUDIT FAILED:`, which no boot test lets pass.
pub fn audit() -> Result<AuditReport, AuditError> {
    let result = audit::audit_kernel(&RUN_QUEUE);
    if let Err(error) = &result {
        println!("AUDIT FAILED: {error}");
    }
    result
}
// ANCHOR_END: audit

/// The numbers of the tasks in the run queue, front first (at most
/// `limit`: a bound, so that a broken link cannot make a walk spin).
pub fn ready_tasks(limit: usize) -> impl Iterator<Item = u64> {
    RUN_QUEUE.ids(limit)
}

/// The run queue itself, for host tests that play the scheduler.
#[cfg(any(test, feature = "host-twin"))]
pub fn run_queue() -> &'static TaskQueue {
    &RUN_QUEUE
}

/// For host tests, which share the one run queue and have no CPU to run
/// its tasks on: the queue to themselves, emptied.
#[cfg(test)]
pub fn run_queue_for_tests() -> std::sync::MutexGuard<'static, ()> {
    static USERS: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let guard = USERS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    while RUN_QUEUE.pop_front().is_some() {}
    guard
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
