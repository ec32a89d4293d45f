//! Stage 4's kernel pieces that do not need the hardware to be tested:
//! reference-counted kernel objects, weak pointers, capability pools and
//! untyped memory ([`objects`]), the division of RAM into untyped regions
//! and reserved memory ([`memory_plan`]), page-table capabilities and their
//! rules ([`paging`]) and the builder of the kernel's own address space
//! ([`kernel_space`]). `main.rs` puts them to work.
//!
//! All of it works on page tables in whatever memory a
//! [`paging::PhysicalWindow`] shows: in the kernel, physical memory through
//! the direct map; in the host unit tests, ordinary heap memory.

#![cfg_attr(not(test), no_std)]
#![deny(unsafe_op_in_unsafe_fn)]

pub use common::kernel_space;
pub use common::memory_plan;
pub mod objects;
pub mod paging;

/// Frames for host unit tests: 4 KiB blocks of heap memory whose addresses
/// stand in for physical addresses (a window at offset 0 reaches them).
#[cfg(test)]
pub(crate) mod testing {
    use crate::kernel_space::TableSource;
    use crate::paging::Level;
    use crate::paging::caps::TableCap;
    use crate::paging::levels::TableLevel;
    use crate::paging::{PhysicalWindow, RawPageCap};
    use std::alloc::{Layout, alloc_zeroed, dealloc};
    use x86_64::PhysAddr;
    use x86_64::structures::paging::PhysFrame;

    const FRAME: Layout = match Layout::from_size_align(4096, 4096) {
        Ok(layout) => layout,
        Err(_) => panic!("4096 is a valid size and alignment"),
    };

    #[derive(Default)]
    pub struct HeapFrames {
        frames: Vec<*mut u8>,
    }

    impl HeapFrames {
        pub fn window(&self) -> PhysicalWindow {
            // SAFETY: at offset 0 the window's addresses are the heap
            // blocks' own, valid as long as `self` lives.
            unsafe { PhysicalWindow::new(0) }
        }

        pub fn frame(&mut self) -> PhysFrame {
            // SAFETY: the layout has a non-zero size.
            let block = unsafe { alloc_zeroed(FRAME) };
            assert!(!block.is_null());
            self.frames.push(block);
            PhysFrame::containing_address(PhysAddr::new(block as u64))
        }

        pub fn table<L: TableLevel>(&mut self) -> TableCap<L> {
            // SAFETY: a fresh, zeroed block nobody else uses.
            unsafe { TableCap::new(self.frame()) }
        }

        pub fn page(&mut self) -> RawPageCap {
            // SAFETY: a fresh, zeroed block nobody else uses.
            unsafe { RawPageCap::new(self.frame()) }
        }
    }

    impl TableSource for HeapFrames {
        fn new_table(&mut self, _level: Level) -> Option<PhysFrame> {
            Some(self.frame())
        }
    }

    impl Drop for HeapFrames {
        fn drop(&mut self) {
            for &block in &self.frames {
                // SAFETY: allocated in `frame` with this layout, freed once.
                unsafe { dealloc(block, FRAME) };
            }
        }
    }
}
