//! Kernel objects: made from untyped memory, counted by strong pointers,
//! named by weak ones, and freed the moment the last strong pointer goes.
//!
//! Every object has a [`Header`] in the untyped it came from. The header
//! holds the object's strong count and the head of its *weak list*, a
//! doubly-linked list through every [`weak::Slot`] that names it, in
//! whatever pool the slot sits. When the strong count reaches zero the
//! object is destroyed at once, and walking the weak list clears every
//! capability to it.
//!
//! Who holds what (the Rux model): an untyped holds each of its children
//! strongly, through its derivation list. Capability slots hold weak
//! pointers, upgraded to strong ones only for the length of an operation.
//! So revoking an untyped (dropping its children) destroys them, and empties
//! every slot that named them.
//!
//! - [`weak`]: slots, weak lists, `WeakPool`;
//! - [`untyped`]: retype, the derivation list, revoke;
//! - [`cpool`]: capability pools and `CAddr` lookup;
//! - [`watermark`]: where objects and headers go in an untyped;
//! - this file: the window onto object memory, kinds, headers, `ManagedArc`.
//!
//! All links are physical addresses, reached through one window: the boot
//! window before the kernel has its own page tables, the direct map after.
//! The kernel's own page tables are objects made before the switch and
//! used after it; physical links stay valid across it.

pub mod cpool;
pub mod mapping;
pub mod task;
pub mod untyped;
pub mod watermark;
pub mod weak;

#[cfg(test)]
pub(crate) mod model_tests;

use crate::paging::PhysicalWindow;
use core::cell::Cell;
use core::fmt;
use core::marker::PhantomData;
use core::sync::atomic::{AtomicU64, Ordering};
use watermark::{HEADER_SIZE, Watermark};
use weak::Slot;
use x86_64::PhysAddr;

// ANCHOR: window
/// The offset of the window through which object memory is reached.
/// Zero (host tests: heap addresses are the "physical" ones) until the
/// kernel sets it.
static WINDOW_OFFSET: AtomicU64 = AtomicU64::new(0);

/// Makes `window` the way to object memory from now on.
///
/// # Safety
/// The window must reach every object, and every object made before must
/// be reachable through it at the same physical address.
pub unsafe fn set_window(window: &PhysicalWindow) {
    WINDOW_OFFSET.store(window.offset(), Ordering::Relaxed);
}

/// The window onto object memory.
pub fn window() -> PhysicalWindow {
    // SAFETY: `set_window` promised the offset reaches every object.
    unsafe { PhysicalWindow::new(WINDOW_OFFSET.load(Ordering::Relaxed)) }
}

/// The `T` at physical address `physical` in object memory.
///
/// # Safety
/// A `T` must live there for as long as the reference is used.
unsafe fn reach<'a, T>(physical: u64) -> &'a T {
    let address = window().virtual_address(PhysAddr::new(physical)) as *const T;
    // SAFETY: the caller's promise; the window maps object memory.
    unsafe { &*address }
}

/// The items of a list linked through object memory by physical
/// addresses: the item at `first`, then each item's `next`, until 0.
///
/// # Safety
/// Every address on the list must hold a live `T` while the items are used.
unsafe fn linked_list<'a, T: 'a>(
    first: u64,
    next: impl Fn(&T) -> u64 + 'a,
) -> impl Iterator<Item = &'a T> + 'a {
    let mut address = first;
    core::iter::from_fn(move || {
        (address != 0).then(|| {
            // SAFETY: the caller's promise.
            let item = unsafe { reach::<T>(address) };
            address = next(item);
            item
        })
    })
}

/// The physical address of a value that lives in object memory.
fn physical_of<T>(value: &T) -> u64 {
    value as *const T as u64 - WINDOW_OFFSET.load(Ordering::Relaxed)
}
// ANCHOR_END: window

// ANCHOR: kinds
/// The kinds of object the kernel knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ObjectKind {
    /// A smaller untyped region, carved from a larger one.
    Untyped {
        size: u64,
    },
    /// A capability pool: 256 weak slots.
    CPool,
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
    /// A task: saved registers, and weak pointers to its root pool, page
    /// table and task buffer.
    Task,
}

/// The smallest untyped that retype makes: one page.
pub const MIN_UNTYPED_SIZE: u64 = PAGE;
const PAGE: u64 = 4096;

impl ObjectKind {
    /// Every kind with a fixed size, for the table printed at boot.
    pub const FIXED: [ObjectKind; 8] = [
        ObjectKind::CPool,
        ObjectKind::Pml4,
        ObjectKind::Pdpt,
        ObjectKind::Pd,
        ObjectKind::Pt,
        ObjectKind::RawPage,
        ObjectKind::DevicePage,
        ObjectKind::Task,
    ];

    /// The size and alignment of an object of this kind: the one place
    /// they are defined. Fails for kinds retype cannot make.
    pub fn layout(self) -> Result<(u64, u64), RetypeError> {
        match self {
            ObjectKind::CPool => {
                Ok(((abi::CPOOL_SLOTS * size_of::<Slot>()) as u64, align_of::<Slot>() as u64))
            }
            // A table is two pages: the entries the CPU reads, and the
            // kernel's record of which object each entry maps.
            ObjectKind::Pml4 | ObjectKind::Pdpt | ObjectKind::Pd | ObjectKind::Pt => Ok((2 * PAGE, PAGE)),
            ObjectKind::RawPage => Ok((PAGE, PAGE)),
            ObjectKind::Task => Ok((size_of::<task::TaskBody>() as u64, align_of::<task::TaskBody>() as u64)),
            ObjectKind::Untyped { size } if size >= MIN_UNTYPED_SIZE && size.is_multiple_of(PAGE) => {
                Ok((size, PAGE))
            }
            ObjectKind::Untyped { size } => Err(RetypeError::InvalidSize(size)),
            ObjectKind::DevicePage => Err(RetypeError::NotRetypable(self)),
        }
    }
    // ANCHOR_END: kinds

    /// The kind the system-call interface names `kind`; `size` is the size
    /// of an untyped. `None` for kinds this stage has no objects of.
    pub fn from_abi(kind: abi::ObjectKind, size: u64) -> Option<ObjectKind> {
        Some(match kind {
            abi::ObjectKind::Untyped => ObjectKind::Untyped { size },
            abi::ObjectKind::CPool => ObjectKind::CPool,
            abi::ObjectKind::Pml4 => ObjectKind::Pml4,
            abi::ObjectKind::Pdpt => ObjectKind::Pdpt,
            abi::ObjectKind::Pd => ObjectKind::Pd,
            abi::ObjectKind::Pt => ObjectKind::Pt,
            abi::ObjectKind::RawPage => ObjectKind::RawPage,
            abi::ObjectKind::DevicePage => ObjectKind::DevicePage,
            abi::ObjectKind::Task => ObjectKind::Task,
            abi::ObjectKind::Channel => return None,
        })
    }

    /// The kind's code in the system-call interface.
    pub const fn to_abi(self) -> abi::ObjectKind {
        match self {
            ObjectKind::Untyped { .. } => abi::ObjectKind::Untyped,
            ObjectKind::CPool => abi::ObjectKind::CPool,
            ObjectKind::Pml4 => abi::ObjectKind::Pml4,
            ObjectKind::Pdpt => abi::ObjectKind::Pdpt,
            ObjectKind::Pd => abi::ObjectKind::Pd,
            ObjectKind::Pt => abi::ObjectKind::Pt,
            ObjectKind::RawPage => abi::ObjectKind::RawPage,
            ObjectKind::DevicePage => abi::ObjectKind::DevicePage,
            ObjectKind::Task => abi::ObjectKind::Task,
        }
    }

    /// The kind of a page table of `level`.
    pub const fn table(level: crate::paging::Level) -> ObjectKind {
        use crate::paging::Level;
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
            ObjectKind::CPool => "CPool",
            ObjectKind::Pml4 => "PML4",
            ObjectKind::Pdpt => "PDPT",
            ObjectKind::Pd => "PD",
            ObjectKind::Pt => "PT",
            ObjectKind::RawPage => "RawPage",
            ObjectKind::DevicePage => "DevicePage",
            ObjectKind::Task => "Task",
        }
    }
}

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

// ANCHOR: header
/// The kernel's record of one object, in the untyped it came from.
#[repr(C)]
pub struct Header {
    /// Strong pointers: the parent's derivation list, plus any held for the
    /// length of an operation. At zero the object is destroyed.
    strong: Cell<usize>,
    /// The first slot naming this object (0: none).
    weak_head: Cell<u64>,
    /// The next child of the same parent untyped (0: the last).
    next_sibling: Cell<u64>,
    kind: ObjectKind,
    /// Physical address of the object's memory.
    body: u64,
    /// For untypeds: how far the region is used, and the first child.
    region: Cell<Watermark>,
    first_child: Cell<u64>,
    /// For pages and tables: the physical address of the page-table entry
    /// that maps the object (0: not mapped).
    mapped_at: Cell<u64>,
}
// ANCHOR_END: header

const _: () = assert!(size_of::<Header>() as u64 <= HEADER_SIZE);

impl Header {
    /// What kind of object this is.
    pub fn kind(&self) -> ObjectKind {
        self.kind
    }

    /// Physical address of the object's memory.
    pub fn body(&self) -> u64 {
        self.body
    }

    /// The number of strong pointers.
    pub fn strong_count(&self) -> usize {
        self.strong.get()
    }

    /// The number of slots naming the object.
    pub fn weak_count(&self) -> usize {
        weak::weak_list(self).count()
    }
}

// ANCHOR: types
/// A type-level name for the kinds a [`ManagedArc`] may point to.
pub trait ObjectType {
    /// Whether an object of `kind` is of this type.
    fn accepts(kind: ObjectKind) -> bool;
}

/// Any kind of object.
pub struct AnyObject;
/// An untyped region.
pub struct Untyped;
/// A capability pool.
pub struct CPool;
/// A task.
pub struct Task;

impl ObjectType for AnyObject {
    fn accepts(_: ObjectKind) -> bool {
        true
    }
}
impl ObjectType for Untyped {
    fn accepts(kind: ObjectKind) -> bool {
        matches!(kind, ObjectKind::Untyped { .. })
    }
}
impl ObjectType for CPool {
    fn accepts(kind: ObjectKind) -> bool {
        kind == ObjectKind::CPool
    }
}
impl ObjectType for Task {
    fn accepts(kind: ObjectKind) -> bool {
        kind == ObjectKind::Task
    }
}
// ANCHOR_END: types

// ANCHOR: managed_arc
/// A strong pointer to a kernel object of type `T`. Cloning it counts one
/// more; dropping the last one destroys the object.
pub struct ManagedArc<T: ObjectType = AnyObject> {
    /// Physical address of the object's header.
    header: u64,
    /// A pointer-like marker: headers are shared through `Cell`s, so a
    /// `ManagedArc` must stay on one CPU (it is neither `Send` nor `Sync`).
    object: PhantomData<*const T>,
}

impl<T: ObjectType> ManagedArc<T> {
    /// One more strong pointer to the object whose header is at `header`.
    ///
    /// # Safety
    /// A live object of type `T` must have its header at `header`.
    unsafe fn acquire(header: u64) -> Self {
        // SAFETY: the caller's promise.
        let record = unsafe { reach::<Header>(header) };
        record.strong.set(record.strong.get() + 1);
        Self { header, object: PhantomData }
    }

    /// The object's header.
    pub fn header(&self) -> &Header {
        // SAFETY: this strong pointer keeps the object, and so its header,
        // alive.
        unsafe { reach(self.header) }
    }

    /// What kind of object this is.
    pub fn kind(&self) -> ObjectKind {
        self.header().kind
    }

    /// Whether both point to the same object.
    pub fn same_object<U: ObjectType>(&self, other: &ManagedArc<U>) -> bool {
        self.header == other.header
    }

    /// The same pointer, as a pointer to any object.
    pub fn into_any(self) -> ManagedArc<AnyObject> {
        let header = self.header;
        core::mem::forget(self);
        ManagedArc { header, object: PhantomData }
    }

    /// The same pointer as a `U`, if the object is one.
    pub fn downcast<U: ObjectType>(self) -> Result<ManagedArc<U>, ObjectKind> {
        let kind = self.kind();
        if !U::accepts(kind) {
            return Err(kind);
        }
        let header = self.header;
        core::mem::forget(self);
        Ok(ManagedArc { header, object: PhantomData })
    }
}

impl<T: ObjectType> Clone for ManagedArc<T> {
    fn clone(&self) -> Self {
        // SAFETY: `self` keeps the object alive, and it is a `T`.
        unsafe { Self::acquire(self.header) }
    }
}

impl<T: ObjectType> Drop for ManagedArc<T> {
    fn drop(&mut self) {
        release(self.header);
    }
}
// ANCHOR_END: managed_arc

// ANCHOR: destroy
/// Gives up one strong pointer to the object whose header is at `header`;
/// destroys the object when it was the last.
fn release(header: u64) {
    // SAFETY: the caller held a strong pointer: the object is alive.
    let record = unsafe { reach::<Header>(header) };
    let strong = record.strong.get() - 1;
    record.strong.set(strong);
    if strong == 0 {
        destroy(record);
    }
}

/// Destroys an object nothing holds strongly any more: every slot naming it
/// is cleared, then what the object itself holds is let go.
fn destroy(object: &Header) {
    weak::clear_weak_list(object);
    match object.kind {
        ObjectKind::CPool => cpool::clear_all_slots(object),
        ObjectKind::Untyped { .. } => untyped::release_children(object),
        ObjectKind::Task => task::destroy(object),
        ObjectKind::Pml4 | ObjectKind::Pdpt | ObjectKind::Pd | ObjectKind::Pt => {
            mapping::unmap(object);
            mapping::forget_children(object);
        }
        ObjectKind::RawPage | ObjectKind::DevicePage => mapping::unmap(object),
    }
    #[cfg(test)]
    model_tests::record_destruction(physical_of(object));
}
// ANCHOR_END: destroy

// ANCHOR: initialize
/// Gives a new, zeroed object of a kind that needs more than zeroes its
/// first contents.
fn initialize(object: &ManagedArc<AnyObject>) {
    match object.kind() {
        ObjectKind::Pml4 => mapping::share_kernel_half(object.header()),
        ObjectKind::Task => task::initialize(object.header()),
        _ => {}
    }
}
// ANCHOR_END: initialize
