//! Untyped memory as a managed object: retype makes children and holds them
//! strongly through the derivation list; revoke lets them all go, which
//! destroys them, and makes the memory free again.
//!
//! An untyped has two things to hand out (see [`watermark`](super::watermark)):
//! its memory, and header slots for the objects made from it, one per page
//! of memory and kept apart from it:
//!
//! ```text
//!  a root untyped of N pages, in its region of RAM:
//!  ┌──────────────────────────────┬──────────┬──────────────────────────┐
//!  │ memory: N pages              │ its own  │ N header slots, for the  │
//!  │ (objects, from the bottom)   │ header   │ objects made from it     │
//!  └──────────────────────────────┴──────────┴──────────────────────────┘
//!  an untyped of M pages made from it takes M pages of the memory, and
//!  M + 1 header slots: one for its own header, M for its children.
//! ```
//!
//! **The rule a user can rely on**: an untyped of N pages holds objects
//! whose sizes add up to N pages, counting each object as at least a page
//! and each untyped made from it as one page more than its size (for its
//! own header). So a 4 KiB untyped holds one 4 KiB page, an untyped of N
//! pages holds N pages, N page tables, or an untyped of N - 1 pages.
//! (Alignment permitting: a page goes at a multiple of 4096.)

use super::header::{Doomed, HEADER_SIZE, Header};
use super::watermark::Watermark;
use super::{
    AnyObject, DevicePage, KernelObject, KindOps, Layout, Link, ManagedArc, ObjectKind, PAGE, Placement,
    RetypeError, linked_list, reach,
};
use common::memory::Span;
use core::cell::Cell;
use core::fmt;

/// An untyped region of memory: the marker type of its kind.
pub struct Untyped;

// ANCHOR: state
/// What an untyped keeps in its header.
#[derive(Default)]
pub struct UntypedState {
    /// Its memory and header slots, and how much of each is used.
    room: Cell<Watermark>,
    /// Physical address of the first of its header slots.
    headers: u64,
    /// Its newest child; each child's `next` links the one made before.
    first_child: Cell<Link>,
    /// The untyped it was made from (none for a root untyped).
    parent: Link,
}
// ANCHOR_END: state

impl KernelObject for Untyped {
    const KIND: ObjectKind = ObjectKind::Untyped;
    type State = UntypedState;

    fn layout(size: u64) -> Result<Layout, RetypeError> {
        match size >= PAGE && size.is_multiple_of(PAGE) {
            true => Ok(Layout { size, align: PAGE, zeroed: false, child_headers: size / PAGE }),
            false => Err(RetypeError::InvalidSize { kind: ObjectKind::Untyped, size }),
        }
    }

    fn new_state(placed: &Placement) -> UntypedState {
        let end = placed.body + placed.size;
        UntypedState {
            room: Cell::new(Watermark::new(placed.body, end, placed.size / PAGE)),
            headers: placed.header + HEADER_SIZE,
            first_child: Cell::new(Link::NONE),
            parent: Link::to(placed.parent),
        }
    }

    unsafe fn destroy(object: &Header, doomed: &mut Doomed) {
        // SAFETY: the caller's promise: an untyped being destroyed.
        unsafe { release_children(object, doomed) };
    }

    fn detail(object: &ManagedArc<Untyped>) -> u64 {
        object.free()
    }

    fn describe(object: &ManagedArc<Untyped>, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, ", {} KiB, {} KiB free", object.size() / 1024, object.free() / 1024)
    }
}

/// Why a revoke was refused. A refused revoke changes nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RevokeError {
    /// An object made from the untyped is held strongly by someone other
    /// than its parent (an operation in progress, or the kernel): it cannot
    /// be destroyed.
    InUse { kind: ObjectKind, address: u64 },
}

impl fmt::Display for RevokeError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            RevokeError::InUse { kind, address } => {
                write!(f, "the {kind} at {address:#x}, made from this untyped, is in use")
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

/// The bytes of RAM a root untyped of `pages` pages takes: its memory, its
/// own header and a header slot per page.
pub const fn root_region_size(pages: u64) -> u64 {
    pages * PAGE + (pages + 1) * HEADER_SIZE
}

impl ManagedArc<Untyped> {
    /// A new untyped made of the free region `span`: as many pages of
    /// memory as fit with their header slots and its own header after
    /// them. The returned pointer is the only strong one: the kernel keeps
    /// it, there is no parent. `None` if not even one page fits.
    ///
    /// # Safety
    /// Nothing else may use the memory of `span`, and the object window
    /// must reach it.
    pub unsafe fn new_root(span: Span) -> Option<Self> {
        let start = span.start.next_multiple_of(PAGE);
        let room = span.end.checked_sub(start)?.checked_sub(HEADER_SIZE)?;
        let pages = room / (PAGE + HEADER_SIZE);
        if pages == 0 {
            return None;
        }
        let end = start + pages * PAGE;
        let header = end;
        let state = UntypedState {
            room: Cell::new(Watermark::new(start, end, pages)),
            headers: header + HEADER_SIZE,
            first_child: Cell::new(Link::NONE),
            parent: Link::NONE,
        };
        // SAFETY: the header's bytes lie in `span`, which is ours, after the
        // memory; the header slots follow, up to at most `span.end`.
        unsafe { Header::write(header, Header::new::<Untyped>(start, 0, Link::NONE, state)) };
        // SAFETY: a live untyped's header was just written there.
        Some(unsafe { ManagedArc::acquire(header) })
    }

    /// The memory objects are made from.
    pub fn span(&self) -> Span {
        let room = self.state().room.get();
        Span::new(room.start(), room.end())
    }

    /// The size of the memory, in bytes.
    pub fn size(&self) -> u64 {
        self.span().len()
    }

    /// Where the next object can begin.
    pub fn watermark(&self) -> u64 {
        self.state().room.get().watermark()
    }

    /// Bytes still free: memory not yet used, as far as there are header
    /// slots left for it (a page's worth per slot).
    pub fn free(&self) -> u64 {
        self.state().room.get().free()
    }

    // ANCHOR: retype
    /// Makes a new object of kind `T` (of the one size `T` has), held
    /// strongly by this untyped's derivation list, and returns a strong
    /// pointer to it for the caller's use (drop it to leave the list as the
    /// only holder). Its memory is zeroed.
    pub fn retype<T: KernelObject>(&self) -> Result<ManagedArc<T>, RetypeError> {
        self.retype_sized::<T>(0)
    }

    /// Makes a new untyped of `size` bytes (a multiple of 4096) from this
    /// one: it takes `size` bytes of memory and `size / 4096 + 1` header
    /// slots.
    pub fn retype_untyped(&self, size: u64) -> Result<ManagedArc<Untyped>, RetypeError> {
        self.retype_sized::<Untyped>(size)
    }

    /// Makes a new object of `kind`, known only at run time (a system
    /// call's argument); `size` as for [`KernelObject::layout`].
    pub fn retype_kind(&self, kind: ObjectKind, size: u64) -> Result<ManagedArc<AnyObject>, RetypeError> {
        let ops = KindOps::find(kind).ok_or(RetypeError::NotRetypable(kind))?;
        (ops.retype)(self, size)
    }

    pub(super) fn retype_sized<T: KernelObject>(&self, size: u64) -> Result<ManagedArc<T>, RetypeError> {
        let layout = T::layout(size)?;
        self.make::<T>(layout, None)
    }
    // ANCHOR_END: retype

    /// Makes the kernel's object for a page of device memory at physical
    /// `address`: a header only, kept in this untyped, for memory that is
    /// not RAM and so never retyped. It takes a header slot, no memory.
    pub fn adopt_device_page(&self, address: u64) -> Result<ManagedArc<DevicePage>, RetypeError> {
        self.make::<DevicePage>(Layout { size: 0, align: 1, zeroed: false, child_headers: 0 }, Some(address))
    }

    // ANCHOR: make
    /// Carves memory and header slots for an object of kind `T` laid out
    /// as `layout`, writes its header, and links it at the head of the
    /// derivation list. Its memory is at `device` if given (not carved).
    fn make<T: KernelObject>(
        &self,
        layout: Layout,
        device: Option<u64>,
    ) -> Result<ManagedArc<T>, RetypeError> {
        let state = self.state();
        let mut room = state.room.get();
        let carved = room
            .carve(layout.size, layout.align, 1 + layout.child_headers)
            .map_err(|error| RetypeError::OutOfMemory { needed: error.needed, free: error.free })?;
        let body = device.unwrap_or(carved.object);
        let header = state.headers + carved.first_header * HEADER_SIZE;
        if layout.zeroed {
            let memory = super::window().virtual_address(x86_64::PhysAddr::new(body)) as *mut u8;
            // SAFETY: the carve gave us these bytes of this untyped's
            // memory, which nothing else uses; the window reaches them.
            unsafe { core::ptr::write_bytes(memory, 0, layout.size as usize) };
        }
        let placed = Placement { body, size: layout.size, header, parent: self.header_address() };
        let record = Header::new::<T>(body, 1, state.first_child.get(), T::new_state(&placed));
        // SAFETY: the carve gave us these header slots, which nothing uses.
        unsafe { Header::write(header, record) };
        T::initialize(&placed);
        state.room.set(room);
        state.first_child.set(Link::to(header));
        // SAFETY: a live object of kind `T` was just made there (its one
        // strong pointer so far is the derivation list's).
        Ok(unsafe { ManagedArc::acquire(header) })
    }
    // ANCHOR_END: make

    /// The children, newest first.
    pub fn children(&self) -> impl Iterator<Item = Child> + '_ {
        children_of(self.header()).map(|child| Child { kind: child.kind(), address: child.body() })
    }

    // ANCHOR: revoke
    /// Destroys every object made from this untyped, and the objects made
    /// from those, however deep: each slot naming any of them is cleared.
    /// The memory is then free to be retyped again. Refused, changing
    /// nothing, if any of them is held strongly by more than its parent.
    pub fn revoke(&self) -> Result<(), RevokeError> {
        if let Some(busy) = find_in_use(self.header()) {
            return Err(busy);
        }
        let mut doomed = Doomed::new();
        // SAFETY: this is an untyped; every descendant is held by its
        // parent alone (just checked), so each is destroyed, once, and
        // nothing can use it afterwards.
        unsafe {
            release_children(self.header(), &mut doomed);
            doomed.destroy_all();
        }
        Ok(())
    }
    // ANCHOR_END: revoke
}

/// What the audit reads of the untyped whose header is `header`: its
/// watermark, the address of its first header slot, its newest child and
/// its parent. `None` if it is not an untyped.
pub(super) fn audit_view(header: &Header) -> Option<(Watermark, u64, Link, Link)> {
    state_of(header).map(|state| (state.room.get(), state.headers, state.first_child.get(), state.parent))
}

/// The state of the object whose header is `header`, if it is an untyped.
fn state_of(header: &Header) -> Option<&UntypedState> {
    // SAFETY: an untyped's header holds an `UntypedState`.
    (header.kind() == ObjectKind::Untyped).then(|| unsafe { header.state::<Untyped>() })
}

/// The first child of the object whose header is `header`: none unless it
/// is an untyped with children.
fn first_child(header: &Header) -> Link {
    state_of(header).map_or(Link::NONE, |state| state.first_child.get())
}

/// The headers of an untyped's children, newest first.
fn children_of(untyped: &Header) -> impl Iterator<Item = &Header> {
    // SAFETY: the derivation list links live children.
    unsafe { linked_list(first_child(untyped), |child: &Header| child.next().get()) }
}

// ANCHOR: find_in_use
/// A descendant of `untyped` held strongly by more than its parent. A walk
/// of the derivation tree, depth first, without a stack: it goes down
/// through `first_child`, along through `next` and back up through
/// `parent`, so it costs no memory however deep the tree.
fn find_in_use(untyped: &Header) -> Option<RevokeError> {
    let top = super::physical_of(untyped);
    // The untyped whose children the walk is at, and the next of them.
    let mut parent = untyped;
    let mut next = first_child(parent);
    loop {
        match next.get() {
            Some(address) => {
                // SAFETY: the derivation lists link live children.
                let child = unsafe { reach::<Header>(address) };
                if child.strong_count() > 1 {
                    return Some(RevokeError::InUse { kind: child.kind(), address: child.body() });
                }
                next = child.next().get();
                if first_child(child) != Link::NONE {
                    (parent, next) = (child, first_child(child));
                }
            }
            None if super::physical_of(parent) == top => return None,
            None => {
                // Every child of `parent` is done: go on with its sibling.
                next = parent.next().get();
                let up = state_of(parent).and_then(|state| state.parent.get());
                // SAFETY: the parent of a live untyped below `top` is live.
                parent = unsafe { reach::<Header>(up.expect("an untyped below the top has a parent")) };
            }
        }
    }
}
// ANCHOR_END: find_in_use

// ANCHOR: release_children
/// Gives the derivation list's strong pointer to each child up into
/// `doomed` (so those nothing else holds will be destroyed), and resets
/// the watermark: all the memory and header slots are free again.
///
/// # Safety
/// `untyped` is the header of an untyped, and nothing may use its children
/// after this, but through strong pointers still held to them.
unsafe fn release_children(untyped: &Header, doomed: &mut Doomed) {
    let state = state_of(untyped).expect("only an untyped has children");
    while let Some(child) = state.first_child.get().get() {
        // SAFETY: the derivation list links live children.
        let record = unsafe { reach::<Header>(child) };
        state.first_child.set(record.next().get());
        record.next().set(Link::NONE);
        // SAFETY: the list held this strong pointer; the child is on no
        // list now.
        unsafe { doomed.release(child) };
    }
    let mut room = state.room.get();
    room.reset();
    state.room.set(room);
}
// ANCHOR_END: release_children
