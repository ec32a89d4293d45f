//! Where the kernel puts the first task's capabilities in its root pool,
//! from stage 5 on: what the first task needs to build more tasks, plus the
//! slots the stage-6 shell's reference fixes (2, 3, 250, 255: the book's
//! appendix "The shell", `book/src/shell.md`)
//! and the stage-6 input channel (7),
//! so that stage 6 adds to this layout rather than renumbering it.
//!
//! (Stage 4 still prints its own, smaller layout, `abi::root`; this module
//! replaces it when stage 5 switches over.)

// ANCHOR: task_root
/// The root pool itself.
pub const CPOOL: u8 = 0;
/// The VGA text buffer page.
pub const VGA: u8 = 1;
/// An untyped for the task's own objects: the largest region.
pub const UNTYPED: u8 = 2;
/// The task's top-level page table (PML4).
pub const PML4: u8 = 3;
/// The task itself.
pub const TASK: u8 = 4;
/// A pool holding the pages and page tables of the task's image and stack,
/// which the kernel made for it.
pub const IMAGE_POOL: u8 = 5;
/// The task's task buffer page, mapped at [`crate::TASK_BUFFER`].
pub const TASK_BUFFER: u8 = 6;
/// The input channel (stage 6): the kernel puts every byte typed on the
/// serial line and every keyboard scancode into it as a Raw message (see
/// [`crate::syscall::input`]); the shell takes them.
pub const INPUT: u8 = 7;
/// The first of the other untyped regions; the others follow it.
pub const FIRST_UNTYPED: u8 = 8;
/// The most other untyped regions the layout has room for.
pub const MAX_UNTYPED: u8 = 56;
/// The first slot the kernel leaves empty for the task's own use.
pub const FIRST_FREE: u8 = FIRST_UNTYPED + MAX_UNTYPED;
/// The first of the slots where the kernel puts the other programs GRUB
/// loaded (stage 6): each an inactive task, ready to start, named to the
/// first task by a word `program=NAME@SLOT` in its arguments.
pub const FIRST_PROGRAM: u8 = 236;
/// The most other programs the layout has room for.
pub const MAX_PROGRAMS: u8 = 12;
/// A spare task buffer page for a child task, free for the task to map at
/// [`crate::CHILD_TASK_BUFFER`].
pub const SPARE_BUFFER: u8 = 250;
/// A pool of the devices the kernel hands out (stage 6): an IrqLine per
/// line a driver may serve and a PortRange per device
/// ([`crate::device::slot`]).
pub const DEVICES: u8 = 251;
/// The channel between the first task and its child (stage 6).
pub const CHANNEL: u8 = 255;

/// Every slot or range, in order, for printing the layout.
pub const LAYOUT: [(u8, u8, &str); 16] = [
    (CPOOL, CPOOL, "this root capability pool"),
    (VGA, VGA, "the VGA text buffer page"),
    (UNTYPED, UNTYPED, "untyped memory for the task's own objects (the largest region)"),
    (PML4, PML4, "the task's top-level page table (PML4)"),
    (TASK, TASK, "the task itself"),
    (IMAGE_POOL, IMAGE_POOL, "a pool with the pages and tables of the task's image and stack"),
    (TASK_BUFFER, TASK_BUFFER, "the task buffer page"),
    (INPUT, INPUT, "the input channel: serial bytes and keyboard scancodes (stage 6)"),
    (FIRST_UNTYPED, FIRST_FREE - 1, "the other untyped regions, one capability each"),
    (FIRST_FREE, FIRST_PROGRAM - 1, "free"),
    (FIRST_PROGRAM, FIRST_PROGRAM + MAX_PROGRAMS - 1, "the other programs, as inactive tasks (stage 6)"),
    (FIRST_PROGRAM + MAX_PROGRAMS, SPARE_BUFFER - 1, "free"),
    (SPARE_BUFFER, SPARE_BUFFER, "a spare task buffer page for a child"),
    (DEVICES, DEVICES, "a pool of the interrupt lines and I/O ports a driver may have (stage 6)"),
    (DEVICES + 1, CHANNEL - 1, "free"),
    (CHANNEL, CHANNEL, "the channel to the child (stage 6)"),
];
// ANCHOR_END: task_root

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_covers_the_pool_in_order_without_overlaps() {
        let mut next = 0u16;
        for (first, last, _) in LAYOUT {
            assert_eq!(u16::from(first), next, "ranges follow each other");
            assert!(first <= last);
            next = u16::from(last) + 1;
        }
        assert_eq!(next, 256);
    }

    #[test]
    fn the_shell_finds_its_slots() {
        // The shell's reference (book/src/shell.md) fixes these numbers.
        assert_eq!((CPOOL, UNTYPED, PML4, SPARE_BUFFER, CHANNEL), (0, 2, 3, 250, 255));
        let single = |slot: u8| LAYOUT.iter().any(|&(first, last, _)| first == slot && last == slot);
        for slot in
            [CPOOL, VGA, UNTYPED, PML4, TASK, IMAGE_POOL, TASK_BUFFER, INPUT, SPARE_BUFFER, DEVICES, CHANNEL]
        {
            assert!(single(slot), "slot {slot} has its own line");
        }
    }
}
