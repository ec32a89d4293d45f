//! Untyped memory: capabilities to raw RAM, and *retype*, the only way the
//! kernel makes objects.
//!
//! The kernel has no heap. At boot, every free byte of RAM becomes part of
//! an [`UntypedCap`]; a kernel object (a page table, a page, a smaller
//! untyped, later a capability pool or a task) exists only because someone
//! retyped part of an untyped into it. The untyped keeps a record of each
//! object it made, a *descriptor*, and links them into its *derivation
//! list*, so it always knows its children.
//!
//! - [`watermark`]: where objects and descriptors go (pure arithmetic);
//! - this file: object kinds, their sizes, retype and its errors.

pub mod watermark;

use crate::paging::caps::{TableCap, TableLevel};
use crate::paging::{Level, PhysicalWindow, RawPageCap};
use common::memory::Span;
use core::fmt;
use watermark::{DESCRIPTOR_SIZE, Watermark};
use x86_64::PhysAddr;
use x86_64::structures::paging::PhysFrame;

const PAGE: u64 = 4096;

// ANCHOR: kinds
/// The kinds of object the kernel knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ObjectKind {
    /// A smaller untyped region, carved from a larger one.
    Untyped {
        size: u64,
    },
    /// Page tables of the four levels.
    Pml4,
    Pdpt,
    Pd,
    Pt,
    /// A 4 KiB page of RAM.
    RawPage,
    /// A page of device memory (the VGA text buffer). It is not RAM, so it
    /// is never made by retype.
    DevicePage,
}

/// The smallest untyped that retype makes: one page.
pub const MIN_UNTYPED_SIZE: u64 = PAGE;

impl ObjectKind {
    /// Every kind with a fixed size, for the table printed at boot.
    pub const FIXED: [ObjectKind; 6] = [
        ObjectKind::Pml4,
        ObjectKind::Pdpt,
        ObjectKind::Pd,
        ObjectKind::Pt,
        ObjectKind::RawPage,
        ObjectKind::DevicePage,
    ];

    /// The size and alignment of an object of this kind: the one place
    /// they are defined. Fails for kinds retype cannot make.
    pub fn layout(self) -> Result<(u64, u64), RetypeError> {
        match self {
            ObjectKind::Pml4 | ObjectKind::Pdpt | ObjectKind::Pd | ObjectKind::Pt | ObjectKind::RawPage => {
                Ok((PAGE, PAGE))
            }
            ObjectKind::Untyped { size } if size >= MIN_UNTYPED_SIZE && size.is_multiple_of(PAGE) => {
                Ok((size, PAGE))
            }
            ObjectKind::Untyped { size } => Err(RetypeError::InvalidSize(size)),
            ObjectKind::DevicePage => Err(RetypeError::NotRetypable(self)),
        }
    }
    // ANCHOR_END: kinds

    /// The kind of a page table of `level`.
    pub const fn table(level: Level) -> ObjectKind {
        match level {
            Level::Pml4 => ObjectKind::Pml4,
            Level::Pdpt => ObjectKind::Pdpt,
            Level::Pd => ObjectKind::Pd,
            Level::Pt => ObjectKind::Pt,
        }
    }

    /// The kind's name, as the book and the boot report spell it.
    pub const fn name(self) -> &'static str {
        match self {
            ObjectKind::Untyped { .. } => "Untyped",
            ObjectKind::Pml4 => "PML4",
            ObjectKind::Pdpt => "PDPT",
            ObjectKind::Pd => "PD",
            ObjectKind::Pt => "PT",
            ObjectKind::RawPage => "RawPage",
            ObjectKind::DevicePage => "DevicePage",
        }
    }

    /// How the kind is stored in a descriptor: a code and, for an untyped,
    /// its size in the descriptor's size field.
    const fn code(self) -> u32 {
        match self {
            ObjectKind::Untyped { .. } => 1,
            ObjectKind::Pml4 => 2,
            ObjectKind::Pdpt => 3,
            ObjectKind::Pd => 4,
            ObjectKind::Pt => 5,
            ObjectKind::RawPage => 6,
            ObjectKind::DevicePage => 7,
        }
    }

    const fn from_code(code: u32, size: u64) -> Option<ObjectKind> {
        Some(match code {
            1 => ObjectKind::Untyped { size },
            2 => ObjectKind::Pml4,
            3 => ObjectKind::Pdpt,
            4 => ObjectKind::Pd,
            5 => ObjectKind::Pt,
            6 => ObjectKind::RawPage,
            7 => ObjectKind::DevicePage,
            _ => return None,
        })
    }
}

// ANCHOR: errors
/// Why a retype was refused. A refused retype changes nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetypeError {
    /// The untyped has too little room left.
    OutOfMemory { needed: u64, free: u64 },
    /// Objects of this kind are not made from RAM.
    NotRetypable(ObjectKind),
    /// An untyped of this size cannot be made (it must be a non-zero
    /// multiple of 4 KiB).
    InvalidSize(u64),
}
// ANCHOR_END: errors

impl fmt::Display for RetypeError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match *self {
            Self::OutOfMemory { needed, free } => {
                write!(f, "out of memory: needs {needed} bytes, {free} are free")
            }
            Self::NotRetypable(kind) => write!(f, "a {} cannot be made by retype", kind.name()),
            Self::InvalidSize(size) => {
                write!(f, "an untyped of {size} bytes cannot be made (a multiple of 4096 is needed)")
            }
        }
    }
}

/// The kernel's record of one object, in the untyped it came from.
#[repr(C)]
struct Descriptor {
    kind: u32,
    _reserved: u32,
    address: u64,
    size: u64,
    /// Physical address of the next sibling's descriptor; 0 ends the list.
    next: u64,
}

const _: () = assert!(core::mem::size_of::<Descriptor>() as u64 == DESCRIPTOR_SIZE);

/// One child of an untyped, as its descriptor records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Child {
    pub kind: ObjectKind,
    pub address: u64,
    pub size: u64,
}

// ANCHOR: untyped_cap
/// A capability to a region of untyped RAM.
#[derive(Debug)]
pub struct UntypedCap {
    region: Watermark,
    /// Physical address of the newest child's descriptor.
    first_child: Option<u64>,
    children: usize,
}
// ANCHOR_END: untyped_cap

impl UntypedCap {
    /// A capability to the untyped region `span`.
    ///
    /// # Safety
    /// Nothing else may use the memory of `span`: it is this capability's.
    pub unsafe fn new(span: Span) -> Self {
        Self { region: Watermark::new(span.start, span.end), first_child: None, children: 0 }
    }

    /// The region the capability covers.
    pub fn span(&self) -> Span {
        Span::new(self.region.start(), self.region.end())
    }

    /// Where the next object can begin.
    pub fn watermark(&self) -> u64 {
        self.region.watermark()
    }

    /// Bytes still free.
    pub fn free(&self) -> u64 {
        self.region.free()
    }

    /// How many objects were made from this untyped.
    pub fn child_count(&self) -> usize {
        self.children
    }

    // ANCHOR: retype
    /// Makes a zeroed object of `kind` from this untyped and records it in
    /// the derivation list. Returns its physical address.
    pub fn retype(&mut self, window: &PhysicalWindow, kind: ObjectKind) -> Result<u64, RetypeError> {
        let (size, align) = kind.layout()?;
        let carved = self
            .region
            .carve(size, align)
            .map_err(|error| RetypeError::OutOfMemory { needed: error.needed, free: error.free })?;
        // SAFETY: the carve gave us these bytes of this untyped's memory,
        // which nothing else uses; the window reaches all RAM.
        unsafe {
            core::ptr::write_bytes(
                window.virtual_address(PhysAddr::new(carved.object)) as *mut u8,
                0,
                size as usize,
            );
            let descriptor = window.virtual_address(PhysAddr::new(carved.descriptor)) as *mut Descriptor;
            descriptor.write(Descriptor {
                kind: kind.code(),
                _reserved: 0,
                address: carved.object,
                size,
                next: self.first_child.unwrap_or(0),
            });
        }
        self.first_child = Some(carved.descriptor);
        self.children += 1;
        Ok(carved.object)
    }
    // ANCHOR_END: retype

    /// Retypes a page table of level `L`.
    pub fn retype_table<L: TableLevel>(
        &mut self,
        window: &PhysicalWindow,
    ) -> Result<TableCap<L>, RetypeError> {
        let address = self.retype(window, ObjectKind::table(L::LEVEL))?;
        // SAFETY: retype just made this zeroed frame, and nothing else has it.
        Ok(unsafe { TableCap::new(frame(address)) })
    }

    /// Retypes a page of RAM.
    pub fn retype_page(&mut self, window: &PhysicalWindow) -> Result<RawPageCap, RetypeError> {
        let address = self.retype(window, ObjectKind::RawPage)?;
        // SAFETY: retype just made this zeroed frame, and nothing else has it.
        Ok(unsafe { RawPageCap::new(frame(address)) })
    }

    /// Retypes a smaller untyped of `size` bytes.
    pub fn retype_untyped(&mut self, window: &PhysicalWindow, size: u64) -> Result<UntypedCap, RetypeError> {
        let address = self.retype(window, ObjectKind::Untyped { size })?;
        // SAFETY: retype just made this region, and nothing else has it.
        Ok(unsafe { UntypedCap::new(Span::new(address, address + size)) })
    }

    /// The children of this untyped, newest first.
    pub fn children<'a>(&self, window: &'a PhysicalWindow) -> impl Iterator<Item = Child> + 'a {
        let mut next = self.first_child;
        core::iter::from_fn(move || {
            let address = next?;
            // SAFETY: descriptors lie in this untyped's memory, written by
            // `retype`, and nothing else writes there.
            let descriptor =
                unsafe { &*(window.virtual_address(PhysAddr::new(address)) as *const Descriptor) };
            next = (descriptor.next != 0).then_some(descriptor.next);
            let kind = ObjectKind::from_code(descriptor.kind, descriptor.size)?;
            Some(Child { kind, address: descriptor.address, size: descriptor.size })
        })
    }
}

/// The frame at page-aligned physical address `address`.
fn frame(address: u64) -> PhysFrame {
    PhysFrame::containing_address(PhysAddr::new(address))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::paging::caps::levels;
    use std::alloc::{Layout, alloc, dealloc};

    /// A region of heap memory, filled with a junk byte, that plays an
    /// untyped region (a window at offset 0 reaches it).
    struct Arena {
        start: *mut u8,
        layout: Layout,
    }

    impl Arena {
        fn new(size: usize) -> Self {
            let layout = Layout::from_size_align(size, 4096).unwrap();
            // SAFETY: a non-zero size.
            let start = unsafe { alloc(layout) };
            // SAFETY: fresh memory of `size` bytes.
            unsafe { start.write_bytes(0xAA, size) };
            Self { start, layout }
        }

        fn untyped(&self) -> UntypedCap {
            let start = self.start as u64;
            // SAFETY: the arena is this untyped's alone.
            unsafe { UntypedCap::new(Span::new(start, start + self.layout.size() as u64)) }
        }
    }

    impl Drop for Arena {
        fn drop(&mut self) {
            // SAFETY: allocated in `new` with this layout.
            unsafe { dealloc(self.start, self.layout) }
        }
    }

    fn window() -> PhysicalWindow {
        // SAFETY: offset 0: the heap arenas' addresses are their own.
        unsafe { PhysicalWindow::new(0) }
    }

    #[test]
    fn retype_zeroes_objects_and_records_children() {
        let arena = Arena::new(5 * 4096);
        let mut untyped = arena.untyped();
        let w = window();
        let pd: TableCap<levels::Pd> = untyped.retype_table(&w).unwrap();
        let page = untyped.retype_page(&w).unwrap();
        let start = untyped.span().start;
        assert_eq!(pd.frame().start_address().as_u64(), start);
        assert_eq!(page.frame().start_address().as_u64(), start + 4096);
        // SAFETY: the page lies in the arena.
        let bytes = unsafe { w.bytes(page.frame()) };
        assert!(bytes.iter().all(|&b| b == 0), "retyped memory is zeroed");
        let children: Vec<Child> = untyped.children(&w).collect();
        assert_eq!(
            children,
            vec![
                Child { kind: ObjectKind::RawPage, address: start + 4096, size: 4096 },
                Child { kind: ObjectKind::Pd, address: start, size: 4096 },
            ]
        );
        assert_eq!(untyped.child_count(), 2);
    }

    #[test]
    fn refusals_have_their_errors_and_change_nothing() {
        let arena = Arena::new(3 * 4096);
        let mut untyped = arena.untyped();
        let w = window();
        untyped.retype_page(&w).unwrap();
        untyped.retype_page(&w).unwrap();
        let (watermark, free) = (untyped.watermark(), untyped.free());
        assert_eq!(
            untyped.retype(&w, ObjectKind::RawPage),
            Err(RetypeError::OutOfMemory { needed: 4128, free })
        );
        assert_eq!(
            untyped.retype(&w, ObjectKind::DevicePage),
            Err(RetypeError::NotRetypable(ObjectKind::DevicePage))
        );
        assert_eq!(
            untyped.retype(&w, ObjectKind::Untyped { size: 1000 }),
            Err(RetypeError::InvalidSize(1000))
        );
        assert_eq!(untyped.retype(&w, ObjectKind::Untyped { size: 0 }), Err(RetypeError::InvalidSize(0)));
        assert_eq!((untyped.watermark(), untyped.free(), untyped.child_count()), (watermark, free, 2));
        assert_eq!(untyped.children(&w).count(), 2);
    }

    #[test]
    fn untyped_children_are_untypeds_of_their_own() {
        let arena = Arena::new(8 * 4096);
        let mut parent = arena.untyped();
        let w = window();
        let mut child = parent.retype_untyped(&w, 4 * 4096).unwrap();
        assert_eq!(child.span(), Span::new(parent.span().start, parent.span().start + 4 * 4096));
        child.retype_page(&w).unwrap();
        assert_eq!(child.child_count(), 1);
        assert_eq!(
            parent.children(&w).next(),
            Some(Child {
                kind: ObjectKind::Untyped { size: 4 * 4096 },
                address: child.span().start,
                size: 4 * 4096
            })
        );
    }

    #[test]
    fn every_fixed_kind_has_a_layout_or_a_reason() {
        for kind in ObjectKind::FIXED {
            match kind.layout() {
                Ok((size, align)) => assert!(size > 0 && align.is_power_of_two(), "{kind:?}"),
                Err(error) => assert_eq!(error, RetypeError::NotRetypable(kind)),
            }
        }
    }
}
