//! The drivers the shell starts: `serial` (COM1's receive side, IRQ 4) and
//! `keyboard` (the PS/2 data port, IRQ 1), two programs GRUB loaded like
//! `hello` (`programs/serial`, `programs/keyboard`).
//!
//! At boot the shell loads and starts each one it finds among the
//! programs (with the loader, `launch.rs`, into the program's task slot,
//! 200 on, like `run`), and `run <driver>` (or `set active <slot> 1`)
//! loads and starts one again, afresh from its module, with fresh
//! capabilities: the system calls are behind [`System::start_driver`]
//! (`driver_setup.rs` on the kernel; the protocol is `ulib::driver`), so
//! that the shell's side of it, the names, the refusals and what it
//! prints, has host tests. Each driver's objects are made out of an
//! untyped of its own in the shell's pool ([`Driver::untyped`]), so that
//! starting it again revokes what the last run held: its line is masked
//! and unbound, its ports closed, before the new ones are made.

use crate::commands::{Context, Failure};
use crate::programs::Program;
use crate::system::say;
use abi::CAddr;
use abi::device::{PortSpan, slot};

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
    /// The first of its five slots in the shell's pool, in a range of
    /// `crate::slots::DRIVER_OBJECTS`: its untyped, then what is made of
    /// it ([`Driver::untyped`] and the next).
    objects: u8,
}

/// The drivers, in the order the shell starts them at boot.
pub const DRIVERS: [Driver; 2] = [
    Driver {
        name: "serial",
        line: 4,
        ports: slot::COM1,
        span: PortSpan { first: 0x3f8, last: 0x3ff, writable: false },
        device: "COM1, read only",
        objects: FIRST_SLOT,
    },
    Driver {
        name: "keyboard",
        line: 1,
        ports: slot::KEYBOARD,
        span: PortSpan { first: 0x60, last: 0x60, writable: true },
        device: "PS/2 data port 0x60",
        objects: FIRST_SLOT + 5,
    },
];

/// The first of the shell's slots for the drivers' objects: five per
/// driver, from 190 (`crate::slots`, `book/src/shell.md`).
pub const FIRST_SLOT: u8 = crate::slots::DRIVERS.0;
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
        CAddr::root(self.objects + offset)
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
    /// The number of its ports.
    pub fn port_count(&self) -> u16 {
        self.span.last - self.span.first + 1
    }
}

// ANCHOR: start_driver
/// Loads the driver `driver` from its `program` into the program's task
/// slot and starts it with fresh capabilities; says so in one line.
/// Refused while it runs.
pub fn start(cx: &mut Context, driver: &Driver, program: &Program) -> Result<(), Failure> {
    let slot = program.task_slot();
    if crate::tasks::exists(cx, slot)? && crate::tasks::is_running(cx, CAddr::root(slot))? {
        return Err(Failure::explained(format_args!(
            "{} is still running (set active {slot} 0 stops it)",
            driver.name
        )));
    }
    cx.sys.start_driver(program, driver)?;
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

/// Starts, at boot, every driver whose program GRUB loaded; one that
/// cannot start is said, and the shell goes on without it.
pub fn start_all(cx: &mut Context) {
    for driver in &DRIVERS {
        let Some(program) = cx.programs.find(driver.name).copied() else { continue };
        if let Err(failure) = start(cx, driver, &program) {
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
        // Within the drivers' ranges of the shell's slot map, which they fill.
        let ranges = crate::slots::DRIVER_OBJECTS;
        let within = |slot: &u8| ranges.iter().any(|&(first, last)| (first..=last).contains(slot));
        assert!(slots.iter().all(within), "{slots:?}");
        let room: usize = ranges.iter().map(|&(first, last)| usize::from(last - first) + 1).sum();
        assert_eq!(room, count, "the ranges are exactly the drivers'");
    }
}
