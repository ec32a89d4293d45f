//! Untyped memory as a managed object: retype makes children and holds them
//! strongly through the derivation list; revoke lets them all go, which
//! destroys them, and makes the memory free again.

use super::watermark::{HEADER_SIZE, Watermark};
use super::{
    AnyObject, Header, ManagedArc, ObjectKind, RetypeError, Untyped, linked_list, reach, release, window,
};
use common::memory::Span;
use core::cell::Cell;
use core::fmt;
use x86_64::PhysAddr;

/// Why a revoke was refused. A refused revoke changes nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RevokeError {
    /// An object made from the untyped is held strongly by someone other
    /// than its parent (an operation in progress): it cannot be destroyed.
    InUse { kind: ObjectKind, address: u64 },
}

impl fmt::Display for RevokeError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            RevokeError::InUse { kind, address } => {
                write!(f, "the {} at {address:#x}, made from this untyped, is in use", kind.name())
            }
        }
    }
}

/// One child of an untyped, as its header records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Child {
    pub kind: ObjectKind,
    pub address: u64,
}

impl ManagedArc<Untyped> {
    /// A new untyped for the free region `span`, whose last bytes hold its
    /// own header. The returned pointer is the only strong one: the kernel
    /// keeps it, there is no parent.
    ///
    /// # Safety
    /// Nothing else may use the memory of `span`, and the object window
    /// must reach it.
    pub unsafe fn new_root(span: Span) -> Option<Self> {
        let header = (span.end & !7).checked_sub(HEADER_SIZE).filter(|&header| header >= span.start)?;
        let record = Header {
            strong: Cell::new(0),
            weak_head: Cell::new(0),
            next_sibling: Cell::new(0),
            kind: ObjectKind::Untyped { size: header - span.start },
            body: span.start,
            region: Cell::new(Watermark::new(span.start, header)),
            first_child: Cell::new(0),
            mapped_at: Cell::new(0),
        };
        // SAFETY: the header's bytes lie at the end of `span`, which is ours.
        unsafe { (window().virtual_address(PhysAddr::new(header)) as *mut Header).write(record) };
        // SAFETY: a live untyped's header was just written there.
        Some(unsafe { ManagedArc::acquire(header) })
    }

    /// The memory objects are made from.
    pub fn span(&self) -> Span {
        let region = self.header().region.get();
        Span::new(region.start(), region.end())
    }

    /// Where the next object can begin.
    pub fn watermark(&self) -> u64 {
        self.header().region.get().watermark()
    }

    /// Bytes still free.
    pub fn free(&self) -> u64 {
        self.header().region.get().free()
    }

    // ANCHOR: retype
    /// Makes a zeroed object of `kind`, held strongly by this untyped's
    /// derivation list. Returns a strong pointer to it for the caller's use
    /// (drop it to leave the list as the only holder).
    pub fn retype(&self, kind: ObjectKind) -> Result<ManagedArc<AnyObject>, RetypeError> {
        let (size, align) = kind.layout()?;
        self.make_child(kind, size, align, None)
    }
    // ANCHOR_END: retype

    /// Makes the kernel's object for a piece of device memory at physical
    /// `address`: a header only, kept in this untyped, for memory that is
    /// not RAM and so never retyped.
    pub fn adopt_device_page(&self, address: u64) -> Result<ManagedArc<AnyObject>, RetypeError> {
        self.make_child(ObjectKind::DevicePage, 0, 1, Some(address))
    }

    fn make_child(
        &self,
        kind: ObjectKind,
        size: u64,
        align: u64,
        device: Option<u64>,
    ) -> Result<ManagedArc<AnyObject>, RetypeError> {
        let parent = self.header();
        let mut region = parent.region.get();
        let carved = region
            .carve(size, align)
            .map_err(|error| RetypeError::OutOfMemory { needed: error.needed, free: error.free })?;
        let window = window();
        let body = device.unwrap_or(carved.object);
        let child_region = Watermark::new(carved.object, carved.object + size);
        let record = Header {
            strong: Cell::new(1), // the derivation list's
            weak_head: Cell::new(0),
            next_sibling: Cell::new(parent.first_child.get()),
            kind,
            body,
            region: Cell::new(child_region),
            first_child: Cell::new(0),
            mapped_at: Cell::new(0),
        };
        // SAFETY: the carve gave us these bytes of this untyped's memory,
        // which nothing else uses; the window reaches all of it.
        unsafe {
            core::ptr::write_bytes(
                window.virtual_address(PhysAddr::new(carved.object)) as *mut u8,
                0,
                size as usize,
            );
            (window.virtual_address(PhysAddr::new(carved.header)) as *mut Header).write(record);
        }
        parent.region.set(region);
        parent.first_child.set(carved.header);
        // SAFETY: a live object's header was just written there.
        let child = unsafe { ManagedArc::acquire(carved.header) };
        super::initialize(&child);
        Ok(child)
    }

    /// The children, newest first.
    pub fn children(&self) -> impl Iterator<Item = Child> + '_ {
        children_of(self.header()).map(|child| Child { kind: child.kind, address: child.body })
    }

    // ANCHOR: revoke
    /// Destroys every object made from this untyped, and the objects made
    /// from those (recursively): each slot naming any of them is cleared.
    /// The memory is then free to be retyped again.
    pub fn revoke(&self) -> Result<(), RevokeError> {
        if let Some(busy) = find_in_use(self.header()) {
            return Err(busy);
        }
        release_children(self.header());
        Ok(())
    }
    // ANCHOR_END: revoke
}

/// The headers of an untyped's children, newest first.
fn children_of(untyped: &Header) -> impl Iterator<Item = &Header> {
    // SAFETY: the derivation list links live children.
    unsafe { linked_list(untyped.first_child.get(), |child: &Header| child.next_sibling.get()) }
}

/// A descendant of `untyped` held strongly by more than its parent.
fn find_in_use(untyped: &Header) -> Option<RevokeError> {
    children_of(untyped).find_map(|child| {
        if child.strong.get() > 1 {
            return Some(RevokeError::InUse { kind: child.kind, address: child.body });
        }
        match child.kind {
            ObjectKind::Untyped { .. } => find_in_use(child),
            _ => None,
        }
    })
}

// ANCHOR: release_children
/// Drops the derivation list's strong pointer to each child (destroying
/// those nothing else holds), and resets the watermark.
pub(super) fn release_children(untyped: &Header) {
    while untyped.first_child.get() != 0 {
        let child = untyped.first_child.get();
        // SAFETY: the derivation list links live children.
        let next = unsafe { reach::<Header>(child) }.next_sibling.get();
        untyped.first_child.set(next);
        release(child);
    }
    let mut region = untyped.region.get();
    region.reset();
    untyped.region.set(region);
}
// ANCHOR_END: release_children
