//! Page tables as objects: one kind per level, whose marker types are the
//! paging levels themselves ([`Pml4`], [`Pdpt`], [`Pd`], [`Pt`]), so that
//! a `ManagedArc<Pd>` is a page directory to the paging code and to the
//! object system alike, and says at compile time which level a capability
//! or object is: a PD can only be mapped into a PDPT.
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
use x86_64::PhysAddr;
use x86_64::structures::paging::PhysFrame;

// ANCHOR: levels
/// Page Map Level 4: the top table, the one CR3 points to.
pub struct Pml4;
/// Page Directory Pointer Table: each entry covers 1 GiB.
pub struct Pdpt;
/// Page Directory: each entry covers 2 MiB.
pub struct Pd;
/// Page Table: each entry maps one 4 KiB page.
pub struct Pt;

/// A level as a type: its [`Level`], and its kind of object (the object's
/// kind is `LEVEL.kind()`).
pub trait TableLevel: KernelObject {
    const LEVEL: Level;
}

impl TableLevel for Pml4 {
    const LEVEL: Level = Level::Pml4;
}
impl TableLevel for Pdpt {
    const LEVEL: Level = Level::Pdpt;
}
impl TableLevel for Pd {
    const LEVEL: Level = Level::Pd;
}
impl TableLevel for Pt {
    const LEVEL: Level = Level::Pt;
}

// ANCHOR_END: levels

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_level_type_is_the_kind_of_its_level() {
        fn check<L: TableLevel>() {
            assert_eq!(L::KIND, L::LEVEL.kind());
        }
        check::<Pml4>();
        check::<Pdpt>();
        check::<Pd>();
        check::<Pt>();
    }
}
