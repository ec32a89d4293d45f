//! The kernel's own address space, built to replace the boot page tables
//! (stage 3 on; stage 2 builds it from its boot-time frame allocator).
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
//!
//! The tables themselves are retyped from untyped memory: the builder asks
//! a [`TableSource`] for each, and [`tables_needed`] says beforehand how
//! many it will ask for, so the kernel can set exactly that much aside.

use crate::memory::{KERNEL_VMA, PAGE, Span};
use crate::paging::window::DIRECT_MAP_BASE;
use crate::paging::{Level, PhysicalWindow};
use x86_64::PhysAddr;
use x86_64::structures::paging::{PageTableFlags as Flags, PhysFrame};

const LARGE_PAGE: u64 = 2 * 1024 * 1024;

/// Where the builder gets its tables from.
pub trait TableSource {
    /// A zeroed frame for a new page table of `level`, or `None` when
    /// memory is exhausted.
    fn new_table(&mut self, level: Level) -> Option<PhysFrame>;
}

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
struct Builder<'a, F: TableSource> {
    window: &'a PhysicalWindow,
    frames: &'a mut F,
    pml4: PhysFrame,
    table_frames: u64,
}

impl<F: TableSource> Builder<'_, F> {
    fn new_table(&mut self, level: Level) -> Result<PhysFrame, BuildError> {
        let frame = self.frames.new_table(level).ok_or(BuildError::OutOfFrames)?;
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
            let below = current.next().expect("a level above `level` has a next");
            table = if entry.is_unused() {
                let child = self.new_table(below)?;
                // SAFETY: as above; the reference above is no longer used.
                let entries = unsafe { self.window.table(table) };
                entries[current.index_of(address)]
                    .set_addr(child.start_address(), Flags::PRESENT | Flags::WRITABLE);
                child
            } else {
                PhysFrame::containing_address(entry.addr())
            };
            current = below;
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
    frames: &mut impl TableSource,
    image: &KernelImage,
    memory_end: u64,
) -> Result<KernelSpace, BuildError> {
    let pml4 = frames.new_table(Level::Pml4).ok_or(BuildError::OutOfFrames)?;
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

// ANCHOR: tables_needed
/// How many tables [`build`] takes for this image and memory size.
///
/// A table at some level is needed for every distinct region of the size
/// its parent entry covers that holds a mapping: one PDPT per 512 GiB, one
/// PD per GiB, one PT per 2 MiB (for 4 KiB pages only). Plus the PML4.
pub fn tables_needed(image: &KernelImage, memory_end: u64) -> u64 {
    let mut parts = [image.text, image.rodata, image.data, image.stack];
    parts.sort_unstable_by_key(|span| span.start);
    let image_pages = parts
        .into_iter()
        .flat_map(|span| (span.start..span.end.next_multiple_of(PAGE)).step_by(PAGE as usize));
    let direct_map = (0..memory_end.next_multiple_of(LARGE_PAGE))
        .step_by(LARGE_PAGE as usize)
        .map(|physical| DIRECT_MAP_BASE + physical);
    1 + tables_below_pml4(image_pages, Level::Pt) + tables_below_pml4(direct_map, Level::Pd)
}

/// The tables below the PML4 that mapping `addresses` (in increasing
/// order) with leaf entries at level `leaf` needs.
fn tables_below_pml4(addresses: impl Iterator<Item = u64> + Clone, leaf: Level) -> u64 {
    let mut tables = 0;
    let mut level = Level::Pdpt;
    loop {
        // A table of `level` covers what one entry of the level above covers.
        let coverage_shift = level.shift() + 9;
        let mut previous = None;
        for region in addresses.clone().map(|address| address >> coverage_shift) {
            if previous != Some(region) {
                tables += 1;
                previous = Some(region);
            }
        }
        if level == leaf {
            return tables;
        }
        level = level.next().expect("the leaf level is at or above PT");
    }
}
// ANCHOR_END: tables_needed

#[cfg(test)]
mod tests {
    use super::*;
    use std::alloc::{Layout, alloc_zeroed, dealloc};

    const FRAME: Layout = match Layout::from_size_align(4096, 4096) {
        Ok(layout) => layout,
        Err(_) => panic!("4096 is a valid size and alignment"),
    };

    /// Page tables in 4 KiB blocks of heap memory, whose addresses stand in
    /// for physical addresses (a window at offset 0 reaches them).
    #[derive(Default)]
    struct HeapFrames {
        frames: Vec<*mut u8>,
    }

    impl HeapFrames {
        fn window(&self) -> PhysicalWindow {
            // SAFETY: at offset 0 the window's addresses are the heap
            // blocks' own, valid as long as `self` lives.
            unsafe { PhysicalWindow::new(0) }
        }
    }

    impl TableSource for HeapFrames {
        fn new_table(&mut self, _level: Level) -> Option<PhysFrame> {
            // SAFETY: the layout has a non-zero size.
            let block = unsafe { alloc_zeroed(FRAME) };
            assert!(!block.is_null());
            self.frames.push(block);
            Some(PhysFrame::containing_address(PhysAddr::new(block as u64)))
        }
    }

    impl Drop for HeapFrames {
        fn drop(&mut self) {
            for &block in &self.frames {
                // SAFETY: allocated in `new_table` with this layout, freed once.
                unsafe { dealloc(block, FRAME) };
            }
        }
    }

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
    fn tables_needed_is_what_build_takes() {
        let spread_out = KernelImage {
            stack: Span::new(BASE + 0x2000, BASE + 0x4000),
            text: Span::new(BASE + 0x1f_f000, BASE + 0x20_3000), // crosses a 2 MiB boundary
            rodata: Span::new(BASE + 0x40_0000, BASE + 0x40_1000),
            data: Span::new(BASE + 0x40_1000, BASE + 0x40_3000),
        };
        for image in [image(), spread_out] {
            for memory in [1 << 20, 64 << 20, (1 << 30) + (2 << 20), 3 << 30] {
                let mut frames = HeapFrames::default();
                let window = frames.window();
                let space = build(&window, &mut frames, &image, memory).unwrap();
                assert_eq!(tables_needed(&image, memory), space.table_frames, "{image:?}, {memory:#x}");
            }
        }
    }

    #[test]
    fn running_out_of_frames_is_an_error() {
        struct Empty;
        impl TableSource for Empty {
            fn new_table(&mut self, _level: Level) -> Option<PhysFrame> {
                None
            }
        }
        let frames = HeapFrames::default();
        let result = build(&frames.window(), &mut Empty, &image(), 1 << 20);
        assert_eq!(result.err(), Some(BuildError::OutOfFrames));
    }
}
