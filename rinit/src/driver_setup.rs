//! The system calls behind starting a driver (`rinit::drivers`): its
//! objects, derived from the kernel's devices pool out of an untyped of
//! its own, and the handing over on channel 255 that `ulib::driver`
//! describes.

use abi::syscall::{MessageKind, TaskField};
use abi::task_root::{CHANNEL, DEVICES, INPUT, UNTYPED};
use abi::{CAddr, Error, ObjectKind, STACK_TOP, is_user_range};
use core::sync::atomic::{AtomicU64, Ordering};
use rinit::drivers::{DRIVER_MEMORY, DRIVERS, Driver};
use ulib::driver::READY;
use ulib::syscall::{
    channel_put, channel_take, delete, irq_derive, port_derive, retype, revoke, task_set, task_start,
    task_stop,
};

/// Whether `address` may be where a task starts: in the user half.
fn is_user_address(address: u64) -> bool {
    address != 0 && is_user_range(address, 1)
}

/// Where each driver of `rinit::drivers::DRIVERS` starts over, as it said
/// after its first start (0 until then: the kernel set it up to start
/// from its entry).
static START_OVER: [AtomicU64; DRIVERS.len()] = [const { AtomicU64::new(0) }; DRIVERS.len()];

/// A slot of the kernel's devices pool (root slot 251).
fn device(slot: u8) -> CAddr {
    CAddr::new(&[DEVICES, slot]).expect("a two-step address")
}

// ANCHOR: start
/// Starts the driver program in `task` for `driver`: what its last run
/// held is revoked, fresh objects are made, the driver is started and
/// handed them, and this returns once it holds them.
pub fn start(task: CAddr, driver: &Driver) -> Result<(), Error> {
    let untyped = driver.untyped();
    match retype(CAddr::root(UNTYPED), ObjectKind::Untyped, untyped, DRIVER_MEMORY) {
        Ok(_) => {}
        // A run before this one: everything made out of it goes, the
        // driver's copies with it (its line is masked and unbound, its
        // ports closed), and its memory is free again.
        Err(Error::SlotOccupied) => {
            revoke(untyped)?;
        }
        Err(error) => return Err(error),
    }
    let (irq, ports, interrupts, replies) =
        (driver.irq(), driver.port_range(), driver.interrupts(), driver.replies());
    for slot in [irq, ports, interrupts, replies] {
        match delete(slot) {
            Ok(_) | Err(Error::EmptySlot) => {}
            Err(error) => return Err(error),
        }
    }
    irq_derive(device(driver.line), untyped, irq)?;
    port_derive(device(driver.ports), untyped, ports, driver.span.first, driver.port_count())?;
    retype(untyped, ObjectKind::Channel, interrupts, 0)?;
    retype(untyped, ObjectKind::Channel, replies, 0)?;
    // A run before this one may have been stopped anywhere: from its
    // beginning again, on a fresh stack.
    let start_over = &START_OVER[driver.index()];
    if start_over.load(Ordering::Relaxed) != 0 {
        task_set(task, TaskField::Instruction, start_over.load(Ordering::Relaxed))?;
        task_set(task, TaskField::Stack, STACK_TOP)?;
    }
    // SAFETY: the driver runs in its own address space.
    unsafe { task_start(task) }?;
    // In the order of `ulib::driver::HANDED`; the driver takes them as
    // they come. If one cannot be put, the driver holds only some: it is
    // stopped again.
    let handed = [irq, ports, interrupts, CAddr::root(INPUT), replies];
    for capability in handed {
        if let Err(error) = channel_put(CAddr::root(CHANNEL), MessageKind::Capability, capability.to_raw()) {
            let _ = task_stop(task);
            return Err(error);
        }
    }
    // READY carries no capability: the occupied slot of the channel will
    // do as the destination.
    let (MessageKind::Raw, READY) = channel_take(replies, replies)? else { return Err(Error::NotConfigured) };
    match channel_take(replies, replies)? {
        (MessageKind::Raw, address) if is_user_address(address) => {
            start_over.store(address, Ordering::Relaxed);
            Ok(())
        }
        _ => Err(Error::NotConfigured),
    }
}
// ANCHOR_END: start
