//! Capability pools: a `CPool` is a kernel object whose memory is a
//! 256-slot [`WeakPool`]. Pools nest: a slot may name another pool, and a
//! [`CAddr`] walks down through them, one slot index per level.
//!
//! The operations a task will use on its capabilities live here: look a
//! slot up, copy, move and delete capabilities, list a pool, retype an
//! untyped into an empty slot, and revoke an untyped.

use super::header::Doomed;
use super::untyped::RevokeError;
use super::weak::{Slot, SlotError, WeakPool};
use super::{
    AnyObject, Header, KernelObject, KindOps, Layout, ManagedArc, ObjectKind, ObjectType, RetypeError,
    Untyped,
};
use abi::{CAddr, CPOOL_SLOTS};
use core::fmt;

/// A capability pool: the marker type of its kind.
pub struct CPool;

// ANCHOR: cpool
impl KernelObject for CPool {
    const KIND: ObjectKind = ObjectKind::CPool;
    type State = ();

    fn layout(size: u64) -> Result<Layout, RetypeError> {
        let slots = (CPOOL_SLOTS * size_of::<Slot>()) as u64;
        Layout::fixed(Self::KIND, size, slots, align_of::<Slot>() as u64)
    }

    unsafe fn destroy(object: &Header, _: &mut Doomed) {
        // SAFETY: the caller's promise: a pool, being destroyed. Its memory
        // stays until its untyped makes something else there, which is
        // after this returns.
        let slots = unsafe { WeakPool::at(object.body(), CPOOL_SLOTS) };
        // Slots hold no strong pointers: emptying them dooms nothing.
        for (_, slot) in slots.slots() {
            slot.clear();
        }
    }

    fn detail(pool: &ManagedArc<CPool>) -> u64 {
        pool.pool().slots().filter(|(_, slot)| !slot.is_empty()).count() as u64
    }

    fn describe(pool: &ManagedArc<CPool>, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, ", {} slots used", Self::detail(pool))
    }
}
// ANCHOR_END: cpool

impl ManagedArc<CPool> {
    /// The pool's slots.
    pub fn pool(&self) -> WeakPool<'_> {
        // SAFETY: a CPool's memory is its 256 slots; this strong pointer
        // keeps it alive.
        unsafe { WeakPool::at(self.address(), CPOOL_SLOTS) }
    }

    /// The slot at `index`.
    pub fn slot(&self, index: u8) -> &Slot {
        self.pool().slot(usize::from(index)).expect("a pool has 256 slots, one per byte")
    }
}

// ANCHOR: lookup_errors
/// Why a capability address names no usable slot. Levels count from 1,
/// the root pool's slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LookupError {
    /// The slot at this level is empty.
    Empty { level: usize },
    /// The slot at this level holds another kind of object than expected:
    /// a CPool on the way, the operation's kind at the end.
    WrongKind { level: usize, expected: ObjectKind, found: ObjectKind },
}
// ANCHOR_END: lookup_errors

impl fmt::Display for LookupError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match *self {
            LookupError::Empty { level } => write!(f, "level {level}: the slot is empty"),
            LookupError::WrongKind { level, expected, found } => write!(
                f,
                "level {level}: expected {} {expected}, found {} {found}",
                expected.article(),
                found.article()
            ),
        }
    }
}

impl LookupError {
    /// The error for a slot at `level` that `SlotError` describes.
    fn at(level: usize, error: SlotError) -> LookupError {
        match error {
            SlotError::WrongKind { expected, found } => LookupError::WrongKind { level, expected, found },
            _ => LookupError::Empty { level },
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
/// The slot `address` names, or why there is none (the one name for it:
/// every lookup, the kernel's and the system calls', is this one).
pub fn lookup(root: &ManagedArc<CPool>, address: CAddr) -> Result<SlotRef, CapError> {
    walk_to_slot(root, address).map_err(|error| CapError::Lookup(address, error))
}

/// A strong pointer to the object of type `T` (`AnyObject`: any kind)
/// that `address` names, or why there is none. A `CapError` converts into
/// the ABI's `Error` (`EmptySlot`, `WrongKind`), so a system call's handler
/// can use `?` on it.
pub fn lookup_object<T: ObjectType>(
    root: &ManagedArc<CPool>,
    address: CAddr,
) -> Result<ManagedArc<T>, CapError> {
    walk_to_object(root, address).map_err(|error| CapError::Lookup(address, error))
}

/// Walks from `root` to the slot `address` names: every index but the last
/// picks a slot that must hold a pool; the last picks the slot.
fn walk_to_slot(root: &ManagedArc<CPool>, address: CAddr) -> Result<SlotRef, LookupError> {
    let (&last, path) = address.path().split_last().expect("a CAddr has at least one level");
    let mut pool = root.clone();
    for (level, &index) in path.iter().enumerate() {
        pool = pool.slot(index).upgrade::<CPool>().map_err(|error| LookupError::at(level + 1, error))?;
    }
    Ok(SlotRef { pool, index: last })
}

/// Walks to the slot `address` names, and upgrades what it holds to `T`.
fn walk_to_object<T: ObjectType>(
    root: &ManagedArc<CPool>,
    address: CAddr,
) -> Result<ManagedArc<T>, LookupError> {
    // As `walk_to_slot`, but borrowing the root pool instead of holding it: an
    // address in the root pool (the common case) then makes one strong
    // pointer, the object's, and not a second one to the root pool.
    let (&last, path) = address.path().split_last().expect("a CAddr has at least one level");
    let mut walked: Option<ManagedArc<CPool>> = None;
    for (level, &index) in path.iter().enumerate() {
        let pool = walked.as_ref().unwrap_or(root);
        let next = pool.slot(index).upgrade::<CPool>().map_err(|error| LookupError::at(level + 1, error))?;
        walked = Some(next);
    }
    let pool = walked.as_ref().unwrap_or(root);
    pool.slot(last).upgrade::<T>().map_err(|error| LookupError::at(address.depth(), error))
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

/// The slot `address` names, which must not be empty.
fn find_full(root: &ManagedArc<CPool>, address: CAddr) -> Result<SlotRef, CapError> {
    let found = lookup(root, address)?;
    match found.slot().is_empty() {
        true => Err(CapError::Lookup(address, LookupError::Empty { level: address.depth() })),
        false => Ok(found),
    }
}

/// The empty slot `address` names.
fn find_empty(root: &ManagedArc<CPool>, address: CAddr) -> Result<SlotRef, CapError> {
    let found = lookup(root, address)?;
    match found.slot().is_empty() {
        true => Ok(found),
        false => Err(CapError::Occupied(address)),
    }
}

// ANCHOR: operations
/// Puts a second weak pointer to the object in `from` into the empty slot `to`.
pub fn copy(root: &ManagedArc<CPool>, from: CAddr, to: CAddr) -> Result<(), CapError> {
    let object = lookup_object::<AnyObject>(root, from)?;
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

/// Retypes part of the untyped in `untyped` into a new object of `kind`
/// (of `size` bytes, for an Untyped; else 0), whose capability goes into
/// the empty slot `to`.
pub fn retype(
    root: &ManagedArc<CPool>,
    untyped: CAddr,
    kind: ObjectKind,
    size: u64,
    to: CAddr,
) -> Result<(), CapError> {
    let source = lookup_object::<Untyped>(root, untyped)?;
    let destination = find_empty(root, to)?;
    let object = source.retype_kind(kind, size).map_err(CapError::Retype)?;
    destination.slot().downgrade(&object).expect("the slot was found empty");
    Ok(())
}

/// Makes a new object of kind `T` out of the untyped in `untyped`, whose
/// capability goes into the empty slot `to`; `init` gives it what it
/// stands for before anything can name it. For the kinds a task may not
/// retype, which the kernel derives from another of the same device
/// (`IrqDerive`, `PortDerive`): revoking the untyped destroys it.
pub fn derive<T: KernelObject>(
    root: &ManagedArc<CPool>,
    untyped: CAddr,
    to: CAddr,
    init: impl FnOnce(&ManagedArc<T>),
) -> Result<(), CapError> {
    let source = lookup_object::<Untyped>(root, untyped)?;
    let destination = find_empty(root, to)?;
    let object = source.retype::<T>().map_err(CapError::Retype)?;
    init(&object);
    destination.slot().downgrade(&object).expect("the slot was found empty");
    Ok(())
}

/// Destroys everything made from the untyped in `untyped`.
pub fn revoke(root: &ManagedArc<CPool>, untyped: CAddr) -> Result<(), CapError> {
    lookup_object::<Untyped>(root, untyped)?.revoke().map_err(CapError::Revoke)
}
// ANCHOR_END: operations

/// A short description of the object in `slot`, for listings.
pub fn describe(slot: &Slot) -> impl fmt::Display + '_ {
    Description(slot)
}

struct Description<'a>(&'a Slot);

impl fmt::Display for Description<'_> {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let Ok(object) = self.0.upgrade::<AnyObject>() else { return write!(f, "(empty)") };
        let kind = object.kind();
        write!(f, "{kind} at {:#x}", object.address())?;
        (KindOps::find(kind).expect("every object's kind is in KINDS").describe)(&object, f)?;
        match object.weak_count() {
            1 => write!(f, " (1 capability to it)"),
            count => write!(f, " ({count} capabilities to it)"),
        }
    }
}

/// The non-empty slots of `pool`: index and slot.
pub fn list(pool: &ManagedArc<CPool>) -> impl Iterator<Item = (u8, &Slot)> {
    (0..=u8::MAX).map(|index| (index, pool.slot(index))).filter(|(_, slot)| !slot.is_empty())
}
