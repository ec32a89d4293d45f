//! Headers, strong pointers, and destruction.
//!
//! A [`Header`] is the kernel's record of one object: what every object
//! has (kind, memory, strong count, weak list) and, in a fixed-size area,
//! what only its kind keeps ([`KernelObject::State`]). A [`ManagedArc`] is
//! a strong pointer: the header's physical address, typed by the kind it
//! points to. When the last strong pointer goes, the object is destroyed,
//! and so is everything only it held: one loop over a list of doomed
//! objects ([`Doomed`]), not one call per level of nesting.

use super::weak;
use super::{KernelObject, KindOps, Link, ObjectKind, PAGE, reach};
use core::cell::{Cell, UnsafeCell};
use core::marker::PhantomData;
use core::mem::{MaybeUninit, align_of, size_of};
use x86_64::PhysAddr;

/// Bytes in every header for the state of its kind.
pub const STATE_SIZE: usize = 64;

// ANCHOR: header
/// The kernel's record of one object, in the untyped it came from.
#[repr(C)]
pub struct Header {
    /// Strong pointers: the parent's derivation list, plus any held for the
    /// length of an operation or pinned by the kernel. At zero the object
    /// is destroyed.
    strong: Cell<usize>,
    /// The first slot naming this object.
    weak_head: Cell<Link>,
    /// The next object on the list this one is on: its untyped's children
    /// while it lives, the objects waiting to be destroyed once nothing
    /// holds it (it has left its untyped's list by then).
    next: Cell<Link>,
    kind: ObjectKind,
    /// Physical address of the object's memory.
    body: u64,
    /// What only objects of this kind keep: a `KernelObject::State`.
    state: StateArea,
}
// ANCHOR_END: header

/// Room for one kind's state, written when the header is.
#[repr(C, align(8))]
struct StateArea(UnsafeCell<MaybeUninit<[u8; STATE_SIZE]>>);

/// The size of one header: an untyped keeps a slot of this size for each
/// object made from it.
pub const HEADER_SIZE: u64 = size_of::<Header>() as u64;

// Header slots are packed one after the other: each must stay 8-aligned.
const _: () = assert!(HEADER_SIZE.is_multiple_of(8) && HEADER_SIZE <= PAGE);

impl Header {
    /// A header for a new object of kind `T` at `body`, held by `strong`
    /// pointers, with its state.
    pub(super) fn new<T: KernelObject>(body: u64, strong: usize, next: Link, state: T::State) -> Header {
        const {
            assert!(size_of::<T::State>() <= STATE_SIZE, "a kind's state must fit its header");
            assert!(align_of::<T::State>() <= 8, "a kind's state must be at most 8-aligned");
            assert!(!core::mem::needs_drop::<T::State>(), "a kind's state is never dropped");
        }
        let area = StateArea(UnsafeCell::new(MaybeUninit::uninit()));
        // SAFETY: the area is large and aligned enough (checked above).
        unsafe { area.0.get().cast::<T::State>().write(state) };
        Header {
            strong: Cell::new(strong),
            weak_head: Cell::new(Link::NONE),
            next: Cell::new(next),
            kind: T::KIND,
            body,
            state: area,
        }
    }

    /// Writes `header` at physical address `at`.
    ///
    /// # Safety
    /// `at` is a free header slot of an untyped, that no one else uses.
    pub(super) unsafe fn write(at: u64, header: Header) {
        let slot = super::window().virtual_address(PhysAddr::new(at)) as *mut Header;
        // SAFETY: the caller's promise; the window reaches object memory.
        unsafe { slot.write(header) };
    }

    /// What kind of object this is.
    pub fn kind(&self) -> ObjectKind {
        self.kind
    }

    /// Physical address of the object's memory.
    pub fn body(&self) -> u64 {
        self.body
    }

    /// The next object on the list this one is on.
    pub(super) fn next(&self) -> &Cell<Link> {
        &self.next
    }

    /// The head of the weak list.
    pub(super) fn weak_head(&self) -> &Cell<Link> {
        &self.weak_head
    }

    /// The object's state.
    ///
    /// # Safety
    /// The object must be of kind `T` (its state was written as a `T::State`).
    pub(super) unsafe fn state<T: KernelObject>(&self) -> &T::State {
        debug_assert_eq!(self.kind, T::KIND);
        // SAFETY: `new` wrote a `T::State` there (the caller's promise);
        // the area is an `UnsafeCell`, so the state's `Cell`s may change.
        unsafe { &*self.state.0.get().cast::<T::State>() }
    }

    /// The number of strong pointers to the object.
    pub(super) fn strong_count(&self) -> usize {
        self.strong.get()
    }

    /// The number of slots naming the object.
    fn weak_count(&self) -> usize {
        weak::weak_list(self).count()
    }
}

// ANCHOR: types
/// The types a [`ManagedArc`] may point to: one kind (every
/// [`KernelObject`]), or any kind ([`AnyObject`]).
pub trait ObjectType {
    /// The kind a pointer of this type expects, or `None` for any.
    const EXPECTED: Option<ObjectKind>;

    /// Whether an object of `kind` is of this type.
    fn accepts(kind: ObjectKind) -> bool {
        Self::EXPECTED.is_none_or(|expected| expected == kind)
    }
}

impl<T: KernelObject> ObjectType for T {
    const EXPECTED: Option<ObjectKind> = Some(T::KIND);
}

/// Any kind of object.
pub struct AnyObject;

impl ObjectType for AnyObject {
    const EXPECTED: Option<ObjectKind> = None;
}
// ANCHOR_END: types

/// What a listing shows about an object: copies, which stay true only as
/// long as nothing changes the object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ObjectInfo {
    pub kind: ObjectKind,
    /// Physical address of the object's memory.
    pub address: u64,
    /// See [`KernelObject::detail`].
    pub detail: u64,
    /// The slots naming it.
    pub capabilities: usize,
}

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
    pub(super) unsafe fn acquire(header: u64) -> Self {
        // SAFETY: the caller's promise.
        let record = unsafe { reach::<Header>(header) };
        record.strong.set(record.strong.get() + 1);
        Self { header, object: PhantomData }
    }

    /// The object's header, alive as long as this pointer is borrowed.
    pub(super) fn header(&self) -> &Header {
        // SAFETY: this strong pointer keeps the object, and so its header,
        // alive.
        unsafe { reach(self.header) }
    }

    /// Physical address of the object's header.
    pub(super) fn header_address(&self) -> u64 {
        self.header
    }

    /// What kind of object this is.
    pub fn kind(&self) -> ObjectKind {
        self.header().kind
    }

    /// Physical address of the object's memory.
    pub fn address(&self) -> u64 {
        self.header().body
    }

    /// The number of strong pointers to the object, this one included.
    pub fn strong_count(&self) -> usize {
        self.header().strong.get()
    }

    /// The number of slots naming the object.
    pub fn weak_count(&self) -> usize {
        self.header().weak_count()
    }

    /// What a listing shows about the object.
    pub fn info(&self) -> ObjectInfo {
        let kind = self.kind();
        let ops = KindOps::find(kind).expect("every object's kind is in KINDS");
        let detail = (ops.detail)(&self.clone().into_any());
        ObjectInfo { kind, address: self.address(), detail, capabilities: self.weak_count() }
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

    /// The same pointer as a `U`, if the object is one; else the kind it is.
    pub fn downcast<U: ObjectType>(self) -> Result<ManagedArc<U>, ObjectKind> {
        let kind = self.kind();
        if !U::accepts(kind) {
            return Err(kind);
        }
        let header = self.header;
        core::mem::forget(self);
        Ok(ManagedArc { header, object: PhantomData })
    }

    /// Gives this strong pointer to the kernel for good: the object is
    /// never destroyed, so a revoke of its untyped is refused (it is in
    /// use). For what the kernel itself uses until it stops, such as its
    /// own page tables.
    pub fn leak(self) -> Pinned<T> {
        let header = self.header;
        core::mem::forget(self);
        Pinned { header, object: PhantomData }
    }
}

impl<T: KernelObject> ManagedArc<T> {
    /// The state the object's kind keeps in its header.
    pub(super) fn state(&self) -> &T::State {
        // SAFETY: a `ManagedArc<T>` points to an object of kind `T`.
        unsafe { self.header().state::<T>() }
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
        // SAFETY: this pointer was one of the object's strong pointers, and
        // is given up now. The object is on no list through `next` if this
        // was the last one: its untyped's list would hold another.
        unsafe { release(self.header) };
    }
}
// ANCHOR_END: managed_arc

/// A strong pointer given up to the kernel for good (see
/// [`ManagedArc::leak`]): the object lives as long as the kernel runs.
pub struct Pinned<T: ObjectType> {
    header: u64,
    object: PhantomData<*const T>,
}

impl<T: ObjectType> Clone for Pinned<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T: ObjectType> Copy for Pinned<T> {}

impl<T: ObjectType> Pinned<T> {
    /// Physical address of the object's memory.
    pub fn address(&self) -> u64 {
        // SAFETY: a pinned object is never destroyed.
        unsafe { reach::<Header>(self.header) }.body
    }
}

// ANCHOR: destroy
/// Objects waiting to be destroyed: a list linked through their headers'
/// `next`, which they no longer need for their untyped's list. Destroying
/// one may doom others (an untyped's children), which join the list: so a
/// whole tree of objects, however deep, is destroyed by one loop.
pub struct Doomed {
    first: Link,
}

impl Doomed {
    /// An empty list.
    pub(super) fn new() -> Self {
        Doomed { first: Link::NONE }
    }

    /// Gives up one strong pointer to the object whose header is at
    /// `header`; the object joins the list if that was the last.
    ///
    /// # Safety
    /// The caller held that strong pointer, and the object is on no list
    /// through `next` (an untyped's children leave its list first).
    pub unsafe fn release(&mut self, header: u64) {
        // SAFETY: the caller held a strong pointer: the object is alive.
        let record = unsafe { reach::<Header>(header) };
        let strong = record.strong.get() - 1;
        record.strong.set(strong);
        if strong == 0 {
            record.next.set(self.first);
            self.first = Link::to(header);
        }
    }

    /// Destroys every object on the list, and every object that destroying
    /// them dooms in turn.
    ///
    /// # Safety
    /// Every object on the list has no strong pointer left.
    pub(super) unsafe fn destroy_all(mut self) {
        while let Some(header) = self.first.get() {
            // SAFETY: the list links live headers, which `destroy` below
            // leaves in place (it only clears links and slots).
            let object = unsafe { reach::<Header>(header) };
            self.first = object.next.get();
            object.next.set(Link::NONE);
            // SAFETY: the object had no strong pointer left, and leaves the
            // list now: it is destroyed exactly once.
            unsafe { destroy(object, &mut self) };
        }
    }
}

/// Gives up one strong pointer to the object whose header is at `header`;
/// destroys the object if it was the last, and with it whatever only it
/// held.
///
/// # Safety
/// As for [`Doomed::release`].
#[inline]
unsafe fn release(header: u64) {
    // SAFETY: the caller held a strong pointer: the object is alive.
    let record = unsafe { reach::<Header>(header) };
    let strong = record.strong.get() - 1;
    record.strong.set(strong);
    if strong == 0 {
        // SAFETY: that was the last strong pointer.
        unsafe { destroy_unheld(header) };
    }
}

/// Destroys the object at `header`, which has just lost its last strong
/// pointer, and whatever only it held. Out of line and cold: every drop of
/// a strong pointer checks for it, few get here, and the paths that drop
/// pointers (the scheduler's loop among them) keep their registers for
/// the common case.
///
/// # Safety
/// The object has no strong pointer left, and is on no list through `next`.
#[cold]
#[inline(never)]
unsafe fn destroy_unheld(header: u64) {
    // SAFETY: the caller's promise: the object's header is still there.
    unsafe { reach::<Header>(header) }.next.set(Link::NONE);
    let doomed = Doomed { first: Link::to(header) };
    // SAFETY: the one object on the list has no strong pointer left.
    unsafe { doomed.destroy_all() };
}

/// Destroys an object nothing holds strongly any more: every slot naming it
/// is cleared, then its kind lets go of what it holds.
///
/// # Safety
/// The object has no strong pointer left, and is destroyed once.
unsafe fn destroy(object: &Header, doomed: &mut Doomed) {
    weak::clear_weak_list(object);
    let ops = KindOps::find(object.kind).expect("every object's kind is in KINDS");
    // SAFETY: the object is of this kind, and being destroyed, once.
    unsafe { (ops.destroy)(object, doomed) };
    #[cfg(test)]
    super::testing::record_destruction(super::physical_of(object));
}
// ANCHOR_END: destroy
