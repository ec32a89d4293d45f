//! What the object tests share: heap memory standing in for RAM, a small
//! system (a root pool and an untyped to experiment with), and a log of
//! the objects destroyed. Also the memory of the fuzzers' host twin
//! (`fuzz_twin`, with the feature `host-twin`), which needs only some of it.
#![cfg_attr(not(test), allow(dead_code))]

use super::untyped::root_region_size;
use super::{CPool, ManagedArc, Untyped};
use common::memory::Span;
use std::alloc::{Layout, alloc, dealloc};
use std::cell::RefCell;

thread_local! {
    /// Headers of the objects destroyed on this thread, in order.
    static DESTROYED: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
}

/// Called by `destroy` in test builds.
pub(super) fn record_destruction(header: u64) {
    DESTROYED.with(|log| log.borrow_mut().push(header));
}

/// The headers of the objects destroyed on this thread since the last call.
pub(super) fn take_destroyed() -> Vec<u64> {
    DESTROYED.with(|log| std::mem::take(&mut *log.borrow_mut()))
}

/// The byte that fills fresh arenas: memory that was never zeroed.
pub(super) const JUNK: u8 = 0xAA;

/// Heap memory standing in for a region of RAM (the object window is at
/// offset 0 in tests, so heap addresses are the "physical" ones).
pub(crate) struct Arena {
    start: *mut u8,
    layout: Layout,
}

impl Arena {
    /// `size` bytes, page-aligned, full of junk.
    pub(super) fn new(size: usize) -> Self {
        let layout = Layout::from_size_align(size, 4096).unwrap();
        // SAFETY: a non-zero size.
        let start = unsafe { alloc(layout) };
        assert!(!start.is_null());
        // SAFETY: fresh memory of `size` bytes.
        unsafe { start.write_bytes(JUNK, size) };
        Self { start, layout }
    }

    /// Just enough for a root untyped of `pages` pages.
    pub(crate) fn for_pages(pages: u64) -> Self {
        Self::new(root_region_size(pages) as usize)
    }

    /// A root untyped made of the whole arena.
    pub(crate) fn untyped(&self) -> ManagedArc<Untyped> {
        let start = self.start as u64;
        // SAFETY: the arena is this untyped's alone.
        unsafe { ManagedArc::new_root(Span::new(start, start + self.layout.size() as u64)) }.unwrap()
    }
}

impl Drop for Arena {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout.
        unsafe { dealloc(self.start, self.layout) }
    }
}

/// A root pool made from its own arena, and an untyped to experiment with
/// in root slot [`UNTYPED_SLOT`]. (Fields drop in order: the objects
/// before the memory they live in.)
pub(crate) struct System {
    pub root: ManagedArc<CPool>,
    pub untyped: ManagedArc<Untyped>,
    _kernel: ManagedArc<Untyped>,
    _arenas: (Arena, Arena),
}

impl System {
    /// The root untypeds every object of the system comes from (for the
    /// audit).
    pub(crate) fn roots(&self) -> [&ManagedArc<Untyped>; 2] {
        [&self._kernel, &self.untyped]
    }
}

/// Where `system` puts the untyped.
pub(super) const UNTYPED_SLOT: u8 = 1;

/// A system whose untyped has `pages` pages.
pub(crate) fn system(pages: u64) -> System {
    let kernel_arena = Arena::for_pages(4);
    let arena = Arena::for_pages(pages);
    let kernel = kernel_arena.untyped();
    let root = kernel.retype::<CPool>().unwrap();
    let untyped = arena.untyped();
    root.slot(UNTYPED_SLOT).downgrade(&untyped).unwrap();
    System { root, untyped, _kernel: kernel, _arenas: (kernel_arena, arena) }
}

/// The `len` bytes at physical address `address`.
///
/// # Safety
/// They must be memory of an arena that outlives the slice, and nothing
/// else may use them meanwhile.
pub(super) unsafe fn bytes<'a>(address: u64, len: u64) -> &'a mut [u8] {
    // SAFETY: the caller's promise (the window is at offset 0 in tests).
    unsafe { std::slice::from_raw_parts_mut(address as *mut u8, len as usize) }
}

/// The walk's error inside a lookup's `CapError`, for tests that compare
/// it with what a model of the pools expects.
pub fn lookup_error(error: super::cpool::CapError) -> super::cpool::LookupError {
    match error {
        super::cpool::CapError::Lookup(_, error) => error,
        other => panic!("a lookup failed with something else: {other}"),
    }
}
