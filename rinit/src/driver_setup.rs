//! The system calls behind starting a driver (`rinit::drivers`): its
//! objects, derived from the kernel's devices pool out of an untyped of
//! its own; the driver loaded afresh from its module (`launch::load`),
//! with its own reply channel as its slot 255; its capabilities put
//! straight into its root pool, as `ulib::driver` describes. Nothing goes
//! over the shell's channel 255, where the child takes.

use abi::syscall::MessageKind;
use abi::task_root::{DEVICES, INPUT, UNTYPED};
use abi::{CAddr, Error, ObjectKind};
use rinit::commands::Failure;
use rinit::drivers::{DRIVER_MEMORY, Driver};
use rinit::programs::Program;
use ulib::driver::{HANDED, READY};
use ulib::syscall::{channel_take, copy, delete, irq_derive, port_derive, retype, revoke, task_start};

/// A slot of the kernel's devices pool (root slot 251).
fn device(slot: u8) -> CAddr {
    CAddr::new(&[DEVICES, slot]).expect("a two-step address")
}

// ANCHOR: start
/// Loads the driver `program` for `driver` and starts it: what its last
/// run held is revoked, fresh objects are made, the program is loaded
/// again (a fresh task, from its entry), its capabilities are put in its
/// pool, and this returns once it says it holds them.
pub fn start(program: &Program, driver: &Driver) -> Result<(), Failure> {
    let untyped = driver.untyped();
    match retype(CAddr::root(UNTYPED), ObjectKind::Untyped, untyped, DRIVER_MEMORY) {
        Ok(_) => {}
        // A run before this one: everything made out of it goes, the
        // driver's copies with it (its line is masked and unbound, its
        // ports closed), and its memory is free again.
        Err(Error::SlotOccupied) => {
            revoke(untyped)?;
        }
        Err(error) => return Err(error.into()),
    }
    let (irq, ports, interrupts, replies) =
        (driver.irq(), driver.port_range(), driver.interrupts(), driver.replies());
    for slot in [irq, ports, interrupts, replies] {
        match delete(slot) {
            Ok(_) | Err(Error::EmptySlot) => {}
            Err(error) => return Err(error.into()),
        }
    }
    irq_derive(device(driver.line), untyped, irq)?;
    port_derive(device(driver.ports), untyped, ports, driver.span.first, driver.port_count())?;
    retype(untyped, ObjectKind::Channel, interrupts, 0)?;
    retype(untyped, ObjectKind::Channel, replies, 0)?;
    // Its slot 255 is its reply channel: not the shell's channel 255.
    crate::launch::load(program, replies)
        .map_err(|error| Failure::explained(format_args!("cannot load {}: {error}", program.name())))?;
    // In the slots of `ulib::driver::HANDED`, of its new pool.
    let sources = [irq, ports, interrupts, CAddr::root(INPUT)];
    for ((slot, _kind), source) in HANDED.into_iter().zip(sources) {
        copy(source, crate::launch::in_pool(program, slot))?;
    }
    let task = CAddr::root(program.task_slot());
    // SAFETY: the driver runs in the address space the loader built for it.
    unsafe { task_start(task) }?;
    // READY carries no capability: the occupied slot of the channel will
    // do as the destination.
    match channel_take(replies, replies)? {
        (MessageKind::Raw, READY) => Ok(()),
        _ => Err(Error::NotConfigured.into()),
    }
}
// ANCHOR_END: start
