//! Mapping pages and page tables through their capabilities.
//!
//! A task builds its address space from objects in its pools: it maps a
//! PDPT into its PML4, a PD into the PDPT, a PT into the PD, and pages into
//! the PT, each with a system call naming the capabilities. The rules of
//! stage 2 hold: tables are mapped top down, an entry holds one mapping, an
//! object is mapped in one place, nothing is mapped into the kernel half,
//! and a page's rights become its entry bits.
//!
//! The kernel must be able to undo every mapping when an object is
//! destroyed, before its memory can be reused. So each mapping is recorded
//! twice:
//!
//! - on the object mapped: its header's `mapped_at` is the physical address
//!   of the entry that maps it, so destroying a page or a table clears
//!   that entry;
//! - on the table it is mapped in: a table object is two pages, the
//!   entries the CPU reads and a *shadow* page the CPU never sees, whose
//!   entry `i` is the header of the object entry `i` maps. So destroying a
//!   table tells every object mapped in it that it is no longer mapped.
//!
//! ```text
//!   PT object:  [ entries: 512 x (frame | flags) ][ shadow: 512 x header ]
//!                      │ entry 7                        │ shadow 7
//!                      ▼                                ▼
//!                 the page's frame               the page's header ── mapped_at ──► entry 7
//! ```

use super::header::Header;
use super::table::{Pd, Pdpt, Pml4, Pt};
use super::{AnyObject, DevicePage, Link, ManagedArc, ObjectKind, PAGE, RawPage, physical_of, reach, window};
use crate::paging::{ENTRIES, KERNEL_HALF_FIRST_INDEX, Level, PagingError, Rights, sign_extend};
use core::cell::Cell;
use core::fmt;
use core::sync::atomic::{AtomicU64, Ordering};
use x86_64::PhysAddr;
use x86_64::structures::paging::{PageTable, PageTableFlags, PhysFrame};

/// The entry bits of an entry that points to a lower table: the rights are
/// decided at the page, so the tables on the way allow everything.
const TABLE_ENTRY_FLAGS: PageTableFlags =
    PageTableFlags::PRESENT.union(PageTableFlags::WRITABLE).union(PageTableFlags::USER_ACCESSIBLE);

/// The physical address of the kernel's own PML4, whose kernel half every
/// new address space shares (0 in host tests: nothing to share).
static KERNEL_PML4: AtomicU64 = AtomicU64::new(0);

/// Makes `pml4` the table whose kernel half new address spaces copy, and
/// the one loaded when an address space in use is destroyed.
///
/// # Safety
/// `pml4` must be the kernel's PML4, live for ever.
pub unsafe fn set_kernel_pml4(pml4: PhysFrame) {
    KERNEL_PML4.store(pml4.start_address().as_u64(), Ordering::Relaxed);
}

// ANCHOR: map_state
/// What a page or a table keeps in its header: where it is mapped, and
/// whether it may be mapped writable.
#[derive(Default)]
pub struct MapState {
    /// The physical address of the page-table entry that maps the object.
    mapped_at: Cell<Link>,
    /// A page of a boot module, which the kernel handed to the first task
    /// to read (see [`mark_read_only`]): never mapped writable, never a
    /// task buffer. Only the kernel sets it, and nothing clears it.
    read_only: Cell<bool>,
}

/// The mapping record of `object`, a page or a table.
fn map_state(object: &Header) -> &MapState {
    // SAFETY: the state of each of these kinds is a `MapState` (their
    // `KernelObject::State`); the kind is checked first.
    unsafe {
        match object.kind() {
            ObjectKind::RawPage => object.state::<RawPage>(),
            ObjectKind::DevicePage => object.state::<DevicePage>(),
            ObjectKind::Pml4 => object.state::<Pml4>(),
            ObjectKind::Pdpt => object.state::<Pdpt>(),
            ObjectKind::Pd => object.state::<Pd>(),
            ObjectKind::Pt => object.state::<Pt>(),
            kind => unreachable!("a {kind} is never mapped"),
        }
    }
}
// ANCHOR_END: map_state

/// Why a map was refused. A refused map changes nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapError {
    /// Mapping needs a PML4 to map into, and this is not one.
    NotAnAddressSpace(ObjectKind),
    /// Objects of this kind cannot be mapped this way.
    NotMappable(ObjectKind),
    /// A paging rule refused it.
    Paging(PagingError),
    /// The page is read-only ([`mark_read_only`]) and the map asked for
    /// it writable.
    ReadOnly,
}

impl fmt::Display for MapError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            MapError::NotAnAddressSpace(kind) => {
                write!(f, "expected a PML4, found {} {kind}", kind.article())
            }
            MapError::NotMappable(kind) => write!(f, "{} {kind} cannot be mapped this way", kind.article()),
            MapError::Paging(error) => write!(f, "{error}"),
            MapError::ReadOnly => f.write_str("the page is read-only: it cannot be mapped writable"),
        }
    }
}

impl From<PagingError> for MapError {
    fn from(error: PagingError) -> Self {
        MapError::Paging(error)
    }
}

// ANCHOR: map_table
/// Maps the table `table` (a PDPT, PD or PT) into the address space whose
/// PML4 is `space`, as the table that covers `address`.
pub fn map_table(
    space: &ManagedArc<AnyObject>,
    table: &ManagedArc<AnyObject>,
    address: u64,
) -> Result<(), MapError> {
    let level = match Level::of_kind(table.kind()) {
        Some(Level::Pml4) | None => return Err(MapError::NotMappable(table.kind())),
        Some(level) => level,
    };
    check_space(space)?;
    check_user_address(address)?;
    if map_state(table.header()).mapped_at.get() != Link::NONE {
        return Err(PagingError::AlreadyMapped.into());
    }
    let parent_level = parent_of(level);
    let parent = walk(space.header(), address, parent_level)?;
    install(parent, parent_level.index_of(address), parent_level, table.header(), TABLE_ENTRY_FLAGS)?;
    Ok(())
}
// ANCHOR_END: map_table

// ANCHOR: map_page
/// Maps the page `page` (RAM or device memory) at the page-aligned user
/// address `address` of the address space `space`, with `rights`.
pub fn map_page(
    space: &ManagedArc<AnyObject>,
    page: &ManagedArc<AnyObject>,
    address: u64,
    rights: Rights,
) -> Result<(), MapError> {
    if !matches!(page.kind(), ObjectKind::RawPage | ObjectKind::DevicePage) {
        return Err(MapError::NotMappable(page.kind()));
    }
    check_space(space)?;
    check_user_address(address)?;
    if !address.is_multiple_of(PAGE) {
        return Err(PagingError::Misaligned(address).into());
    }
    if map_state(page.header()).mapped_at.get() != Link::NONE {
        return Err(PagingError::AlreadyMapped.into());
    }
    if rights.contains(Rights::WRITE) && read_only(page.header()) {
        return Err(MapError::ReadOnly);
    }
    let table = walk(space.header(), address, Level::Pt)?;
    let flags = (rights | Rights::USER).page_flags();
    install(table, Level::Pt.index_of(address), Level::Pt, page.header(), flags)?;
    Ok(())
}
// ANCHOR_END: map_page

// ANCHOR: unmap_page
/// Takes the page `page` out of the address space it is mapped in, for a
/// loader that filled it through a mapping of its own and now maps it in
/// the program's space (a page maps in one place at a time).
pub fn unmap_page(page: &ManagedArc<AnyObject>) -> Result<(), MapError> {
    if !matches!(page.kind(), ObjectKind::RawPage | ObjectKind::DevicePage) {
        return Err(MapError::NotMappable(page.kind()));
    }
    if map_state(page.header()).mapped_at.get() == Link::NONE {
        return Err(PagingError::NotMapped.into());
    }
    unmap(page.header());
    Ok(())
}

/// Makes the page `page` read-only for good: the kernel does it to the
/// pages it copies a boot module into before it hands them to the first
/// task, which may map them to read them, but not to write them.
pub fn mark_read_only(page: &ManagedArc<AnyObject>) {
    debug_assert!(matches!(page.kind(), ObjectKind::RawPage | ObjectKind::DevicePage));
    map_state(page.header()).read_only.set(true);
}

/// Whether `page` is a read-only page ([`mark_read_only`]).
pub fn is_read_only(page: &ManagedArc<AnyObject>) -> bool {
    read_only(page.header())
}

/// Whether `object` is a read-only page.
pub(super) fn read_only(object: &Header) -> bool {
    matches!(object.kind(), ObjectKind::RawPage | ObjectKind::DevicePage) && map_state(object).read_only.get()
}
// ANCHOR_END: unmap_page

fn check_space(space: &ManagedArc<AnyObject>) -> Result<(), MapError> {
    match space.kind() {
        ObjectKind::Pml4 => Ok(()),
        kind => Err(MapError::NotAnAddressSpace(kind)),
    }
}

/// The checks on any address a task maps something at.
fn check_user_address(address: u64) -> Result<(), PagingError> {
    if sign_extend(address) != address {
        return Err(PagingError::NonCanonical(address));
    }
    if address >> 47 != 0 {
        return Err(PagingError::KernelHalf(x86_64::VirtAddr::new(address)));
    }
    Ok(())
}

/// The level whose entries point to tables of `level`.
fn parent_of(level: Level) -> Level {
    match level {
        Level::Pml4 | Level::Pdpt => Level::Pml4,
        Level::Pd => Level::Pdpt,
        Level::Pt => Level::Pd,
    }
}

/// The entries of the table whose memory starts at `body`.
///
/// # Safety
/// `body` must be a live table object's memory, and no other reference to
/// its entries alive while this one is.
unsafe fn entries<'a>(body: u64) -> &'a mut PageTable {
    let address = window().virtual_address(PhysAddr::new(body)) as *mut PageTable;
    // SAFETY: the caller's promise; the window reaches object memory, and
    // a table's memory is 4 KiB aligned, as a `PageTable` must be.
    unsafe { &mut *address }
}

/// The shadow page of the table whose memory starts at `body`: the header
/// of the object each entry maps. (Zeroed memory is a shadow of links to
/// nothing.)
///
/// # Safety
/// As for [`entries`].
unsafe fn shadow<'a>(body: u64) -> &'a mut [Link; ENTRIES] {
    let address = window().virtual_address(PhysAddr::new(body + PAGE)) as *mut [Link; ENTRIES];
    // SAFETY: the caller's promise: a table object's second page.
    unsafe { &mut *address }
}

/// Walks from the PML4 `space` down to the table of `level` on the way to
/// `address`, and returns its memory's physical address.
fn walk(space: &Header, address: u64, level: Level) -> Result<u64, PagingError> {
    let mut table = space.body();
    let mut current = Level::Pml4;
    while current != level {
        // SAFETY: `table` is a live table: the PML4 is held by the caller,
        // each lower one is mapped in a live table (destroying a table
        // clears the entry that maps it).
        let entry = &unsafe { entries(table) }[current.index_of(address)];
        let flags = entry.flags();
        let next = current.next().expect("only the PT has no next level, and it is never walked through");
        if !flags.contains(PageTableFlags::PRESENT) {
            return Err(PagingError::MissingLevel(next));
        }
        if flags.contains(PageTableFlags::HUGE_PAGE) {
            return Err(PagingError::LargePage(current));
        }
        table = entry.addr().as_u64();
        current = next;
    }
    Ok(table)
}

/// Points entry `index` of the `level` table at `table` to `child`, and
/// records the mapping on both.
fn install(
    table: u64,
    index: usize,
    level: Level,
    child: &Header,
    flags: PageTableFlags,
) -> Result<(), PagingError> {
    // SAFETY: `table` is a live table object (found by `walk`).
    let entry = &mut unsafe { entries(table) }[index];
    if !entry.is_unused() {
        return Err(PagingError::SlotOccupied { level, index });
    }
    entry.set_addr(PhysAddr::new(child.body()), flags);
    // SAFETY: as above.
    let shadow = unsafe { shadow(table) };
    shadow[index] = Link::to(physical_of(child));
    map_state(child).mapped_at.set(Link::to(table + 8 * index as u64));
    Ok(())
}

// ANCHOR: unmap
/// Removes the mapping of `object`, if it has one: its entry is cleared and
/// forgotten by the table that held it, and the TLB flushed.
pub(super) fn unmap(object: &Header) {
    let state = map_state(object);
    let Some(entry) = state.mapped_at.get().get() else { return };
    let (table, index) = (entry & !(PAGE - 1), ((entry % PAGE) / 8) as usize);
    // SAFETY: `mapped_at` names an entry of a live table: destroying that
    // table clears this record first (`forget_children`).
    unsafe {
        entries(table)[index].set_unused();
        shadow(table)[index] = Link::NONE;
    }
    state.mapped_at.set(Link::NONE);
    flush_tlb();
}

/// Tells every object mapped in the table `table`, which is being
/// destroyed, that it is no longer mapped; and makes sure the CPU no longer
/// uses the table.
pub(super) fn forget_children(table: &Header) {
    leave_if_active(table);
    // SAFETY: the table is being destroyed, but its memory stays until its
    // untyped's watermark is reset, after this returns.
    let shadow = unsafe { shadow(table.body()) };
    for child in shadow.iter_mut() {
        if let Some(header) = child.get() {
            // SAFETY: the shadow names live objects: destroying one clears
            // its shadow entry (`unmap`).
            map_state(unsafe { reach::<Header>(header) }).mapped_at.set(Link::NONE);
            *child = Link::NONE;
        }
    }
    flush_tlb();
}
// ANCHOR_END: unmap

/// Copies the kernel half of the kernel's PML4 into the new PML4 whose
/// memory is at `table`.
pub(super) fn share_kernel_half(table: u64) {
    let kernel = KERNEL_PML4.load(Ordering::Relaxed);
    if kernel == 0 {
        return;
    }
    for index in KERNEL_HALF_FIRST_INDEX..ENTRIES {
        // SAFETY: two different live tables, one reference to each at a time.
        let entry = unsafe { entries(kernel) }[index].clone();
        // SAFETY: as above.
        let entries = unsafe { entries(table) };
        entries[index] = entry;
    }
}

/// If the PML4 `table` is the CPU's current one, switches to the kernel's.
fn leave_if_active(table: &Header) {
    #[cfg(not(test))]
    {
        use x86_64::registers::control::Cr3;
        let kernel = KERNEL_PML4.load(Ordering::Relaxed);
        if kernel != 0 && Cr3::read().0.start_address().as_u64() == table.body() {
            let frame = PhysFrame::containing_address(PhysAddr::new(kernel));
            // SAFETY: the kernel's PML4 maps all the kernel uses.
            unsafe { Cr3::write(frame, Cr3::read().1) };
        }
    }
    #[cfg(test)]
    let _ = table;
}

/// Drops every cached translation of the current address space. (A teaching
/// shortcut: flushing the one address with `invlpg` would need the address
/// recorded too, and the cost only matters once there are many mappings.)
fn flush_tlb() {
    #[cfg(not(any(test, feature = "host-twin")))]
    x86_64::instructions::tlb::flush_all();
}

/// The entry flags mapping `address` in `space` has, walking the tables
/// (for tests and the audit).
pub fn translate(space: &ManagedArc<AnyObject>, address: u64) -> Option<(u64, PageTableFlags)> {
    let table = walk(space.header(), address, Level::Pt).ok()?;
    // SAFETY: `walk` found a live table.
    let entry = &unsafe { entries(table) }[Level::Pt.index_of(address)];
    (!entry.is_unused()).then(|| (entry.addr().as_u64(), entry.flags()))
}

/// Whether the entry that maps `object` lets the CPU write through it
/// (false when it is not mapped; for the audit).
pub(super) fn mapped_writable(object: &Header) -> bool {
    let Some(entry) = mapped_at(object).get() else { return false };
    let (table, index) = (entry & !(PAGE - 1), ((entry % PAGE) / 8) as usize);
    // SAFETY: `mapped_at` names an entry of a live table (see `unmap`).
    let flags = unsafe { entries(table) }[index].flags();
    flags.contains(PageTableFlags::WRITABLE)
}

/// Where the page or table `object` is mapped: the physical address of its
/// entry (for the audit).
pub(super) fn mapped_at(object: &Header) -> Link {
    map_state(object).mapped_at.get()
}

/// Entry `index` of the live table whose memory is at `body`: the frame
/// it maps if it is in use, and the header its shadow names (for the
/// audit).
///
/// # Safety
/// `body` must be a live table object's memory.
pub(super) unsafe fn entry_and_shadow(body: u64, index: usize) -> (Option<u64>, Link) {
    // SAFETY: the caller's promise; the references end here.
    let entry = &unsafe { entries(body) }[index];
    let frame = (!entry.is_unused()).then(|| entry.addr().as_u64());
    // SAFETY: as above.
    (frame, unsafe { shadow(body) }[index])
}

/// Whether the object (a page or a table) is mapped somewhere.
pub fn is_mapped(object: &ManagedArc<AnyObject>) -> bool {
    map_state(object.header()).mapped_at.get() != Link::NONE
}
