//! Paging capabilities: typed handles to page tables and pages.
//!
//! Each capability owns one physical frame and knows whether, and where, it
//! is mapped. The type says what the frame is: a `PDCap` can only be mapped
//! into a `PDPTCap`, a `RawPageCap` only into a `PTCap`. Mixing them up is a
//! compile error, not a corrupted page table. What the types cannot check,
//! the map operations do, and refuse with a [`PagingError`]:
//!
//! - tables are mapped top down: a table must be mapped itself before
//!   anything is mapped into it (a PML4 is the top, so always "mapped");
//! - a capability is mapped at most once, and an entry holds one mapping;
//! - the kernel half of every address space belongs to the kernel: no
//!   capability maps there;
//! - a page's rights become its entry bits, no-execute included.
//!
//! A refused operation leaves every table and capability as it was.

use super::window::PhysicalWindow;
use super::{ENTRIES, KERNEL_HALF_FIRST_INDEX, Level, PagingError, Rights, sign_extend};
use core::marker::PhantomData;
use x86_64::structures::paging::{PageTableFlags, PhysFrame};
use x86_64::{PhysAddr, VirtAddr};

/// Where a capability's object is mapped: which entry of which table points
/// to it, and the first virtual address that entry covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mapping {
    pub table: PhysFrame,
    pub index: usize,
    pub address: VirtAddr,
}

/// The type-level names of the four table levels.
pub mod levels {
    /// Page Map Level 4: the top table, the one CR3 points to.
    pub struct Pml4;
    /// Page Directory Pointer Table: each entry covers 1 GiB.
    pub struct Pdpt;
    /// Page Directory: each entry covers 2 MiB.
    pub struct Pd;
    /// Page Table: each entry maps one 4 KiB page.
    pub struct Pt;
}

/// Ties a type-level name to its [`Level`].
pub trait TableLevel {
    const LEVEL: Level;
}

impl TableLevel for levels::Pml4 {
    const LEVEL: Level = Level::Pml4;
}
impl TableLevel for levels::Pdpt {
    const LEVEL: Level = Level::Pdpt;
}
impl TableLevel for levels::Pd {
    const LEVEL: Level = Level::Pd;
}
impl TableLevel for levels::Pt {
    const LEVEL: Level = Level::Pt;
}

// ANCHOR: table_cap
/// A capability to a page table of level `L`: it owns the table's frame.
#[derive(Debug)]
pub struct TableCap<L: TableLevel> {
    frame: PhysFrame,
    mapping: Option<Mapping>,
    level: PhantomData<L>,
}

/// A capability to a top-level table: an address space.
pub type PML4Cap = TableCap<levels::Pml4>;
/// A capability to a page directory pointer table.
pub type PDPTCap = TableCap<levels::Pdpt>;
/// A capability to a page directory.
pub type PDCap = TableCap<levels::Pd>;
/// A capability to a page table.
pub type PTCap = TableCap<levels::Pt>;

/// A capability to a 4 KiB page of memory.
#[derive(Debug)]
pub struct RawPageCap {
    frame: PhysFrame,
    mapping: Option<Mapping>,
}
// ANCHOR_END: table_cap

/// The entry bits of an entry that points to a lower table: the permissions
/// are decided at the page, so the tables on the way allow everything.
/// (Capabilities only ever map into the user half.)
const TABLE_ENTRY_FLAGS: PageTableFlags =
    PageTableFlags::PRESENT.union(PageTableFlags::WRITABLE).union(PageTableFlags::USER_ACCESSIBLE);

impl<L: TableLevel> TableCap<L> {
    /// A capability to a fresh, empty table in `frame`.
    ///
    /// # Safety
    /// Nothing else may use `frame`, and `window` must reach it.
    pub unsafe fn new(window: &PhysicalWindow, frame: PhysFrame) -> Self {
        // SAFETY: the caller gives us the frame; nobody else refers to it.
        unsafe { window.table(frame) }.zero();
        Self { frame, mapping: None, level: PhantomData }
    }

    /// The table's physical frame.
    pub fn frame(&self) -> PhysFrame {
        self.frame
    }

    /// Where the table is mapped, if it is.
    pub fn mapping(&self) -> Option<Mapping> {
        self.mapping
    }

    /// The first virtual address this table covers, once it is mapped (a
    /// PML4 covers everything from address 0).
    fn base(&self) -> Option<u64> {
        match L::LEVEL {
            Level::Pml4 => Some(0),
            _ => self.mapping.map(|mapping| mapping.address.as_u64()),
        }
    }

    // ANCHOR: install
    /// Points entry `index` of this table at `frame`, for a child whose
    /// mapping record is `child`. Checks every rule first.
    fn install(
        &mut self,
        window: &PhysicalWindow,
        index: usize,
        frame: PhysFrame,
        flags: PageTableFlags,
        child: &mut Option<Mapping>,
    ) -> Result<(), PagingError> {
        if index >= ENTRIES {
            return Err(PagingError::IndexOutOfRange(index));
        }
        let base = self.base().ok_or(PagingError::TableNotMapped(L::LEVEL))?;
        if child.is_some() {
            return Err(PagingError::AlreadyMapped);
        }
        let address = VirtAddr::new(sign_extend(base + ((index as u64) << L::LEVEL.shift())));
        if is_kernel_half(address.as_u64()) {
            return Err(PagingError::KernelHalf(address));
        }
        fill_entry(window, self.frame, L::LEVEL, index, frame, flags)?;
        *child = Some(Mapping { table: self.frame, index, address });
        Ok(())
    }
    // ANCHOR_END: install
}

// ANCHOR: map_tables
impl PML4Cap {
    /// A new address space in `frame`: an empty user half, and the kernel
    /// half shared with the kernel's own PML4 `kernel` (its entries copied,
    /// so both point to the same kernel tables).
    ///
    /// # Safety
    /// As for [`TableCap::new`]; `kernel` must be a PML4 the window reaches.
    pub unsafe fn new_address_space(window: &PhysicalWindow, frame: PhysFrame, kernel: PhysFrame) -> Self {
        // SAFETY: the caller's promise, as in `new`.
        let space = unsafe { Self::new(window, frame) };
        for index in KERNEL_HALF_FIRST_INDEX..ENTRIES {
            // SAFETY: two different frames, one reference to each at a time.
            let entry = unsafe { window.table(kernel) }[index].clone();
            // SAFETY: as above.
            let entries = unsafe { window.table(frame) };
            entries[index] = entry;
        }
        space
    }

    /// Maps `pdpt` at entry `index`: it will cover `index * 512 GiB`.
    pub fn map_pdpt(
        &mut self,
        window: &PhysicalWindow,
        index: usize,
        pdpt: &mut PDPTCap,
    ) -> Result<(), PagingError> {
        self.install(window, index, pdpt.frame, TABLE_ENTRY_FLAGS, &mut pdpt.mapping)
    }
}

impl PDPTCap {
    /// Maps `pd` at entry `index` of this (mapped) PDPT.
    pub fn map_pd(
        &mut self,
        window: &PhysicalWindow,
        index: usize,
        pd: &mut PDCap,
    ) -> Result<(), PagingError> {
        self.install(window, index, pd.frame, TABLE_ENTRY_FLAGS, &mut pd.mapping)
    }
}

impl PDCap {
    /// Maps `pt` at entry `index` of this (mapped) page directory.
    pub fn map_pt(
        &mut self,
        window: &PhysicalWindow,
        index: usize,
        pt: &mut PTCap,
    ) -> Result<(), PagingError> {
        self.install(window, index, pt.frame, TABLE_ENTRY_FLAGS, &mut pt.mapping)
    }
}

impl PTCap {
    /// Maps `page` at entry `index` of this (mapped) page table, with `rights`.
    pub fn map_page(
        &mut self,
        window: &PhysicalWindow,
        index: usize,
        page: &mut RawPageCap,
        rights: Rights,
    ) -> Result<(), PagingError> {
        self.install(window, index, page.frame, rights.page_flags(), &mut page.mapping)
    }
}
// ANCHOR_END: map_tables

// ANCHOR: map
impl PML4Cap {
    /// Maps `page` at virtual address `address` with `rights`, walking down
    /// from this PML4 through the tables already mapped. Reports the first
    /// level on the way that has no table.
    pub fn map(
        &mut self,
        window: &PhysicalWindow,
        address: u64,
        page: &mut RawPageCap,
        rights: Rights,
    ) -> Result<(), PagingError> {
        check_user_page_address(address)?;
        if page.mapping.is_some() {
            return Err(PagingError::AlreadyMapped);
        }
        let mut table = self.frame;
        for level in [Level::Pml4, Level::Pdpt, Level::Pd] {
            // SAFETY: one table referenced at a time; `table` is a table
            // frame of this address space.
            let entry = &unsafe { window.table(table) }[level.index_of(address)];
            let flags = entry.flags();
            if !flags.contains(PageTableFlags::PRESENT) {
                return Err(PagingError::MissingLevel(
                    level.next().expect("PML4, PDPT and PD have a next level"),
                ));
            }
            if flags.contains(PageTableFlags::HUGE_PAGE) {
                return Err(PagingError::LargePage(level));
            }
            table = PhysFrame::containing_address(entry.addr());
        }
        let index = Level::Pt.index_of(address);
        fill_entry(window, table, Level::Pt, index, page.frame, rights.page_flags())?;
        page.mapping = Some(Mapping { table, index, address: VirtAddr::new(address) });
        Ok(())
    }
}
// ANCHOR_END: map

impl RawPageCap {
    /// A capability to a fresh, zeroed page of RAM in `frame`.
    ///
    /// # Safety
    /// Nothing else may use `frame`, and `window` must reach it.
    pub unsafe fn new(window: &PhysicalWindow, frame: PhysFrame) -> Self {
        // SAFETY: the caller gives us the frame.
        unsafe { window.bytes(frame) }.fill(0);
        Self { frame, mapping: None }
    }

    /// A capability to a page of device memory, such as the VGA text
    /// buffer, whose contents must not be touched.
    ///
    /// # Safety
    /// `frame` must be device memory that only holders of this capability
    /// write to.
    pub unsafe fn device(frame: PhysFrame) -> Self {
        Self { frame, mapping: None }
    }

    /// The page's physical frame.
    pub fn frame(&self) -> PhysFrame {
        self.frame
    }

    /// Where the page is mapped, if it is.
    pub fn mapping(&self) -> Option<Mapping> {
        self.mapping
    }

    // ANCHOR: unmap
    /// Removes the page's mapping, and its stale copy in the TLB.
    pub fn unmap(&mut self, window: &PhysicalWindow) -> Result<(), PagingError> {
        let mapping = self.mapping.ok_or(PagingError::NotMapped)?;
        // SAFETY: the mapping names a page table the page was mapped into.
        let entries = unsafe { window.table(mapping.table) };
        entries[mapping.index].set_unused();
        flush_tlb(mapping.address);
        self.mapping = None;
        Ok(())
    }
    // ANCHOR_END: unmap
}

/// Whether `address` is in the kernel half (PML4 entries 256 to 511).
fn is_kernel_half(address: u64) -> bool {
    address >> 47 != 0
}

/// The checks on an address a user page may be mapped at.
fn check_user_page_address(address: u64) -> Result<(), PagingError> {
    if sign_extend(address) != address {
        return Err(PagingError::NonCanonical(address));
    }
    if is_kernel_half(address) {
        return Err(PagingError::KernelHalf(VirtAddr::new(address)));
    }
    if !address.is_multiple_of(4096) {
        return Err(PagingError::Misaligned(address));
    }
    Ok(())
}

/// Writes entry `index` of the `level` table in `table`, if it is unused.
fn fill_entry(
    window: &PhysicalWindow,
    table: PhysFrame,
    level: Level,
    index: usize,
    frame: PhysFrame,
    flags: PageTableFlags,
) -> Result<(), PagingError> {
    // SAFETY: `table` is a page table frame, and only this reference to it
    // is alive.
    let entry = &mut unsafe { window.table(table) }[index];
    if !entry.is_unused() {
        return Err(PagingError::SlotOccupied { level, index });
    }
    entry.set_addr(PhysAddr::new(frame.start_address().as_u64()), flags);
    Ok(())
}

/// Drops the CPU's cached translation of `address`.
fn flush_tlb(address: VirtAddr) {
    // Host unit tests run in user mode, where `invlpg` is not allowed, and
    // their tables are not in use by any CPU: there is nothing to flush.
    #[cfg(not(test))]
    x86_64::instructions::tlb::flush(address);
    #[cfg(test)]
    let _ = address;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::HeapFrames;

    /// A PML4 with a PDPT, PD and PT mapped down to 1 GiB (PDPT slot 1).
    struct Space {
        frames: HeapFrames,
        window: PhysicalWindow,
        pml4: PML4Cap,
        pdpt: PDPTCap,
        pd: PDCap,
        pt: PTCap,
    }

    fn space() -> Space {
        let mut frames = HeapFrames::default();
        let window = frames.window();
        let kernel = PML4Cap::new_for_test(&mut frames);
        // SAFETY: fresh heap frames, reached by the heap window.
        let mut pml4 = unsafe { PML4Cap::new_address_space(&window, frames.frame(), kernel.frame()) };
        let mut pdpt = frames.table::<levels::Pdpt>();
        let mut pd = frames.table::<levels::Pd>();
        let mut pt = frames.table::<levels::Pt>();
        pml4.map_pdpt(&window, 0, &mut pdpt).unwrap();
        pdpt.map_pd(&window, 1, &mut pd).unwrap();
        pd.map_pt(&window, 0, &mut pt).unwrap();
        Space { frames, window, pml4, pdpt, pd, pt }
    }

    impl PML4Cap {
        fn new_for_test(frames: &mut HeapFrames) -> Self {
            let window = frames.window();
            let kernel = frames.table::<levels::Pml4>();
            // SAFETY: the kernel PML4 is a heap frame; give it one kernel entry.
            let entries = unsafe { window.table(kernel.frame()) };
            entries[300].set_addr(PhysAddr::new(0x5000), PageTableFlags::PRESENT);
            kernel
        }
    }

    #[test]
    fn a_new_address_space_shares_the_kernel_half_only() {
        let mut frames = HeapFrames::default();
        let window = frames.window();
        let kernel = PML4Cap::new_for_test(&mut frames);
        // SAFETY: a fresh heap frame.
        let space = unsafe { PML4Cap::new_address_space(&window, frames.frame(), kernel.frame()) };
        // SAFETY: heap frames, one reference at a time.
        let entries = unsafe { window.table(space.frame()) };
        assert_eq!(entries[300].addr(), PhysAddr::new(0x5000));
        assert!(entries.iter().take(KERNEL_HALF_FIRST_INDEX).all(|entry| entry.is_unused()));
    }

    #[test]
    fn tables_record_where_they_are_mapped() {
        let s = space();
        assert_eq!(s.pdpt.mapping().unwrap().address, VirtAddr::new(0));
        assert_eq!(s.pd.mapping().unwrap().address, VirtAddr::new(0x4000_0000));
        assert_eq!(
            s.pt.mapping().unwrap(),
            Mapping { table: s.pd.frame(), index: 0, address: VirtAddr::new(0x4000_0000) }
        );
        // SAFETY: heap frames, one reference at a time.
        let entry = &unsafe { s.window.table(s.pdpt.frame()) }[1];
        assert_eq!(entry.addr(), s.pd.frame().start_address());
        assert_eq!(entry.flags(), TABLE_ENTRY_FLAGS);
    }

    #[test]
    fn maps_a_page_with_its_rights() {
        let mut s = space();
        let mut page = s.frames.page();
        s.pt.map_page(&s.window, 3, &mut page, Rights::WRITE | Rights::USER).unwrap();
        assert_eq!(page.mapping().unwrap().address, VirtAddr::new(0x4000_3000));
        // SAFETY: heap frames, one reference at a time.
        let entry = &unsafe { s.window.table(s.pt.frame()) }[3];
        assert_eq!(entry.addr(), page.frame().start_address());
        assert!(entry.flags().contains(PageTableFlags::NO_EXECUTE | PageTableFlags::USER_ACCESSIBLE));
    }

    #[test]
    fn map_walks_to_the_page_table() {
        let mut s = space();
        let mut page = s.frames.page();
        s.pml4.map(&s.window, 0x4000_5000, &mut page, Rights::EXECUTE | Rights::USER).unwrap();
        // SAFETY: heap frames, one reference at a time.
        let entry = &unsafe { s.window.table(s.pt.frame()) }[5];
        assert_eq!(entry.addr(), page.frame().start_address());
        assert!(!entry.flags().contains(PageTableFlags::NO_EXECUTE));
        assert!(!entry.flags().contains(PageTableFlags::WRITABLE));
    }

    /// Every entry of every table of the space: a refused operation must
    /// leave them exactly as they were.
    fn snapshot(s: &Space) -> Vec<u64> {
        let mut entries = Vec::new();
        for frame in [s.pml4.frame(), s.pdpt.frame(), s.pd.frame(), s.pt.frame()] {
            // SAFETY: heap frames, one reference at a time.
            let table = unsafe { s.window.table(frame) };
            entries.extend(table.iter().map(|e| e.addr().as_u64() | e.flags().bits()));
        }
        entries
    }

    #[test]
    fn each_rule_has_its_error_and_changes_nothing() {
        let mut s = space();
        let mut page = s.frames.page();
        s.pml4.map(&s.window, 0x4000_0000, &mut page, Rights::WRITE | Rights::USER).unwrap();
        let before = snapshot(&s);
        let w = s.window;
        let mut other = s.frames.page();
        let mut spare_pdpt = s.frames.table::<levels::Pdpt>();
        let mut loose_pd = s.frames.table::<levels::Pd>();
        let mut loose_pt = s.frames.table::<levels::Pt>();

        assert_eq!(
            s.pml4.map_pdpt(&w, 0, &mut spare_pdpt),
            Err(PagingError::SlotOccupied { level: Level::Pml4, index: 0 })
        );
        assert_eq!(
            s.pml4.map(&w, 0x4000_0000, &mut other, Rights::USER),
            Err(PagingError::SlotOccupied { level: Level::Pt, index: 0 })
        );
        assert_eq!(s.pml4.map(&w, 0x4000_1000, &mut page, Rights::USER), Err(PagingError::AlreadyMapped));
        assert_eq!(s.pdpt.map_pd(&w, 1, &mut s.pd), Err(PagingError::AlreadyMapped));
        assert_eq!(
            s.pml4.map(&w, 0x8000_0000, &mut other, Rights::USER),
            Err(PagingError::MissingLevel(Level::Pd))
        );
        assert_eq!(
            s.pml4.map(&w, 0x80_0000_0000, &mut other, Rights::USER),
            Err(PagingError::MissingLevel(Level::Pdpt))
        );
        assert_eq!(
            s.pml4.map(&w, 0x4020_0000, &mut other, Rights::USER),
            Err(PagingError::MissingLevel(Level::Pt))
        );
        assert_eq!(
            s.pml4.map(&w, 0xFFFF_8000_0000_0000, &mut other, Rights::USER),
            Err(PagingError::KernelHalf(VirtAddr::new(0xFFFF_8000_0000_0000)))
        );
        assert_eq!(
            s.pml4.map_pdpt(&w, 256, &mut spare_pdpt),
            Err(PagingError::KernelHalf(VirtAddr::new(0xFFFF_8000_0000_0000)))
        );
        assert_eq!(
            s.pml4.map(&w, 0x4000_0123, &mut other, Rights::USER),
            Err(PagingError::Misaligned(0x4000_0123))
        );
        assert_eq!(
            s.pml4.map(&w, 0x0000_9000_0000_0000, &mut other, Rights::USER),
            Err(PagingError::NonCanonical(0x0000_9000_0000_0000))
        );
        assert_eq!(s.pt.map_page(&w, 512, &mut other, Rights::USER), Err(PagingError::IndexOutOfRange(512)));
        assert_eq!(loose_pd.map_pt(&w, 0, &mut loose_pt), Err(PagingError::TableNotMapped(Level::Pd)));
        assert_eq!(other.unmap(&w), Err(PagingError::NotMapped));

        assert_eq!(snapshot(&s), before, "a refused operation changed a table");
        assert!(other.mapping().is_none() && spare_pdpt.mapping().is_none() && loose_pt.mapping().is_none());
    }

    #[test]
    fn unmap_clears_the_entry_and_allows_mapping_again() {
        let mut s = space();
        let mut page = s.frames.page();
        s.pml4.map(&s.window, 0x4000_7000, &mut page, Rights::USER).unwrap();
        page.unmap(&s.window).unwrap();
        // SAFETY: heap frames, one reference at a time.
        assert!(unsafe { s.window.table(s.pt.frame()) }[7].is_unused());
        assert!(page.mapping().is_none());
        assert_eq!(page.unmap(&s.window), Err(PagingError::NotMapped));
        s.pml4.map(&s.window, 0x4000_7000, &mut page, Rights::USER).unwrap();
    }
}
