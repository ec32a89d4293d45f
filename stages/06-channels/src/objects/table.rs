//! Page tables as objects: one kind per level, whose marker types are the
//! paging levels themselves ([`crate::paging::levels`]), so that a
//! `ManagedArc<Pd>` is a page directory to the paging code and to the
//! object system alike.
//!
//! The kernel's own tables are objects too, retyped from an untyped the
//! kernel keeps ([`KernelTables`]). The kernel uses them until it stops, so
//! it pins them ([`ManagedArc::leak`]): a revoke of that untyped is refused,
//! as for any object in use, instead of freeing the live page tables.

use super::header::{Doomed, Header};
use super::mapping::{self, MapState};
use super::{KernelObject, Layout, ManagedArc, ObjectKind, PAGE, Placement, RetypeError, Untyped};
use crate::kernel_space::TableSource;
use crate::paging::Level;
use crate::paging::levels::{Pd, Pdpt, Pml4, Pt, TableLevel};
use x86_64::PhysAddr;
use x86_64::structures::paging::PhysFrame;

// ANCHOR: tables
/// A page table of any level takes two zeroed pages: its 512 entries, and
/// their shadow, the kernel's record of the object each entry maps (see
/// `objects::mapping`).
fn table_layout<L: TableLevel>(size: u64) -> Result<Layout, RetypeError> {
    Layout::fixed(L::LEVEL.kind(), size, 2 * PAGE, PAGE)
}

/// What destroying a table of any level does: it leaves the table above
/// it, and tells every object mapped in it that it is no longer mapped.
///
/// # Safety
/// As for [`KernelObject::destroy`].
unsafe fn destroy_table(object: &Header) {
    mapping::unmap(object);
    mapping::forget_children(object);
}

impl KernelObject for Pml4 {
    const KIND: ObjectKind = Level::Pml4.kind();
    type State = MapState;
    fn layout(size: u64) -> Result<Layout, RetypeError> {
        table_layout::<Self>(size)
    }
    /// A new address space shares the kernel half of the kernel's own.
    fn initialize(placed: &Placement) {
        mapping::share_kernel_half(placed.body);
    }
    unsafe fn destroy(object: &Header, _: &mut Doomed) {
        // SAFETY: the caller's promise.
        unsafe { destroy_table(object) };
    }
}

impl KernelObject for Pdpt {
    const KIND: ObjectKind = Level::Pdpt.kind();
    type State = MapState;
    fn layout(size: u64) -> Result<Layout, RetypeError> {
        table_layout::<Self>(size)
    }
    unsafe fn destroy(object: &Header, _: &mut Doomed) {
        // SAFETY: the caller's promise.
        unsafe { destroy_table(object) };
    }
}

impl KernelObject for Pd {
    const KIND: ObjectKind = Level::Pd.kind();
    type State = MapState;
    fn layout(size: u64) -> Result<Layout, RetypeError> {
        table_layout::<Self>(size)
    }
    unsafe fn destroy(object: &Header, _: &mut Doomed) {
        // SAFETY: the caller's promise.
        unsafe { destroy_table(object) };
    }
}

impl KernelObject for Pt {
    const KIND: ObjectKind = Level::Pt.kind();
    type State = MapState;
    fn layout(size: u64) -> Result<Layout, RetypeError> {
        table_layout::<Self>(size)
    }
    unsafe fn destroy(object: &Header, _: &mut Doomed) {
        // SAFETY: the caller's promise.
        unsafe { destroy_table(object) };
    }
}
// ANCHOR_END: tables

// ANCHOR: kernel_tables
/// Where the kernel's own page tables come from: retyped from `untyped`,
/// and pinned, so that they live as long as the kernel uses them.
pub struct KernelTables<'a> {
    pub untyped: &'a ManagedArc<Untyped>,
}

impl TableSource for KernelTables<'_> {
    fn new_table(&mut self, level: Level) -> Option<PhysFrame> {
        let table = self.untyped.retype_kind(level.kind(), 0).ok()?;
        let frame = PhysFrame::containing_address(PhysAddr::new(table.address()));
        // The kernel's tables are in use until the kernel stops.
        table.leak();
        Some(frame)
    }
}
// ANCHOR_END: kernel_tables
