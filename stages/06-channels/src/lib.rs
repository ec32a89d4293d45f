//! Stage 6's kernel pieces, host-testable where they need no hardware:
//! kernel objects, tasks and channels among them ([`objects`]); the system
//! calls ([`syscalls`]); the scheduler with blocking and the idle loop
//! ([`scheduler`]); device interrupts and input ([`devices`]); the first
//! task and the other programs, built from their ELF modules
//! ([`first_task`]); the division of RAM ([`memory_plan`]), paging levels
//! and rules ([`paging`]) and the kernel's own address space
//! ([`kernel_space`]). `main.rs` puts them to work.
//!
//! All of it works on page tables in whatever memory a
//! [`paging::PhysicalWindow`] shows: in the kernel, physical memory through
//! the direct map; in the host unit tests, ordinary heap memory.

#![cfg_attr(not(any(test, feature = "host-twin")), no_std)]
#![deny(unsafe_op_in_unsafe_fn)]

pub mod devices;
pub mod fastpath;
pub mod first_task;
pub mod kernel_space;
pub use common::memory_plan;
pub mod objects;
pub mod paging;
pub mod phases;
pub mod scheduler;
pub mod syscalls;

#[cfg(test)]
mod channel_tests;
#[cfg(test)]
mod fuzz_tests;
#[cfg(any(test, feature = "host-twin"))]
pub mod fuzz_twin;
#[cfg(test)]
mod syscall_tests;

/// Frames for host unit tests: 4 KiB blocks of heap memory whose addresses
/// stand in for physical addresses (a window at offset 0 reaches them).
#[cfg(test)]
pub(crate) mod test_support {
    use crate::kernel_space::TableSource;
    use crate::paging::Level;
    use crate::paging::PhysicalWindow;
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
