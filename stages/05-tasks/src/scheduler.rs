//! The scheduler: round robin over the ready tasks, with the timer taking
//! the CPU back from a task that does not give it up.
//!
//! The kernel's main loop lives here. It takes the task at the front of
//! the run queue, runs it with `switch_to` until it traps, and decides
//! from the reason what happens next: a system call is handled and the
//! task goes on; a timer tick sends it to the back of the queue; a fault
//! stops it, with a report, and the others go on.

use crate::objects::task::{RUN_QUEUE, Stop, TaskState, make_ready};
use crate::objects::{AnyObject, CPool, ManagedArc, ObjectKind, Task};
use crate::syscalls::{self, Next};
use common::pic::{self, TIMER_IRQ};
use common::println;
use common::qemu::{self, ExitCode};
use common::user::Trap;
use core::sync::atomic::{AtomicU64, Ordering};
use x86_64::PhysAddr;
use x86_64::registers::control::Cr3;
use x86_64::structures::paging::PhysFrame;

/// Timer ticks since the timer started.
static TICKS: AtomicU64 = AtomicU64::new(0);

// ANCHOR: run_forever
/// The kernel's main loop: runs ready tasks for ever. The machine stops
/// when the first task, `first`, exits, or when no task is left to run.
pub fn run_forever(first: u64) -> ! {
    loop {
        let Some(task) = RUN_QUEUE.pop_front() else {
            // Nothing in stage 5 makes a task ready again once the queue is
            // empty: nothing is left to do.
            println!("no task is ready to run: stopping");
            qemu::exit(ExitCode::Failure);
        };
        if let Some(code) = run_until_switch(&task)
            && task.id() == first
        {
            println!("the first task exited with code {code}: stopping");
            qemu::exit(if code == 0 { ExitCode::Success } else { ExitCode::Failure });
        }
    }
}
// ANCHOR_END: run_forever

// ANCHOR: run_until_switch
/// Runs `task` until it gives up the CPU, is preempted or stops. Returns
/// its exit code if it exited.
fn run_until_switch(task: &ManagedArc<Task>) -> Option<u64> {
    task.set_run_state(TaskState::Running);
    loop {
        let held = enter(task)?;
        // SAFETY: `enter` loaded the task's PML4, which shares the kernel
        // half (made so when it was retyped).
        let trap = unsafe { task.run() };
        match trap {
            // What runs next, the call's handler decided (`Next`).
            Trap::SystemCall => match syscalls::handle(task, &held.pool) {
                Next::Caller => {}
                Next::Other => return requeue(task),
                Next::Exit(code) => {
                    task.set_run_state(TaskState::Inactive);
                    return Some(code);
                }
            },
            Trap::Interrupt(line) => {
                if pic::end_of_interrupt(line) && line == TIMER_IRQ {
                    TICKS.fetch_add(1, Ordering::Relaxed);
                    return requeue(task);
                }
            }
            Trap::Fault(fault) => return stop(task, Stop::Fault(fault)),
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
fn requeue(task: &ManagedArc<Task>) -> Option<u64> {
    if task.run_state() == TaskState::Running {
        make_ready(task);
    }
    None
}

// ANCHOR: stop
/// Stops `task` for `why`, with a report; the other tasks go on.
fn stop(task: &ManagedArc<Task>, why: Stop) -> Option<u64> {
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

/// The numbers of the tasks in the run queue, front first (at most
/// `limit`: a bound, so that a broken link cannot make a walk spin).
pub fn ready_tasks(limit: usize) -> impl Iterator<Item = u64> {
    RUN_QUEUE.ids(limit)
}

/// Timer ticks so far.
pub fn ticks() -> u64 {
    TICKS.load(Ordering::Relaxed)
}
