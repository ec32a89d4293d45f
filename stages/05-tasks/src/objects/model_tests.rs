//! Property tests of the object system against a model.
//!
//! Random sequences of retype, copy, move, delete, upgrade and revoke run
//! on real objects (in heap memory) and on a simple model written here: a
//! list of objects with their parent and liveness, and the root pool's
//! slots as object numbers. After every step the two must agree:
//!
//! - each slot names exactly the object the model says (so no slot names a
//!   destroyed object);
//! - each live object has one strong pointer (its parent's) and as many
//!   weak pointers as the model has slots naming it;
//! - every destroyed object was destroyed exactly once, and only those;
//! - after a revoke the untyped has all its memory free again.

use super::cpool::{self, CapError, LookupError};
use super::untyped::RevokeError;
use super::{AnyObject, CPool, Header, ManagedArc, ObjectKind, RetypeError, Untyped, physical_of};
use abi::CAddr;
use common::memory::Span;
use proptest::prelude::*;
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

fn take_destroyed() -> Vec<u64> {
    DESTROYED.with(|log| std::mem::take(&mut *log.borrow_mut()))
}

/// Heap memory standing in for a region of RAM (the object window is at
/// offset 0 in tests, so heap addresses are the "physical" ones).
pub(super) struct Arena {
    start: *mut u8,
    layout: Layout,
}

impl Arena {
    pub(super) fn new(size: usize) -> Self {
        let layout = Layout::from_size_align(size, 4096).unwrap();
        // SAFETY: a non-zero size.
        let start = unsafe { alloc(layout) };
        assert!(!start.is_null());
        // SAFETY: fresh memory of `size` bytes: fill it with junk.
        unsafe { start.write_bytes(0xAA, size) };
        Self { start, layout }
    }

    pub(super) fn untyped(&self) -> ManagedArc<Untyped> {
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

/// A root pool made from its own arena, and an untyped to experiment with.
pub(crate) struct System {
    pub root: ManagedArc<CPool>,
    pub untyped: ManagedArc<Untyped>,
    _kernel: ManagedArc<Untyped>,
    _arenas: (Arena, Arena),
}

pub(crate) fn system(untyped_size: usize) -> System {
    let kernel_arena = Arena::new(64 * 1024);
    let arena = Arena::new(untyped_size);
    let kernel = kernel_arena.untyped();
    let root = kernel.retype(ObjectKind::CPool).unwrap().downcast::<CPool>().ok().unwrap();
    let untyped = arena.untyped();
    root.slot(UNTYPED_SLOT).downgrade(&untyped).unwrap();
    System { root, untyped, _kernel: kernel, _arenas: (kernel_arena, arena) }
}

/// Where `system` puts the untyped.
const UNTYPED_SLOT: u8 = 1;
/// Slots the random operations use (a few, so that they collide).
const SLOTS: u8 = 10;

#[derive(Clone, Copy, Debug)]
enum Action {
    Retype {
        untyped: u8,
        kind: u8,
        to: u8,
    },
    Copy {
        from: u8,
        to: u8,
    },
    Move {
        from: u8,
        to: u8,
    },
    Delete {
        at: u8,
    },
    Upgrade {
        at: u8,
        as_pool: bool,
    },
    Revoke {
        at: u8,
    },
    /// Copy a root slot into slot `index` of the pool in root slot `pool`.
    CopyIntoPool {
        from: u8,
        pool: u8,
        index: u8,
    },
}

/// Slots of nested pools the random operations use.
const NESTED_SLOTS: u8 = 4;

fn action() -> impl Strategy<Value = Action> {
    let slot = 0..SLOTS;
    prop_oneof![
        3 => (slot.clone(), 0u8..4, slot.clone()).prop_map(|(untyped, kind, to)| Action::Retype { untyped, kind, to }),
        2 => (slot.clone(), slot.clone()).prop_map(|(from, to)| Action::Copy { from, to }),
        2 => (slot.clone(), slot.clone()).prop_map(|(from, to)| Action::Move { from, to }),
        1 => slot.clone().prop_map(|at| Action::Delete { at }),
        1 => (slot.clone(), any::<bool>()).prop_map(|(at, as_pool)| Action::Upgrade { at, as_pool }),
        1 => slot.clone().prop_map(|at| Action::Revoke { at }),
        2 => (slot.clone(), slot, 0..NESTED_SLOTS).prop_map(|(from, pool, index)| Action::CopyIntoPool { from, pool, index }),
    ]
}

const KINDS: [ObjectKind; 4] = [
    ObjectKind::CPool,
    ObjectKind::RawPage,
    ObjectKind::Untyped { size: 16 * 1024 },
    ObjectKind::Untyped { size: 8 * 1024 },
];

/// The model: objects by number, the root pool's slots, and the slots of
/// nested pools as (pool object, index) -> object.
#[derive(Default)]
struct Model {
    /// (header address, kind, parent object, alive)
    objects: Vec<(u64, ObjectKind, Option<usize>, bool)>,
    slots: [Option<usize>; SLOTS as usize],
    nested: std::collections::BTreeMap<(usize, u8), usize>,
}

impl Model {
    fn descendants(&self, object: usize) -> Vec<usize> {
        let mut found = Vec::new();
        for (index, &(_, _, parent, alive)) in self.objects.iter().enumerate() {
            if alive && parent == Some(object) {
                found.push(index);
                found.extend(self.descendants(index));
            }
        }
        found
    }
}

fn header(slot: u8, root: &ManagedArc<CPool>) -> Option<&Header> {
    root.slot(slot).header()
}

/// Checks the invariants listed at the top of this file.
fn check(system: &System, model: &Model) -> Result<(), TestCaseError> {
    for slot in 0..SLOTS {
        let real = header(slot, &system.root).map(physical_of);
        let expected = model.slots[slot as usize].map(|object| model.objects[object].0);
        prop_assert_eq!(real, expected, "slot {}", slot);
    }
    for (pool, &(address, kind, _, alive)) in model.objects.iter().enumerate() {
        if !alive || kind != ObjectKind::CPool {
            continue;
        }
        // SAFETY: a live pool's 256 slots are at its body.
        let slots = unsafe { super::weak::WeakPool::at(cpool::header_at(address).body(), abi::CPOOL_SLOTS) };
        for index in 0..NESTED_SLOTS {
            let real = slots.slot(usize::from(index)).unwrap().header().map(physical_of);
            let expected = model.nested.get(&(pool, index)).map(|&object| model.objects[object].0);
            prop_assert_eq!(real, expected, "slot {} of pool {}", index, pool);
        }
    }
    for (index, &(address, _, _, alive)) in model.objects.iter().enumerate() {
        if !alive {
            continue;
        }
        let record = cpool::header_at(address);
        prop_assert_eq!(record.strong_count(), 1, "object {} strong count", index);
        let naming = model.slots.iter().filter(|slot| **slot == Some(index)).count()
            + model.nested.values().filter(|&&object| object == index).count();
        prop_assert_eq!(record.weak_count(), naming, "object {} weak count", index);
    }
    Ok(())
}

fn at(slot: u8) -> CAddr {
    CAddr::root(slot)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn objects_and_slots_agree_with_the_model(actions in proptest::collection::vec(action(), 1..60)) {
        take_destroyed();
        let system = system(96 * 1024);
        let untyped_header = physical_of(system.untyped.header());
        prop_assert_eq!(system.untyped.free(), system.untyped.span().len());
        let mut model = Model::default();
        model.objects.push((untyped_header, system.untyped.kind(), None, true));
        model.slots[UNTYPED_SLOT as usize] = Some(0);

        for action in actions {
            match action {
                Action::Retype { untyped, kind, to } => {
                    let kind = KINDS[kind as usize];
                    let source = model.slots[untyped as usize];
                    let free_before = system.root.slot(untyped).upgrade::<Untyped>().ok().map(|u| u.free());
                    let result = cpool::retype(&system.root, at(untyped), kind, at(to));
                    match (source, model.slots[to as usize]) {
                        (None, _) => prop_assert_eq!(result, Err(CapError::Lookup(at(untyped), LookupError::Empty))),
                        (Some(object), _) if !matches!(model.objects[object].1, ObjectKind::Untyped { .. }) => {
                            prop_assert!(matches!(result, Err(CapError::Lookup(_, LookupError::WrongType { .. }))), "{:?}", result)
                        }
                        (Some(_), Some(_)) => prop_assert_eq!(result, Err(CapError::Occupied(at(to)))),
                        (Some(object), None) => match result {
                            Ok(()) => {
                                let address = physical_of(header(to, &system.root).unwrap());
                                model.objects.push((address, kind, Some(object), true));
                                model.slots[to as usize] = Some(model.objects.len() - 1);
                            }
                            Err(CapError::Retype(RetypeError::OutOfMemory { .. })) => {
                                let free_after = system.root.slot(untyped).upgrade::<Untyped>().unwrap().free();
                                prop_assert_eq!(free_before, Some(free_after), "a failed retype changed the untyped");
                            }
                            Err(other) => prop_assert!(false, "unexpected {:?}", other),
                        },
                    }
                }
                Action::Copy { from, to } => {
                    let result = cpool::copy(&system.root, at(from), at(to));
                    match (model.slots[from as usize], model.slots[to as usize]) {
                        (None, _) => prop_assert!(result.is_err()),
                        (Some(_), Some(_)) => prop_assert_eq!(result, Err(CapError::Occupied(at(to)))),
                        (Some(object), None) => {
                            prop_assert_eq!(result, Ok(()));
                            model.slots[to as usize] = Some(object);
                        }
                    }
                }
                Action::Move { from, to } => {
                    let result = cpool::move_cap(&system.root, at(from), at(to));
                    match (model.slots[from as usize], model.slots[to as usize]) {
                        (None, _) => prop_assert!(result.is_err()),
                        (Some(_), Some(_)) => prop_assert_eq!(result, Err(CapError::Occupied(at(to)))),
                        (Some(object), None) => {
                            prop_assert_eq!(result, Ok(()));
                            model.slots[from as usize] = None;
                            model.slots[to as usize] = Some(object);
                        }
                    }
                }
                Action::Delete { at: slot } => {
                    let result = cpool::delete(&system.root, at(slot));
                    prop_assert_eq!(result.is_ok(), model.slots[slot as usize].is_some());
                    model.slots[slot as usize] = None;
                }
                Action::Upgrade { at: slot, as_pool } => {
                    let expected = model.slots[slot as usize].map(|object| model.objects[object].1);
                    let real = if as_pool {
                        system.root.slot(slot).upgrade::<CPool>().map(ManagedArc::into_any)
                    } else {
                        system.root.slot(slot).upgrade::<AnyObject>()
                    };
                    match expected {
                        None => prop_assert!(real.is_err()),
                        Some(kind) if as_pool && kind != ObjectKind::CPool => prop_assert!(real.is_err()),
                        Some(kind) => prop_assert_eq!(real.map(|object| object.kind()).ok(), Some(kind)),
                    }
                }
                Action::Revoke { at: slot } => {
                    let result = cpool::revoke(&system.root, at(slot));
                    let target = model.slots[slot as usize];
                    match target {
                        Some(object) if matches!(model.objects[object].1, ObjectKind::Untyped { .. }) => {
                            prop_assert_eq!(result, Ok(()));
                            let doomed = model.descendants(object);
                            let mut expected: Vec<u64> = doomed.iter().map(|&d| model.objects[d].0).collect();
                            let mut destroyed = take_destroyed();
                            expected.sort_unstable();
                            destroyed.sort_unstable();
                            prop_assert_eq!(destroyed, expected, "destroyed exactly the descendants, once each");
                            for d in doomed {
                                model.objects[d].3 = false;
                                for slot in model.slots.iter_mut().filter(|slot| **slot == Some(d)) {
                                    *slot = None;
                                }
                                model.nested.retain(|&(pool, _), &mut object| pool != d && object != d);
                            }
                            let untyped = system.root.slot(slot).upgrade::<Untyped>().unwrap();
                            prop_assert_eq!(untyped.free(), untyped.span().len(), "revoke frees everything");
                            prop_assert_eq!(untyped.children().count(), 0);
                        }
                        Some(_) => prop_assert!(matches!(result, Err(CapError::Lookup(_, LookupError::WrongType { .. }))), "{:?}", result),
                        None => prop_assert!(result.is_err()),
                    }
                }
                Action::CopyIntoPool { from, pool, index } => {
                    let to = CAddr::new(&[pool, index]).unwrap();
                    let result = cpool::copy(&system.root, at(from), to);
                    let target = model.slots[pool as usize].filter(|&p| model.objects[p].1 == ObjectKind::CPool);
                    match (model.slots[from as usize], target) {
                        (None, _) | (_, None) => prop_assert!(result.is_err(), "{:?}", result),
                        (Some(object), Some(pool)) => match model.nested.get(&(pool, index)) {
                            Some(_) => prop_assert_eq!(result, Err(CapError::Occupied(to))),
                            None => {
                                prop_assert_eq!(result, Ok(()));
                                model.nested.insert((pool, index), object);
                            }
                        },
                    }
                }
            }
            prop_assert!(take_destroyed().is_empty(), "only revoke destroys objects");
            check(&system, &model)?;
        }
    }
}

#[test]
fn revoke_of_an_untyped_in_use_is_refused_and_changes_nothing() {
    let system = system(64 * 1024);
    cpool::retype(&system.root, at(1), ObjectKind::RawPage, at(2)).unwrap();
    let held = system.root.slot(2).upgrade::<AnyObject>().unwrap();
    let free = system.untyped.free();
    let result = cpool::revoke(&system.root, at(1));
    assert!(matches!(result, Err(CapError::Revoke(RevokeError::InUse { kind: ObjectKind::RawPage, .. }))));
    assert_eq!(system.untyped.free(), free);
    assert!(!system.root.slot(2).is_empty());
    drop(held);
    take_destroyed();
    cpool::revoke(&system.root, at(1)).unwrap();
    assert!(system.root.slot(2).is_empty());
    assert_eq!(take_destroyed().len(), 1);
}

#[test]
fn nested_addresses_reach_nested_pools_and_report_each_error() {
    let system = system(64 * 1024);
    let root = &system.root;
    cpool::retype(root, at(1), ObjectKind::CPool, at(2)).unwrap();
    cpool::retype(root, at(1), ObjectKind::RawPage, CAddr::new(&[2, 7]).unwrap()).unwrap();
    let page = cpool::lookup_object::<AnyObject>(root, CAddr::new(&[2, 7]).unwrap()).unwrap();
    assert_eq!(page.kind(), ObjectKind::RawPage);
    drop(page);

    let error = |path: &[u8]| cpool::lookup_object::<CPool>(root, CAddr::new(path).unwrap()).err();
    assert_eq!(error(&[3, 0]), Some(LookupError::EmptySlot { level: 1 }));
    assert_eq!(error(&[2, 7, 0]), Some(LookupError::NotACPool { level: 2, found: ObjectKind::RawPage }));
    assert_eq!(error(&[2, 7]), Some(LookupError::WrongType { found: ObjectKind::RawPage }));
    assert_eq!(error(&[2, 8]), Some(LookupError::Empty));
    assert_eq!(error(&[1, 0]), Some(LookupError::NotACPool { level: 1, found: system.untyped.kind() }));
}

#[test]
fn a_destroyed_pool_releases_its_slots_from_other_weak_lists() {
    let system = system(64 * 1024);
    let root = &system.root;
    cpool::retype(root, at(1), ObjectKind::Untyped { size: 16 * 1024 }, at(2)).unwrap();
    cpool::retype(root, at(2), ObjectKind::CPool, at(3)).unwrap();
    // The inner pool holds a capability to the big untyped, which survives.
    cpool::copy(root, at(1), CAddr::new(&[3, 0]).unwrap()).unwrap();
    assert_eq!(system.untyped.header().weak_count(), 2);
    take_destroyed();
    cpool::revoke(root, at(2)).unwrap();
    assert_eq!(take_destroyed().len(), 1, "the inner pool");
    assert!(root.slot(3).is_empty());
    assert_eq!(system.untyped.header().weak_count(), 1, "only root slot 1 is left");
}

#[test]
fn weak_pool_downgrades_into_a_given_or_the_first_free_slot() {
    use super::weak::SlotError;
    let system = system(64 * 1024);
    let pool = system.root.pool();
    let page = system.untyped.retype(ObjectKind::RawPage).unwrap();
    assert_eq!(pool.downgrade(&page, None), Ok(0), "slot 0 is the first free one");
    assert_eq!(pool.downgrade(&page, None), Ok(2), "slot 1 holds the untyped");
    assert_eq!(pool.downgrade(&page, Some(200)), Ok(200));
    assert_eq!(pool.downgrade(&page, Some(200)), Err(SlotError::Occupied));
    assert_eq!(pool.downgrade(&page, Some(256)), Err(SlotError::NoSuchSlot(256)));
    while pool.downgrade(&page, None).is_ok() {}
    assert_eq!(pool.downgrade(&page, None), Err(SlotError::PoolFull));
    assert_eq!(page.header().weak_count(), 255, "every slot but the untyped's");

    assert_eq!(pool.upgrade::<CPool>(0).err(), Some(SlotError::WrongType(ObjectKind::RawPage)));
    assert!(pool.upgrade::<AnyObject>(0).unwrap().same_object(&page));
    drop(page);
    take_destroyed();
    system.untyped.revoke().unwrap();
    assert_eq!(take_destroyed().len(), 1);
    assert_eq!(pool.upgrade::<AnyObject>(0).err(), Some(SlotError::Empty), "gone, so upgrade fails");
    assert!(pool.slots().all(|(index, slot)| slot.is_empty() == (index != usize::from(UNTYPED_SLOT))));
}
