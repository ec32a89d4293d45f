//! How the kernel reaches physical memory: through a window in which
//! virtual address = physical address + a fixed offset.
//!
//! Page tables hold *physical* addresses, but the CPU, even in ring 0, can
//! only access *virtual* ones. The kernel therefore maps all of physical
//! memory at one offset (the direct map, at `DIRECT_MAP_BASE`); before its
//! own tables exist, the boot tables' higher-half window (physical 0-1 GiB
//! at `KERNEL_VMA`) serves the same purpose. Host unit tests use offset 0
//! with tables on the heap, whose addresses play the physical addresses.

use x86_64::PhysAddr;
use x86_64::structures::paging::{PageTable, PhysFrame};

/// Where the kernel's page tables map all physical memory: the first
/// address of the kernel half (PML4 entry 256).
pub const DIRECT_MAP_BASE: u64 = 0xFFFF_8000_0000_0000;

/// A view of physical memory at `virtual = physical + offset`.
#[derive(Clone, Copy, Debug)]
pub struct PhysicalWindow {
    offset: u64,
}

impl PhysicalWindow {
    /// A window at `offset`.
    ///
    /// # Safety
    /// For every frame the window is asked for, `frame + offset` must be a
    /// mapped, writable virtual address of that frame, and nothing the Rust
    /// code holds a reference to may live in a frame handed to the window
    /// as a page table or page.
    pub const unsafe fn new(offset: u64) -> Self {
        Self { offset }
    }

    /// The offset: virtual address minus physical address.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The virtual address of physical address `physical`.
    pub fn virtual_address(&self, physical: PhysAddr) -> u64 {
        physical.as_u64() + self.offset
    }

    /// The page table in `frame`.
    ///
    /// # Safety
    /// `frame` must hold a page table (or be about to: zero it first), and
    /// no other reference to it may be alive while this one is.
    #[allow(clippy::mut_from_ref)] // the window is a view; exclusivity is the caller's promise
    pub unsafe fn table(&self, frame: PhysFrame) -> &mut PageTable {
        let address = self.virtual_address(frame.start_address()) as *mut PageTable;
        // SAFETY: `new`'s contract makes the address valid and aligned (a
        // frame is 4 KiB aligned, as a PageTable must be); the caller
        // promises exclusivity.
        unsafe { &mut *address }
    }

    /// The 4096 bytes of `frame`.
    ///
    /// # Safety
    /// As for [`table`](Self::table): no other reference to the frame may
    /// be alive while this one is.
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn bytes(&self, frame: PhysFrame) -> &mut [u8; 4096] {
        let address = self.virtual_address(frame.start_address()) as *mut [u8; 4096];
        // SAFETY: as in `table`.
        unsafe { &mut *address }
    }
}
