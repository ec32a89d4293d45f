//! The kernel's own address space, built to replace the boot page tables.
//!
//! The boot tables map the first GiB twice, everything readable, writable
//! and executable. The kernel's own tables map:
//!
//! - the kernel image at `KERNEL_VMA`, each part with the rights it needs:
//!   code read+execute, constants read-only, data and bss read+write and
//!   never executable; the stack read+write, with its guard page left out;
//! - all physical RAM once more at `DIRECT_MAP_BASE` (read+write, never
//!   executable), in 2 MiB pages: the *direct map*, through which the kernel
//!   reaches any frame, page tables included.
//!
//! Nothing else: the identity map of low memory is gone, so a null pointer
//! or a stray low address faults. These are kernel-only mappings: no entry
//! has the user bit, and every address space shares them (see
//! `PML4Cap::new_address_space`).

use crate::frames::FrameSource;
use crate::paging::window::DIRECT_MAP_BASE;
use crate::paging::{Level, PhysicalWindow};
use common::memory::{KERNEL_VMA, Span};
use x86_64::PhysAddr;
use x86_64::structures::paging::{PageTableFlags as Flags, PhysFrame};

const PAGE: u64 = 4096;
const LARGE_PAGE: u64 = 2 * 1024 * 1024;

/// The parts of the kernel image, as virtual address ranges in the higher
/// half (physical address = virtual - `KERNEL_VMA`).
#[derive(Clone, Copy, Debug)]
pub struct KernelImage {
    pub text: Span,
    pub rodata: Span,
    pub data: Span,
    pub stack: Span,
}

/// What went wrong building the tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BuildError {
    /// The frame allocator ran dry.
    OutOfFrames,
}

/// The built address space, and what it took.
#[derive(Clone, Copy, Debug)]
pub struct KernelSpace {
    /// The PML4, for CR3.
    pub pml4: PhysFrame,
    /// Bytes of physical memory the direct map covers, from address 0.
    pub direct_map_size: u64,
    /// Page-table frames allocated, the PML4 included.
    pub table_frames: u64,
}

/// Writes entries into a set of tables under construction, allocating the
/// tables on the way down as needed.
struct Builder<'a, F: FrameSource> {
    window: &'a PhysicalWindow,
    frames: &'a mut F,
    pml4: PhysFrame,
    table_frames: u64,
}

impl<F: FrameSource> Builder<'_, F> {
    fn new_table(&mut self) -> Result<PhysFrame, BuildError> {
        let frame = self.frames.allocate_frame().ok_or(BuildError::OutOfFrames)?;
        // SAFETY: a fresh frame from the allocator, reached by the window.
        unsafe { self.window.table(frame) }.zero();
        self.table_frames += 1;
        Ok(frame)
    }

    /// The table at `level` on the way to `address`, created (with all the
    /// tables above it) if missing.
    fn table_at(&mut self, address: u64, level: Level) -> Result<PhysFrame, BuildError> {
        let mut table = self.pml4;
        let mut current = Level::Pml4;
        while current != level {
            // SAFETY: `table` is one of the tables under construction.
            let entry = &unsafe { self.window.table(table) }[current.index_of(address)];
            table = if entry.is_unused() {
                let child = self.new_table()?;
                // SAFETY: as above; the reference above is no longer used.
                let entries = unsafe { self.window.table(table) };
                entries[current.index_of(address)]
                    .set_addr(child.start_address(), Flags::PRESENT | Flags::WRITABLE);
                child
            } else {
                PhysFrame::containing_address(entry.addr())
            };
            current = current.next().expect("a level above `level` has a next");
        }
        Ok(table)
    }

    /// Maps the page (`Level::Pt`, 4 KiB) or large page (`Level::Pd`, 2
    /// MiB) at `address` to `physical`.
    fn map(&mut self, address: u64, physical: u64, level: Level, flags: Flags) -> Result<(), BuildError> {
        let table = self.table_at(address, level)?;
        // SAFETY: `table` is one of the tables under construction.
        let entries = unsafe { self.window.table(table) };
        entries[level.index_of(address)].set_addr(PhysAddr::new(physical), flags);
        Ok(())
    }

    /// Maps every 4 KiB page of `span` (a higher-half range of the image).
    fn map_image_part(&mut self, span: Span, flags: Flags) -> Result<(), BuildError> {
        let end = span.end.next_multiple_of(PAGE);
        for address in (span.start..end).step_by(PAGE as usize) {
            self.map(address, address - KERNEL_VMA, Level::Pt, flags)?;
        }
        Ok(())
    }
}

// ANCHOR: build
/// Builds the kernel's tables, reaching frames through `window`, taking
/// them from `frames`, with a direct map of physical memory up to
/// `memory_end`.
pub fn build(
    window: &PhysicalWindow,
    frames: &mut impl FrameSource,
    image: &KernelImage,
    memory_end: u64,
) -> Result<KernelSpace, BuildError> {
    let pml4 = frames.allocate_frame().ok_or(BuildError::OutOfFrames)?;
    // SAFETY: a fresh frame from the allocator, reached by the window.
    unsafe { window.table(pml4) }.zero();
    let mut builder = Builder { window, frames, pml4, table_frames: 1 };

    let read_execute = Flags::PRESENT;
    let read_only = Flags::PRESENT | Flags::NO_EXECUTE;
    let read_write = Flags::PRESENT | Flags::WRITABLE | Flags::NO_EXECUTE;
    builder.map_image_part(image.text, read_execute)?;
    builder.map_image_part(image.rodata, read_only)?;
    builder.map_image_part(image.data, read_write)?;
    builder.map_image_part(image.stack, read_write)?; // the guard below it stays unmapped

    let direct_map_size = memory_end.next_multiple_of(LARGE_PAGE);
    for physical in (0..direct_map_size).step_by(LARGE_PAGE as usize) {
        builder.map(DIRECT_MAP_BASE + physical, physical, Level::Pd, read_write | Flags::HUGE_PAGE)?;
    }
    Ok(KernelSpace { pml4, direct_map_size, table_frames: builder.table_frames })
}
// ANCHOR_END: build

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::HeapFrames;

    /// The entry that maps `address`, with the level it was found at.
    fn translate(window: &PhysicalWindow, pml4: PhysFrame, address: u64) -> Option<(u64, Flags)> {
        let mut table = pml4;
        let mut level = Level::Pml4;
        loop {
            // SAFETY: heap frames of the tables under test.
            let entry = &unsafe { window.table(table) }[level.index_of(address)];
            if entry.is_unused() {
                return None;
            }
            let leaf = level == Level::Pt || entry.flags().contains(Flags::HUGE_PAGE);
            if leaf {
                let offset = address & ((1 << level.shift()) - 1);
                return Some((entry.addr().as_u64() + offset, entry.flags()));
            }
            table = PhysFrame::containing_address(entry.addr());
            level = level.next()?;
        }
    }

    const BASE: u64 = KERNEL_VMA + 0x10_0000;

    fn image() -> KernelImage {
        KernelImage {
            stack: Span::new(BASE + 0x2000, BASE + 0x4000), // guard at BASE + 0x1000
            text: Span::new(BASE + 0x10000, BASE + 0x12345),
            rodata: Span::new(BASE + 0x13000, BASE + 0x13800),
            data: Span::new(BASE + 0x14000, BASE + 0x16000),
        }
    }

    #[test]
    fn maps_each_part_of_the_image_with_its_rights() {
        let mut frames = HeapFrames::default();
        let window = frames.window();
        let space = build(&window, &mut frames, &image(), 64 << 20).unwrap();
        let lookup = |address| translate(&window, space.pml4, address);

        let (physical, text) = lookup(BASE + 0x12100).unwrap();
        assert_eq!(physical, 0x11_2100);
        assert!(!text.contains(Flags::WRITABLE) && !text.contains(Flags::NO_EXECUTE));
        let (_, rodata) = lookup(BASE + 0x13000).unwrap();
        assert!(!rodata.contains(Flags::WRITABLE) && rodata.contains(Flags::NO_EXECUTE));
        let (_, data) = lookup(BASE + 0x15fff).unwrap();
        assert!(data.contains(Flags::WRITABLE | Flags::NO_EXECUTE));
        let (_, stack) = lookup(BASE + 0x2000).unwrap();
        assert!(stack.contains(Flags::WRITABLE | Flags::NO_EXECUTE));
        assert!(!text.contains(Flags::USER_ACCESSIBLE));
    }

    #[test]
    fn leaves_the_guard_page_and_everything_else_unmapped() {
        let mut frames = HeapFrames::default();
        let window = frames.window();
        let space = build(&window, &mut frames, &image(), 64 << 20).unwrap();
        assert_eq!(translate(&window, space.pml4, BASE + 0x1000), None, "stack guard");
        assert_eq!(translate(&window, space.pml4, BASE + 0x4000), None, "above the stack");
        assert_eq!(translate(&window, space.pml4, 0xB8000), None, "no identity map");
    }

    #[test]
    fn direct_map_covers_memory_in_large_pages() {
        let mut frames = HeapFrames::default();
        let window = frames.window();
        let space = build(&window, &mut frames, &image(), (64 << 20) - 100).unwrap();
        assert_eq!(space.direct_map_size, 64 << 20);
        let (physical, flags) = translate(&window, space.pml4, DIRECT_MAP_BASE + 0x3ff_f123).unwrap();
        assert_eq!(physical, 0x3ff_f123);
        assert!(flags.contains(Flags::HUGE_PAGE | Flags::WRITABLE | Flags::NO_EXECUTE));
        assert_eq!(translate(&window, space.pml4, DIRECT_MAP_BASE + (64 << 20)), None);
        // PML4, and for the image a PDPT, PD and PT; for the direct map a PDPT and PD.
        assert_eq!(space.table_frames, 6);
    }

    #[test]
    fn running_out_of_frames_is_an_error() {
        struct Empty;
        impl FrameSource for Empty {
            fn allocate_frame(&mut self) -> Option<PhysFrame> {
                None
            }
        }
        let frames = HeapFrames::default();
        let result = build(&frames.window(), &mut Empty, &image(), 1 << 20);
        assert_eq!(result.err(), Some(BuildError::OutOfFrames));
    }
}
