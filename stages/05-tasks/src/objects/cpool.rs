//! Capability pools: a `CPool` is a kernel object whose memory is a
//! 256-slot [`WeakPool`]. Pools nest: a slot may name another pool, and a
//! [`CAddr`] walks down through them, one slot index per level.
//!
//! The operations a task will use on its capabilities live here: look a
//! slot up, copy, move and delete capabilities, list a pool, retype an
//! untyped into an empty slot, and revoke an untyped.

use super::untyped::RevokeError;
use super::weak::{Slot, SlotError, WeakPool};
use super::{AnyObject, CPool, Header, ManagedArc, ObjectKind, ObjectType, RetypeError, Untyped};
use abi::{CAddr, CPOOL_SLOTS};
use core::fmt;

impl ManagedArc<CPool> {
    /// The pool's slots.
    pub fn pool(&self) -> WeakPool<'_> {
        // SAFETY: a CPool's memory is its 256 slots; this strong pointer
        // keeps it alive.
        unsafe { WeakPool::at(self.header().body, CPOOL_SLOTS) }
    }

    /// The slot at `index`.
    pub fn slot(&self, index: u8) -> &Slot {
        self.pool().slot(usize::from(index)).expect("a pool has 256 slots, one per byte")
    }
}

/// Empties every slot of a pool that is being destroyed.
pub(super) fn clear_all_slots(pool: &Header) {
    // SAFETY: the pool's memory stays until its parent's watermark is reset,
    // which is after this returns.
    let slots = unsafe { WeakPool::at(pool.body, CPOOL_SLOTS) };
    for (_, slot) in slots.slots() {
        slot.clear();
    }
}

// ANCHOR: lookup_errors
/// Why a capability address names no usable slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LookupError {
    /// The slot at this level (1 = root) on the way is empty.
    EmptySlot { level: usize },
    /// The slot at this level on the way holds something other than a pool.
    NotACPool { level: usize, found: ObjectKind },
    /// The final slot holds an object of the wrong type.
    WrongType { found: ObjectKind },
    /// The final slot is empty.
    Empty,
}
// ANCHOR_END: lookup_errors

impl fmt::Display for LookupError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            LookupError::EmptySlot { level } => {
                write!(f, "the slot at level {level} of the address is empty")
            }
            LookupError::NotACPool { level, found } => {
                write!(f, "the slot at level {level} of the address holds a {}, not a CPool", found.name())
            }
            LookupError::WrongType { found } => {
                write!(f, "the slot holds a {} of another type", found.name())
            }
            LookupError::Empty => write!(f, "the slot is empty"),
        }
    }
}

/// A slot found by a lookup, with a strong pointer that keeps its pool alive.
pub struct SlotRef {
    pool: ManagedArc<CPool>,
    index: u8,
}

impl SlotRef {
    /// The slot.
    pub fn slot(&self) -> &Slot {
        self.pool.slot(self.index)
    }
}

// ANCHOR: lookup
/// Finds the slot `address` names: every index but the last picks a slot
/// that must hold a pool, starting from `root`; the last picks the slot.
pub fn lookup(root: &ManagedArc<CPool>, address: CAddr) -> Result<SlotRef, LookupError> {
    let (&last, path) = address.path().split_last().expect("a CAddr has at least one level");
    let mut pool = root.clone();
    for (level, &index) in path.iter().enumerate() {
        pool = pool.slot(index).upgrade::<CPool>().map_err(|error| match error {
            SlotError::WrongType(found) => LookupError::NotACPool { level: level + 1, found },
            _ => LookupError::EmptySlot { level: level + 1 },
        })?;
    }
    Ok(SlotRef { pool, index: last })
}

/// A strong pointer to the object of type `T` that `address` names.
pub fn lookup_object<T: ObjectType>(
    root: &ManagedArc<CPool>,
    address: CAddr,
) -> Result<ManagedArc<T>, LookupError> {
    lookup(root, address)?.slot().upgrade::<T>().map_err(|error| match error {
        SlotError::WrongType(found) => LookupError::WrongType { found },
        _ => LookupError::Empty,
    })
}
// ANCHOR_END: lookup

// ANCHOR: cap_errors
/// Why a capability operation was refused. A refused operation changes
/// nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CapError {
    /// An address named no usable slot.
    Lookup(CAddr, LookupError),
    /// The destination slot is not empty.
    Occupied(CAddr),
    /// Retype refused.
    Retype(RetypeError),
    /// Revoke refused.
    Revoke(RevokeError),
}
// ANCHOR_END: cap_errors

impl fmt::Display for CapError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            CapError::Lookup(address, error) => write!(f, "{address}: {error}"),
            CapError::Occupied(address) => write!(f, "{address}: the slot is not empty"),
            CapError::Retype(error) => write!(f, "{error}"),
            CapError::Revoke(error) => write!(f, "{error}"),
        }
    }
}

fn find(root: &ManagedArc<CPool>, address: CAddr) -> Result<SlotRef, CapError> {
    lookup(root, address).map_err(|error| CapError::Lookup(address, error))
}

fn find_object<T: ObjectType>(root: &ManagedArc<CPool>, address: CAddr) -> Result<ManagedArc<T>, CapError> {
    lookup_object(root, address).map_err(|error| CapError::Lookup(address, error))
}

/// The slot `address` names, which must not be empty.
fn find_full(root: &ManagedArc<CPool>, address: CAddr) -> Result<SlotRef, CapError> {
    let found = find(root, address)?;
    match found.slot().is_empty() {
        true => Err(CapError::Lookup(address, LookupError::Empty)),
        false => Ok(found),
    }
}

/// The empty slot `address` names.
fn find_empty(root: &ManagedArc<CPool>, address: CAddr) -> Result<SlotRef, CapError> {
    let found = find(root, address)?;
    match found.slot().is_empty() {
        true => Ok(found),
        false => Err(CapError::Occupied(address)),
    }
}

// ANCHOR: operations
/// Puts a second weak pointer to the object in `from` into the empty slot `to`.
pub fn copy(root: &ManagedArc<CPool>, from: CAddr, to: CAddr) -> Result<(), CapError> {
    let object = find_object::<AnyObject>(root, from)?;
    find_empty(root, to)?.slot().downgrade(&object).expect("the slot was found empty");
    Ok(())
}

/// Moves the capability in `from` to the empty slot `to`.
pub fn move_cap(root: &ManagedArc<CPool>, from: CAddr, to: CAddr) -> Result<(), CapError> {
    let source = find_full(root, from)?;
    let destination = find_empty(root, to)?;
    source.slot().move_to(destination.slot()).expect("a full source and an empty destination");
    Ok(())
}

/// Empties the slot `at`. The object lives on while its untyped holds it.
pub fn delete(root: &ManagedArc<CPool>, at: CAddr) -> Result<(), CapError> {
    find_full(root, at)?.slot().clear();
    Ok(())
}

/// Retypes part of the untyped in `untyped` into a new object of `kind`,
/// whose capability goes into the empty slot `to`.
pub fn retype(root: &ManagedArc<CPool>, untyped: CAddr, kind: ObjectKind, to: CAddr) -> Result<(), CapError> {
    let source = find_object::<Untyped>(root, untyped)?;
    let destination = find_empty(root, to)?;
    let object = source.retype(kind).map_err(CapError::Retype)?;
    destination.slot().downgrade(&object).expect("the slot was found empty");
    Ok(())
}

/// Destroys everything made from the untyped in `untyped`.
pub fn revoke(root: &ManagedArc<CPool>, untyped: CAddr) -> Result<(), CapError> {
    find_object::<Untyped>(root, untyped)?.revoke().map_err(CapError::Revoke)
}
// ANCHOR_END: operations

/// A short description of the object in `slot`, for listings.
pub fn describe(slot: &Slot) -> impl fmt::Display + '_ {
    Description(slot)
}

struct Description<'a>(&'a Slot);

impl fmt::Display for Description<'_> {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let Some(object) = self.0.header() else { return write!(f, "(empty)") };
        write!(f, "{} at {:#x}", object.kind.name(), object.body)?;
        match object.kind {
            ObjectKind::Untyped { size } => {
                let region = object.region.get();
                write!(f, ", {} KiB, {} KiB free", size / 1024, region.free() / 1024)
            }
            ObjectKind::CPool => {
                // SAFETY: the slot names a live pool.
                let slots = unsafe { WeakPool::at(object.body, CPOOL_SLOTS) };
                write!(f, ", {} slots used", slots.slots().filter(|(_, slot)| !slot.is_empty()).count())
            }
            _ => Ok(()),
        }?;
        match object.weak_count() {
            1 => write!(f, " (1 capability to it)"),
            count => write!(f, " ({count} capabilities to it)"),
        }
    }
}

/// What a listing reports of the object in a slot: its kind, and a detail
/// (an untyped's free bytes, a pool's used slots, else 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Info {
    pub kind: ObjectKind,
    pub detail: u64,
}

/// What a listing reports of the object in `slot`, if any.
pub fn info(slot: &Slot) -> Option<Info> {
    let object = slot.header()?;
    let detail = match object.kind {
        ObjectKind::Untyped { .. } => object.region.get().free(),
        ObjectKind::CPool => {
            // SAFETY: the slot names a live pool.
            let slots = unsafe { WeakPool::at(object.body, CPOOL_SLOTS) };
            slots.slots().filter(|(_, slot)| !slot.is_empty()).count() as u64
        }
        _ => 0,
    };
    Some(Info { kind: object.kind, detail })
}

/// The non-empty slots of `pool`: index and slot.
pub fn list(pool: &ManagedArc<CPool>) -> impl Iterator<Item = (u8, &Slot)> {
    (0..=u8::MAX).map(|index| (index, pool.slot(index))).filter(|(_, slot)| !slot.is_empty())
}

/// The header of the object at physical address `header` (tests).
#[cfg(test)]
pub(super) fn header_at(header: u64) -> &'static Header {
    // SAFETY: tests pass headers of objects they know to exist.
    unsafe { super::reach(header) }
}
