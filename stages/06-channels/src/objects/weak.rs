//! Weak pointers: slots that name an object without keeping it alive.
//!
//! A [`Slot`] is empty or names one object. All slots naming the same object
//! form a doubly-linked list, the object's *weak list*, whose head is in the
//! object's header. So the object can find, and clear, every slot that names
//! it, in whatever pool each sits, the moment it is destroyed; and a slot can
//! leave the list in constant time, without knowing its neighbours' pools.
//!
//! ```text
//!   header of X            pool A               pool B
//!   weak_head ───────► [slot 3: X] ◄──► [slot 9: X] ◄──► [slot 0: X]
//! ```
//!
//! The invariant everything here relies on: **a slot names only live
//! objects**. Destroying an object clears every slot on its weak list, so a
//! non-empty slot can be followed to a live header. Safe code never gets a
//! reference to a header from a slot: it gets copies (a kind), or a strong
//! pointer through [`Slot::upgrade`], which keeps the object alive.

use super::header::Borrowed;
use super::{AnyObject, Header, Link, ManagedArc, ObjectKind, ObjectType, linked_list, physical_of, reach};
use core::cell::Cell;
use core::fmt;

// ANCHOR: slot
/// One weak pointer: three links, each to nothing when the slot is empty.
#[repr(C)]
pub struct Slot {
    /// The header of the object named.
    target: Cell<Link>,
    /// The previous and next slot naming the same object.
    previous: Cell<Link>,
    next: Cell<Link>,
}
// ANCHOR_END: slot

/// Why a slot operation was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlotError {
    /// The slot is empty.
    Empty,
    /// The slot already names an object.
    Occupied,
    /// The slot names an object of another kind than the one expected.
    WrongKind { expected: ObjectKind, found: ObjectKind },
    /// No slot of the pool is free.
    PoolFull,
    /// A pool index beyond the pool's slots.
    NoSuchSlot(usize),
}

impl fmt::Display for SlotError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match *self {
            SlotError::Empty => write!(f, "the slot is empty"),
            SlotError::Occupied => write!(f, "the slot is not empty"),
            SlotError::WrongKind { expected, found } => {
                write!(f, "expected {} {expected}, found {} {found}", expected.article(), found.article())
            }
            SlotError::PoolFull => write!(f, "no slot of the pool is free"),
            SlotError::NoSuchSlot(index) => write!(f, "the pool has no slot {index}"),
        }
    }
}

impl Slot {
    /// An empty slot, for objects that hold weak pointers of their own (a
    /// task names its pool, page table and buffer with slots).
    pub const fn empty() -> Self {
        Slot { target: Cell::new(Link::NONE), previous: Cell::new(Link::NONE), next: Cell::new(Link::NONE) }
    }

    /// Whether the slot names nothing.
    pub fn is_empty(&self) -> bool {
        self.target.get() == Link::NONE
    }

    /// The kind of the object named, if any.
    pub fn kind(&self) -> Option<ObjectKind> {
        // SAFETY: the header is read here and not kept.
        unsafe { self.object() }.map(Header::kind)
    }

    /// The header of the object named, if any.
    ///
    /// # Safety
    /// The reference must not be used once the object may have been
    /// destroyed (by anything that can release a strong pointer).
    unsafe fn object(&self) -> Option<&Header> {
        // SAFETY: a slot names only live objects (see the module's
        // documentation); the caller keeps the reference short.
        self.target.get().get().map(|header| unsafe { reach::<Header>(header) })
    }

    /// Whether the slot names `object`: a comparison of addresses, no
    /// strong pointer made.
    pub fn names<T: ObjectType>(&self, object: &ManagedArc<T>) -> bool {
        self.target.get().get() == Some(object.header_address())
    }

    /// Physical address of the header of the object named (for tests that
    /// compare slots with a model).
    #[cfg(test)]
    pub(crate) fn target(&self) -> Option<u64> {
        self.target.get().get()
    }

    // ANCHOR: downgrade
    /// Makes this empty slot name `object`: a weak pointer, linked at the
    /// head of the object's weak list.
    pub fn downgrade<T: ObjectType>(&self, object: &ManagedArc<T>) -> Result<(), SlotError> {
        if !self.is_empty() {
            return Err(SlotError::Occupied);
        }
        self.link(object.header());
        Ok(())
    }

    fn link(&self, object: &Header) {
        let me = Link::to(physical_of(self));
        let old_head = object.weak_head().get();
        self.target.set(Link::to(physical_of(object)));
        self.previous.set(Link::NONE);
        self.next.set(old_head);
        if let Some(head) = old_head.get() {
            // SAFETY: the head of a weak list is a live slot.
            unsafe { reach::<Slot>(head) }.previous.set(me);
        }
        object.weak_head().set(me);
    }
    // ANCHOR_END: downgrade

    // ANCHOR: upgrade
    /// A strong pointer to the object named, if the slot names one of type
    /// `T`. Fails once the object is gone: its slots are empty by then.
    pub fn upgrade<T: ObjectType>(&self) -> Result<ManagedArc<T>, SlotError> {
        let header = self.target.get().get().ok_or(SlotError::Empty)?;
        let found = self.kind().ok_or(SlotError::Empty)?;
        match T::EXPECTED {
            Some(expected) if expected != found => Err(SlotError::WrongKind { expected, found }),
            // SAFETY: the slot names a live object, of type `T` (checked).
            _ => Ok(unsafe { ManagedArc::acquire(header) }),
        }
    }
    // ANCHOR_END: upgrade

    /// The object this slot names, if it is a `T`, borrowed for as long
    /// as the slot is: no strong pointer is taken ([`Borrowed`] says when
    /// that is sound). `None` if the slot is empty or names another kind.
    #[inline]
    pub fn borrow<T: ObjectType>(&self) -> Option<Borrowed<'_, T>> {
        let header = self.target.get().get()?;
        // SAFETY: a slot names only live objects, and the header is only
        // read here.
        let kind = unsafe { reach::<Header>(header) }.kind();
        // SAFETY: a live object of the kind `T` accepts, which lives while
        // the slot names it: the borrow is the slot's.
        T::accepts(kind).then(|| unsafe { Borrowed::new(header) })
    }

    // ANCHOR: clear
    /// Empties the slot, unlinking it from its object's weak list. The
    /// object itself lives on: slots do not keep objects alive.
    pub fn clear(&self) {
        // SAFETY: the header is used only here, where nothing is released.
        let Some(object) = (unsafe { self.object() }) else { return };
        let (previous, next) = (self.previous.get(), self.next.get());
        match previous.get() {
            None => object.weak_head().set(next),
            // SAFETY: the neighbours in a weak list are live slots.
            Some(previous) => unsafe { reach::<Slot>(previous) }.next.set(next),
        }
        if let Some(next) = next.get() {
            // SAFETY: as above.
            unsafe { reach::<Slot>(next) }.previous.set(previous);
        }
        self.target.set(Link::NONE);
        self.previous.set(Link::NONE);
        self.next.set(Link::NONE);
    }
    // ANCHOR_END: clear

    /// Makes the empty slot `to` name what this slot names (a copy).
    pub fn copy_to(&self, to: &Slot) -> Result<(), SlotError> {
        let object = self.upgrade::<AnyObject>()?;
        to.downgrade(&object)
    }

    /// Moves what this slot names to the empty slot `to`.
    pub fn move_to(&self, to: &Slot) -> Result<(), SlotError> {
        if core::ptr::eq(self, to) {
            return if self.is_empty() { Err(SlotError::Empty) } else { Ok(()) };
        }
        self.copy_to(to)?;
        self.clear();
        Ok(())
    }

    /// The slot's three links, target, previous and next, for the audit.
    pub(super) fn links(&self) -> (Link, Link, Link) {
        (self.target.get(), self.previous.get(), self.next.get())
    }

    /// Replaces the slot's backward link, returning the old one: a way for
    /// tests to break a weak list as a buggy unlink would.
    #[cfg(test)]
    pub(super) fn replace_previous(&self, previous: Link) -> Link {
        self.previous.replace(previous)
    }
}

/// Every slot naming `object`.
pub(super) fn weak_list(object: &Header) -> impl Iterator<Item = &Slot> {
    // SAFETY: the weak list links live slots.
    unsafe { linked_list(object.weak_head().get(), |slot: &Slot| slot.next.get()) }
}

/// Clears every slot naming `object` (which is being destroyed). Each
/// round takes the head off the list; a head that will not come off is a
/// broken list, reported at once rather than spun on forever.
pub(super) fn clear_weak_list(object: &Header) {
    while let Some(head) = object.weak_head().get().get() {
        // SAFETY: the head of a weak list is a live slot.
        unsafe { reach::<Slot>(head) }.clear();
        assert_ne!(object.weak_head().get().get(), Some(head), "a broken weak list: its head stays");
    }
}

/// Walks the weak list of `object` forwards and backwards, at most `bound`
/// slots each way, checking every link: each slot names `object`, each
/// `previous` is the slot before it, and the backward walk visits the same
/// slots in reverse. Returns the number of slots; a broken or cyclic list
/// is an error, never an endless loop. (For tests.)
#[cfg(test)]
pub(super) fn check_weak_list(object: &Header, bound: usize) -> Result<usize, String> {
    let me = Link::to(physical_of(object));
    let mut forward = Vec::new();
    let mut previous = Link::NONE;
    let mut link = object.weak_head().get();
    while let Some(address) = link.get() {
        if forward.len() == bound {
            return Err(format!("more than {bound} slots forwards: a cycle?"));
        }
        // SAFETY: tests walk lists of live slots.
        let slot = unsafe { reach::<Slot>(address) };
        if slot.target.get() != me {
            return Err(format!("slot {address:#x} on the list names another object"));
        }
        if slot.previous.get() != previous {
            return Err(format!("slot {address:#x}: its backward link does not lead to the slot before it"));
        }
        forward.push(address);
        previous = link;
        link = slot.next.get();
    }
    let mut backward = Vec::new();
    let mut link = previous;
    while let Some(address) = link.get() {
        if backward.len() == bound {
            return Err(format!("more than {bound} slots backwards: a cycle?"));
        }
        backward.push(address);
        // SAFETY: as above.
        link = unsafe { reach::<Slot>(address) }.previous.get();
    }
    backward.reverse();
    match backward == forward {
        true => Ok(forward.len()),
        false => Err(format!("forwards {forward:x?}, backwards {backward:x?}")),
    }
}

// ANCHOR: weak_pool
/// A pool of weak slots, laid out in object memory (a capability pool's
/// memory is one).
#[derive(Clone, Copy)]
pub struct WeakPool<'a> {
    slots: &'a [Slot],
}

impl<'a> WeakPool<'a> {
    /// The pool of `count` slots at physical address `start`.
    ///
    /// # Safety
    /// `count` slots must live there as long as the pool is used.
    pub(super) unsafe fn at(start: u64, count: usize) -> Self {
        // SAFETY: the caller's promise: slots live there (`reach` is the
        // window's cheap sum, every system call's lookups pass here).
        let first: &Slot = unsafe { super::reach(start) };
        // SAFETY: the caller's promise: `count` of them.
        Self { slots: unsafe { core::slice::from_raw_parts(first, count) } }
    }

    /// The slot at `index`.
    pub fn slot(&self, index: usize) -> Result<&'a Slot, SlotError> {
        self.slots.get(index).ok_or(SlotError::NoSuchSlot(index))
    }

    /// Every slot, with its index.
    pub fn slots(&self) -> impl Iterator<Item = (usize, &'a Slot)> {
        self.slots.iter().enumerate()
    }

    /// Puts a weak pointer to `object` in slot `index`, or in the first
    /// free slot when `index` is `None`. Returns the slot's index.
    pub fn downgrade<T: ObjectType>(
        &self,
        object: &ManagedArc<T>,
        index: Option<usize>,
    ) -> Result<usize, SlotError> {
        let index = match index {
            Some(index) => index,
            None => self.slots.iter().position(Slot::is_empty).ok_or(SlotError::PoolFull)?,
        };
        self.slot(index)?.downgrade(object)?;
        Ok(index)
    }

    /// A strong pointer to the object in slot `index`, if it is a `T`.
    pub fn upgrade<T: ObjectType>(&self, index: usize) -> Result<ManagedArc<T>, SlotError> {
        self.slot(index)?.upgrade()
    }
}
// ANCHOR_END: weak_pool
