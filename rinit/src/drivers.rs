//! The drivers the shell starts: `serial` (COM1's receive side, IRQ 4) and
//! `keyboard` (the PS/2 data port, IRQ 1), two programs GRUB loaded like
//! `hello` (`programs/serial`, `programs/keyboard`).
//!
//! At boot the shell starts each one it finds among the programs, and
//! `run <driver>` (or `set active <slot> 1`) starts one again, with fresh
//! capabilities: the system calls are behind [`System::start_driver`]
//! (`driver_setup.rs` on the kernel; the protocol is `ulib::driver`), so
//! that the shell's side of it, the names, the refusals and what it
//! prints, has host tests. Each driver's objects are made out of an
//! untyped of its own in the shell's pool ([`Driver::untyped`]), so that
//! starting it again revokes what the last run held: its line is masked
//! and unbound, its ports closed, before the new ones are made.

use crate::commands::{CHILD_TASK, Context, Failure};
use crate::system::say;
use abi::device::{PortSpan, slot};
use abi::syscall::ListEntry;
use abi::task_root::CPOOL;
use abi::{CAddr, Error, ObjectKind};

// ANCHOR: drivers
/// A driver the shell starts: its program's name, its interrupt line and
/// the port range it gets from the kernel's devices pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Driver {
    /// The program's name (a GRUB module's).
    pub name: &'static str,
    /// The IRQ line it serves.
    pub line: u8,
    /// The slot of its port range in the devices pool (`abi::device::slot`).
    pub ports: u8,
    /// Its ports: what it derives from the devices pool's range.
    pub span: PortSpan,
    /// What the ports are, for the shell's line.
    pub device: &'static str,
    /// Its index in [`DRIVERS`]: where its objects go in the shell's pool.
    index: u8,
}

/// The drivers, in the order the shell starts them at boot.
pub const DRIVERS: [Driver; 2] = [
    Driver {
        name: "serial",
        line: 4,
        ports: slot::COM1,
        span: PortSpan { first: 0x3f8, last: 0x3ff, writable: false },
        device: "COM1, read only",
        index: 0,
    },
    Driver {
        name: "keyboard",
        line: 1,
        ports: slot::KEYBOARD,
        span: PortSpan { first: 0x60, last: 0x60, writable: true },
        device: "PS/2 data port 0x60",
        index: 1,
    },
];

/// The first of the shell's slots for the drivers' objects: five per
/// driver, from 208 (free in the shell's pool: `book/src/shell.md`).
pub const FIRST_SLOT: u8 = 208;
/// The bytes of each driver's untyped: room for its two channels, its
/// IrqLine and its PortRange.
pub const DRIVER_MEMORY: u64 = 16 * 4096;
// ANCHOR_END: drivers

impl Driver {
    /// The driver named `name`, if it is one.
    pub fn named(name: &str) -> Option<&'static Driver> {
        DRIVERS.iter().find(|driver| driver.name == name)
    }

    fn slot(&self, offset: u8) -> CAddr {
        CAddr::root(FIRST_SLOT + 5 * self.index + offset)
    }

    /// The shell's untyped for this driver: everything below is made out
    /// of it, and revoked with it.
    pub fn untyped(&self) -> CAddr {
        self.slot(0)
    }
    /// The driver's IrqLine, as the shell holds it.
    pub fn irq(&self) -> CAddr {
        self.slot(1)
    }
    /// The driver's PortRange.
    pub fn port_range(&self) -> CAddr {
        self.slot(2)
    }
    /// The channel the driver's line is bound to.
    pub fn interrupts(&self) -> CAddr {
        self.slot(3)
    }
    /// The channel the driver says it is ready on.
    pub fn replies(&self) -> CAddr {
        self.slot(4)
    }
    /// Its index in [`DRIVERS`].
    pub fn index(&self) -> usize {
        usize::from(self.index)
    }
    /// The number of its ports.
    pub fn port_count(&self) -> u16 {
        self.span.last - self.span.first + 1
    }
}

// ANCHOR: start_driver
/// Starts the driver `driver`, whose program's task is in root slot
/// `slot`, with fresh capabilities; says so in one line. Refused while it
/// runs, and while a child exists (the capabilities travel over channel
/// 255, where the child takes from).
pub fn start(cx: &mut Context, driver: &Driver, slot: u8) -> Result<(), Failure> {
    if crate::tasks::is_running(cx, CAddr::root(slot))? {
        return Err(Failure::explained(format_args!(
            "{} is still running (set active {slot} 0 stops it)",
            driver.name
        )));
    }
    if child_exists(cx)? {
        return Err(Failure::explained(format_args!(
            "the {} driver is handed its capabilities on channel 255, where the child in {CHILD_TASK} takes",
            driver.name
        )));
    }
    cx.sys.start_driver(CAddr::root(slot), driver)?;
    cx.tasks.started(CAddr::root(slot));
    say!(
        cx.sys,
        "driver {}: started (task in slot {slot}): IRQ {}, {}",
        driver.name,
        driver.line,
        driver.device
    );
    Ok(())
}
// ANCHOR_END: start_driver

/// Whether the shell's child task exists (in slot 249).
fn child_exists(cx: &mut Context) -> Result<bool, Error> {
    let mut entries = [ListEntry { slot: 0, kind: 0, detail: 0 }; ListEntry::MAX];
    let count = cx.sys.list_pool(CAddr::root(CPOOL), &mut entries)?;
    Ok(entries[..count].iter().any(|entry| entry.slot == CHILD_TASK && entry.kind == ObjectKind::Task as u8))
}

/// Starts, at boot, every driver whose program GRUB loaded; one that
/// cannot start is said, and the shell goes on without it.
pub fn start_all(cx: &mut Context) {
    for driver in &DRIVERS {
        let Some(program) = cx.programs.find(driver.name) else { continue };
        let slot = program.slot;
        if let Err(failure) = start(cx, driver, slot) {
            say!(cx.sys, "driver {}: not started: {failure}", driver.name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use abi::device::{HANDED_PORTS, is_handable_line, may_be_handed};

    #[test]
    fn each_driver_asks_for_what_the_kernel_hands_out() {
        for driver in &DRIVERS {
            assert!(is_handable_line(u64::from(driver.line)), "{}", driver.name);
            let handed = HANDED_PORTS.iter().find(|(at, _, _)| *at == driver.ports).expect("a handed range");
            let range = handed.1;
            assert!(
                range.covers(u64::from(driver.span.first), u64::from(driver.port_count())),
                "{}",
                driver.name
            );
            assert!(
                !driver.span.writable || range.writable,
                "{}: no more rights than the range",
                driver.name
            );
            assert!(may_be_handed(&driver.span));
            assert_eq!(Driver::named(driver.name), Some(driver));
        }
        assert_eq!(Driver::named("hello"), None);
    }

    #[test]
    fn the_drivers_slots_are_distinct_and_free() {
        let mut slots: Vec<u8> = DRIVERS
            .iter()
            .flat_map(|d| [d.untyped(), d.irq(), d.port_range(), d.interrupts(), d.replies()])
            .map(|at| at.path()[0])
            .collect();
        let count = slots.len();
        slots.sort();
        slots.dedup();
        assert_eq!(slots.len(), count, "no slot twice");
        // Free in the shell's pool: past the untyped regions, before the
        // bench's (220 on, used only by `make bench`) and the programs'.
        assert!(slots.iter().all(|&slot| (abi::task_root::FIRST_FREE..220).contains(&slot)), "{slots:?}");
    }
}
