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

use super::{Header, ManagedArc, ObjectKind, ObjectType, linked_list, physical_of, reach};
use core::cell::Cell;
use core::fmt;

// ANCHOR: slot
/// One weak pointer. All links are physical addresses; 0 means none.
#[repr(C)]
pub struct Slot {
    /// The header of the object named, or 0 when the slot is empty.
    target: Cell<u64>,
    /// The previous and next slot naming the same object.
    previous: Cell<u64>,
    next: Cell<u64>,
}
// ANCHOR_END: slot

/// Why a slot operation was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlotError {
    /// The slot is empty.
    Empty,
    /// The slot already names an object.
    Occupied,
    /// The slot names an object of another type.
    WrongType(ObjectKind),
    /// No slot of the pool is free.
    PoolFull,
    /// A pool index beyond the pool's slots.
    NoSuchSlot(usize),
}

impl fmt::Display for SlotError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            SlotError::Empty => write!(f, "the slot is empty"),
            SlotError::Occupied => write!(f, "the slot is not empty"),
            SlotError::WrongType(kind) => write!(f, "the slot holds a {}", kind.name()),
            SlotError::PoolFull => write!(f, "no slot of the pool is free"),
            SlotError::NoSuchSlot(index) => write!(f, "the pool has no slot {index}"),
        }
    }
}

impl Slot {
    /// An empty slot, for objects that hold weak pointers of their own.
    pub const fn empty() -> Self {
        Slot { target: Cell::new(0), previous: Cell::new(0), next: Cell::new(0) }
    }

    /// Whether the slot names nothing.
    pub fn is_empty(&self) -> bool {
        self.target.get() == 0
    }

    /// The kind of the object named, if any.
    pub fn kind(&self) -> Option<ObjectKind> {
        self.header().map(Header::kind)
    }

    /// The header of the object named, if any.
    pub fn header(&self) -> Option<&Header> {
        // SAFETY: a slot names only live objects: destroying an object
        // clears every slot in its weak list.
        (!self.is_empty()).then(|| unsafe { reach::<Header>(self.target.get()) })
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
        let me = physical_of(self);
        let old_head = object.weak_head.get();
        self.target.set(physical_of(object));
        self.previous.set(0);
        self.next.set(old_head);
        if old_head != 0 {
            // SAFETY: the head of a weak list is a live slot.
            unsafe { reach::<Slot>(old_head) }.previous.set(me);
        }
        object.weak_head.set(me);
    }
    // ANCHOR_END: downgrade

    // ANCHOR: upgrade
    /// A strong pointer to the object named, if the slot names one of type
    /// `T`. Fails once the object is gone: its slots are empty by then.
    pub fn upgrade<T: ObjectType>(&self) -> Result<ManagedArc<T>, SlotError> {
        let header = self.header().ok_or(SlotError::Empty)?;
        if !T::accepts(header.kind) {
            return Err(SlotError::WrongType(header.kind));
        }
        // SAFETY: the slot names a live object, of type `T` (just checked).
        Ok(unsafe { ManagedArc::acquire(self.target.get()) })
    }
    // ANCHOR_END: upgrade

    // ANCHOR: clear
    /// Empties the slot, unlinking it from its object's weak list. The
    /// object itself lives on: slots do not keep objects alive.
    pub fn clear(&self) {
        let Some(object) = self.header() else { return };
        let (previous, next) = (self.previous.get(), self.next.get());
        if previous == 0 {
            object.weak_head.set(next);
        } else {
            // SAFETY: the neighbours in a weak list are live slots.
            unsafe { reach::<Slot>(previous) }.next.set(next);
        }
        if next != 0 {
            // SAFETY: as above.
            unsafe { reach::<Slot>(next) }.previous.set(previous);
        }
        self.target.set(0);
        self.previous.set(0);
        self.next.set(0);
    }
    // ANCHOR_END: clear

    /// Makes the empty slot `to` name what this slot names (a copy).
    pub fn copy_to(&self, to: &Slot) -> Result<(), SlotError> {
        let object = self.header().ok_or(SlotError::Empty)?;
        if !to.is_empty() {
            return Err(SlotError::Occupied);
        }
        to.link(object);
        Ok(())
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
}

/// Every slot naming `object`.
pub(super) fn weak_list(object: &Header) -> impl Iterator<Item = &Slot> {
    // SAFETY: the weak list links live slots.
    unsafe { linked_list(object.weak_head.get(), |slot: &Slot| slot.next.get()) }
}

/// Clears every slot naming `object`: it is being destroyed.
pub(super) fn clear_weak_list(object: &Header) {
    while object.weak_head.get() != 0 {
        // SAFETY: the head of a weak list is a live slot.
        unsafe { reach::<Slot>(object.weak_head.get()) }.clear();
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
        let first = super::window().virtual_address(x86_64::PhysAddr::new(start)) as *const Slot;
        // SAFETY: the caller's promise.
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
