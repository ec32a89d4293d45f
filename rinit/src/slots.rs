//! The shell's map of its own root pool: every slot or range rinit uses
//! beyond what the kernel put there (`abi::task_root::LAYOUT`), in one
//! table, with a test that no two uses overlap and that none takes a slot
//! the kernel fills. The constants the code uses are these or are checked
//! against them; the shell's reference (`book/src/shell.md`) prints the
//! same map.

use abi::task_root::{FIRST_FREE, MAX_PROGRAMS};

// ANCHOR: slots
// Slots 180 to 188 are in no use: left for what you add (the exercises'
// solutions take theirs from there, each with a line in [`USES`]).
/// The last slot of the shell's free range, the one `retype ... 100` uses.
pub const LAST_FREE: u8 = 179;
/// The bench's interrupt-figure driver, a task in rinit's space (`make
/// bench` only).
pub const BENCH_DRIVER: u8 = 189;
/// The drivers' objects, five per driver (`crate::drivers`): `serial`'s
/// from 190, `keyboard`'s from 195.
pub const DRIVERS: (u8, u8) = (190, 199);
/// Every range of drivers' objects ([`crate::drivers::Driver::objects`]).
pub const DRIVER_OBJECTS: &[(u8, u8)] = &[DRIVERS];
/// The tasks the loader builds: the program of module slot 236 in 200, and
/// so on (`crate::programs::FIRST_TASK_SLOT`).
pub const TASKS: (u8, u8) = (200, 200 + MAX_PROGRAMS - 1);
/// The page tables of the loader's window (`crate::programs::LOADER_TABLES`).
pub const LOADER_TABLES: (u8, u8) = (212, 214);
/// The channel of the pager and `lazy` (`crate::pager::PAGER_CHANNEL`).
pub const PAGER_CHANNEL: u8 = 215;
/// Where the pager's setup takes a reply that carries no capability.
pub const PAGER_SCRATCH: u8 = 218;
/// The bench's other objects (`make bench` only; `programs/peer`'s echo
/// slots among them).
pub const BENCH: (u8, u8) = (219, 234);
/// The shell's child task (`start child`).
pub const CHILD_TASK: u8 = 249;
/// The pager's fault channel, reply channel and untyped (`run lazy`).
pub const PAGER: (u8, u8) = (252, 254);

/// Every use, for the test and for printing: first slot, last slot, what.
pub const USES: &[(u8, u8, &str)] = &[
    (FIRST_FREE, LAST_FREE, "free: the shell's to use"),
    (BENCH_DRIVER, BENCH_DRIVER, "the bench's interrupt driver"),
    (DRIVERS.0, DRIVERS.1, "the drivers' objects"),
    (TASKS.0, TASKS.1, "the tasks the loader builds"),
    (LOADER_TABLES.0, LOADER_TABLES.1, "the loader's window's page tables"),
    (PAGER_CHANNEL, PAGER_CHANNEL, "the pager's channel"),
    (PAGER_SCRATCH, PAGER_SCRATCH, "the pager's scratch slot"),
    (BENCH.0, BENCH.1, "the bench's objects"),
    (CHILD_TASK, CHILD_TASK, "the child task"),
    (PAGER.0, PAGER.1, "the pager's objects"),
];
// ANCHOR_END: slots

/// Whether `slot` is one of the uses of [`USES`] other than the free range.
pub fn is_used(slot: u8) -> bool {
    USES[1..].iter().any(|&(first, last, _)| (first..=last).contains(&slot))
}

#[cfg(test)]
mod tests {
    use super::*;
    use abi::task_root::{FIRST_PROGRAM, LAYOUT};

    #[test]
    fn no_two_uses_overlap_and_none_is_the_kernels() {
        let mut owner: [Option<&str>; 256] = [None; 256];
        // The kernel's slots, from its layout: everything not "free".
        for (first, last, what) in LAYOUT {
            if what != "free" {
                for slot in first..=last {
                    owner[usize::from(slot)] = Some(what);
                }
            }
        }
        for &(first, last, what) in USES {
            assert!(first <= last, "{what}");
            for slot in first..=last {
                if let Some(other) = owner[usize::from(slot)] {
                    panic!("slot {slot}: {what} and {other}");
                }
                owner[usize::from(slot)] = Some(what);
            }
        }
    }

    #[test]
    fn the_code_uses_the_map() {
        use crate::programs::{FIRST_TASK_SLOT, LOADER_TABLES as TABLES};
        assert_eq!(FIRST_TASK_SLOT, TASKS.0);
        assert_eq!(TASKS.1 - TASKS.0 + 1, MAX_PROGRAMS, "a task slot per program slot");
        assert!(TASKS.1 < FIRST_PROGRAM);
        assert_eq!(TABLES, [LOADER_TABLES.0, LOADER_TABLES.0 + 1, LOADER_TABLES.1]);
        assert_eq!(crate::pager::PAGER_CHANNEL, PAGER_CHANNEL);
        assert_eq!(crate::commands::CHILD_TASK, CHILD_TASK);
        assert_eq!(crate::drivers::FIRST_SLOT, DRIVERS.0);
        for driver in &crate::drivers::DRIVERS {
            for at in
                [driver.untyped(), driver.irq(), driver.port_range(), driver.interrupts(), driver.replies()]
            {
                let slot = at.path()[0];
                let in_a_range = DRIVER_OBJECTS.iter().any(|&(first, last)| (first..=last).contains(&slot));
                assert!(in_a_range, "{}: {slot}", driver.name);
            }
        }
        for &(first, last) in DRIVER_OBJECTS {
            assert!(
                USES.iter().any(|&(from, to, _)| (from, to) == (first, last)),
                "{first} to {last} in USES"
            );
        }
        assert!(is_used(PAGER_CHANNEL) && !is_used(FIRST_FREE) && !is_used(100));
    }
}
