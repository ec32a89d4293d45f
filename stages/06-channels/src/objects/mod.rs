//! Kernel objects: made from untyped memory, counted by strong pointers,
//! named by weak ones, and freed the moment the last strong pointer goes.
//!
//! Every object has a [`Header`] in the untyped it came from. The header
//! holds the object's kind, its strong count and the head of its *weak
//! list*, a doubly-linked list through every [`weak::Slot`] that names it,
//! in whatever pool the slot sits. When the strong count reaches zero the
//! object is destroyed at once, and walking the weak list clears every
//! capability to it.
//!
//! Who holds what (the Rux model): an untyped holds each of its children
//! strongly, through its derivation list. Capability slots hold weak
//! pointers, upgraded to strong ones only for the length of an operation.
//! So revoking an untyped (dropping its children) destroys them, and empties
//! every slot that named them.
//!
//! - [`header`]: headers, strong pointers (`ManagedArc`) and destruction;
//! - [`weak`]: slots, weak lists, `WeakPool`;
//! - [`untyped`]: retype, the derivation tree, revoke;
//! - [`cpool`]: capability pools and `CAddr` lookup;
//! - [`page`] and [`table`]: pages and page tables as objects;
//! - [`watermark`]: how much of an untyped is used, and what still fits;
//! - this file: the window onto object memory, links, and the one list of
//!   the kinds of object ([`KINDS`]).
//!
//! All links are physical addresses, reached through one window: the boot
//! window before the kernel has its own page tables, the direct map after.
//! The kernel's own page tables are objects made before the switch and
//! used after it; physical links stay valid across it.

pub mod audit;
pub mod channel;
pub mod cpool;
pub mod header;
pub mod irq_line;
pub mod mapping;
pub mod page;
pub mod port_range;
pub mod table;
pub mod task;
pub mod untyped;
pub use common::watermark;
pub mod weak;

#[cfg(test)]
mod audit_tests;
#[cfg(test)]
mod model_tests;
#[cfg(any(test, feature = "host-twin"))]
pub(crate) mod testing;
#[cfg(test)]
mod tests;

pub use abi::ObjectKind;
pub use cpool::CPool;
pub use header::{AnyObject, Doomed, Header, ManagedArc, ObjectInfo, ObjectType, Pinned};
pub use page::{DevicePage, RawPage};
pub use table::{Pd, Pdpt, Pml4, Pt};
pub use task::Task;
pub use untyped::Untyped;

use crate::paging::PhysicalWindow;
use core::fmt;
use core::num::NonZeroU64;
use core::sync::atomic::{AtomicU64, Ordering};
use x86_64::PhysAddr;

/// The size of a page, and the unit untyped memory is counted in.
pub const PAGE: u64 = 4096;

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

/// The physical address of a value that lives in object memory.
fn physical_of<T>(value: &T) -> u64 {
    value as *const T as u64 - WINDOW_OFFSET.load(Ordering::Relaxed)
}
// ANCHOR_END: window

// ANCHOR: link
/// A link from one record in object memory to another: its physical
/// address, or none. (Nothing in object memory is at address 0.)
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(transparent)]
pub struct Link(Option<NonZeroU64>);

impl Link {
    /// The link to nothing.
    pub const NONE: Link = Link(None);

    /// The link to physical address `physical`, which must not be 0.
    pub const fn to(physical: u64) -> Link {
        match NonZeroU64::new(physical) {
            Some(address) => Link(Some(address)),
            None => panic!("nothing in object memory is at address 0"),
        }
    }

    /// The address linked to, if any.
    pub const fn get(self) -> Option<u64> {
        match self.0 {
            Some(address) => Some(address.get()),
            None => None,
        }
    }
}
// ANCHOR_END: link

/// The items of a list linked through object memory: the item at `first`,
/// then each item's `next`, until a link to nothing. One loop, however
/// long the list.
///
/// # Safety
/// Every address on the list must hold a live `T` while the items are used.
unsafe fn linked_list<'a, T: 'a>(
    first: Link,
    next: impl Fn(&T) -> Link + 'a,
) -> impl Iterator<Item = &'a T> + 'a {
    let mut link = first;
    core::iter::from_fn(move || {
        let address = link.get()?;
        // SAFETY: the caller's promise.
        let item = unsafe { reach::<T>(address) };
        link = next(item);
        Some(item)
    })
}

// ANCHOR: kernel_object
/// What the kernel knows about one kind of object. Each kind is a marker
/// type that implements this trait, in its own file, and has one line in
/// [`KINDS`].
pub trait KernelObject: Sized + 'static {
    /// The kind's tag, in headers and in system calls.
    const KIND: ObjectKind;

    /// What an object of this kind keeps in its header, beside what every
    /// header has: `()` for most kinds; an untyped keeps its watermark and
    /// its children there. It is never dropped.
    type State: Default;

    /// The memory a new object needs, given the size the retype asked
    /// for: only an Untyped has a size; every other kind must be asked
    /// for 0.
    fn layout(size: u64) -> Result<Layout, RetypeError>;

    /// Whether a task's `Retype` may make objects of this kind. A device
    /// object (an IrqLine, a PortRange) stands for hardware, not memory:
    /// the kernel makes it, at boot or by deriving it from another of the
    /// same device, never a retype.
    const RETYPABLE: bool = true;

    // ANCHOR: initialize
    /// Gives a new object what it needs beyond zeroed memory (a task its
    /// first registers, a PML4 the kernel half), before anything can name
    /// it. Most kinds need nothing.
    fn initialize(placed: &Placement) {
        let _ = placed;
    }
    // ANCHOR_END: initialize

    /// The state of a new object, made at `placed`.
    fn new_state(placed: &Placement) -> Self::State {
        let _ = placed;
        Self::State::default()
    }

    /// Lets go of what the object holds, when it is destroyed: no slot
    /// names it any more and nothing holds it strongly. Strong pointers it
    /// gives up go to `doomed` (never straight to a release, which would
    /// nest one call per level of objects holding objects).
    ///
    /// # Safety
    /// `object` is the header of an object of this kind that is being
    /// destroyed, and this is called once for it.
    unsafe fn destroy(object: &Header, doomed: &mut Doomed) {
        let _ = (object, doomed);
    }

    /// How full the object is, as one number: an Untyped's free bytes, a
    /// CPool's used slots, 0 for the rest (stage 5's ListPool returns it).
    fn detail(object: &ManagedArc<Self>) -> u64 {
        let _ = object;
        0
    }

    /// What a listing says about the object after its kind and address.
    fn describe(object: &ManagedArc<Self>, f: &mut fmt::Formatter) -> fmt::Result {
        let _ = (object, f);
        Ok(())
    }
}
// ANCHOR_END: kernel_object

// ANCHOR: kinds
/// Every kind of object this stage makes: the one list to extend. To add a
/// kind, write its file (a marker type and `impl KernelObject`), declare
/// the module above and add its line here.
pub static KINDS: &[KindOps] = &[
    KindOps::of::<Untyped>(),
    KindOps::of::<CPool>(),
    KindOps::of::<Pml4>(),
    KindOps::of::<Pdpt>(),
    KindOps::of::<Pd>(),
    KindOps::of::<Pt>(),
    KindOps::of::<RawPage>(),
    KindOps::of::<DevicePage>(),
    KindOps::of::<Task>(),
    KindOps::of::<channel::Channel>(),
    KindOps::of::<irq_line::IrqLine>(),
    KindOps::of::<port_range::PortRange>(),
];
// ANCHOR_END: kinds

/// One kind's line in [`KINDS`]: its [`KernelObject`] functions, for when
/// the kind is known only at run time (from a header, or from a system
/// call's argument).
pub struct KindOps {
    pub kind: ObjectKind,
    layout: fn(u64) -> Result<Layout, RetypeError>,
    retype: fn(&ManagedArc<Untyped>, u64) -> Result<ManagedArc<AnyObject>, RetypeError>,
    destroy: unsafe fn(&Header, &mut Doomed),
    detail: fn(&ManagedArc<AnyObject>) -> u64,
    describe: fn(&ManagedArc<AnyObject>, &mut fmt::Formatter) -> fmt::Result,
}

impl KindOps {
    /// The line for the kind `T`.
    pub const fn of<T: KernelObject>() -> KindOps {
        KindOps {
            kind: T::KIND,
            layout: T::layout,
            retype: |untyped, size| match T::RETYPABLE {
                true => untyped.retype_sized::<T>(size).map(ManagedArc::into_any),
                false => Err(RetypeError::NotRetypable(T::KIND)),
            },
            destroy: T::destroy,
            detail: |object| object.clone().downcast::<T>().map_or(0, |object| T::detail(&object)),
            describe: |object, f| match object.clone().downcast::<T>() {
                Ok(object) => T::describe(&object, f),
                Err(_) => Ok(()),
            },
        }
    }

    /// The line for `kind`, if this stage makes objects of that kind.
    pub fn find(kind: ObjectKind) -> Option<&'static KindOps> {
        KINDS.iter().find(|ops| ops.kind == kind)
    }

    /// See [`KernelObject::layout`].
    pub fn layout(&self, size: u64) -> Result<Layout, RetypeError> {
        (self.layout)(size)
    }
}

// ANCHOR: layout
/// The memory a new object takes from its untyped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Bytes of memory, at an address that is a multiple of `align` (a
    /// power of two).
    pub size: u64,
    pub align: u64,
    /// Whether the memory is zeroed when the object is made. An untyped's
    /// is not: every object made from it is zeroed when it is made.
    pub zeroed: bool,
    /// Header slots the object keeps for the objects that will be made
    /// from it, beside the one its own header takes: an untyped keeps one
    /// per page of its memory.
    pub child_headers: u64,
}

impl Layout {
    /// `size` zeroed bytes aligned to `align`, for a kind that has one
    /// size: a retype must ask for `requested` = 0.
    pub fn fixed(kind: ObjectKind, requested: u64, size: u64, align: u64) -> Result<Layout, RetypeError> {
        match requested {
            0 => Ok(Layout { size, align, zeroed: true, child_headers: 0 }),
            _ => Err(RetypeError::InvalidSize { kind, size: requested }),
        }
    }
}

/// Where a new object was made.
#[derive(Clone, Copy, Debug)]
pub struct Placement {
    /// Physical address of its memory, and its size.
    pub body: u64,
    pub size: u64,
    /// Physical address of its header, and of the `child_headers` slots
    /// after it, if its layout asked for any.
    pub header: u64,
    /// The header of the untyped it was made from.
    pub parent: u64,
}
// ANCHOR_END: layout

/// Why a retype was refused. A refused retype changes nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetypeError {
    /// The untyped has too little room left: `needed` bytes of memory or
    /// their worth of header slots (a page per slot), `free` left.
    OutOfMemory { needed: u64, free: u64 },
    /// Objects of this kind are not made from RAM (or not in this stage).
    NotRetypable(ObjectKind),
    /// This size was asked for an object of this kind: an Untyped's must
    /// be a non-zero multiple of 4096, every other kind's 0.
    InvalidSize { kind: ObjectKind, size: u64 },
}

impl fmt::Display for RetypeError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match *self {
            Self::OutOfMemory { needed, free } => {
                write!(f, "out of memory: needs {needed} bytes, {free} are free")
            }
            Self::NotRetypable(kind) => write!(f, "{} {kind} cannot be made by retype", kind.article()),
            Self::InvalidSize { kind: ObjectKind::Untyped, size } => {
                write!(f, "an Untyped of {size} bytes cannot be made (a multiple of 4096 is needed)")
            }
            Self::InvalidSize { kind, size } => {
                write!(f, "{} {kind} has one size: ask for 0 bytes, not {size}", kind.article())
            }
        }
    }
}
