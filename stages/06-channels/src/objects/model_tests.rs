//! Property tests of the object system against a model.
//!
//! Random sequences of retype, copy, move, delete, upgrade, revoke, and
//! holding and letting go of strong pointers run on real objects (in heap
//! memory) and on a simple model written here: a list of objects with
//! their parent and liveness, the slots (of the root pool, and of pools
//! named from it) as a map to object numbers, and the strong pointers
//! held. Addresses are one level (a root slot) or two (a slot of the pool
//! in a root slot). Every operation must give exactly the result the model
//! predicts, error included, and after every step the two must agree:
//!
//! - each slot names exactly the object the model says (so no slot names a
//!   destroyed object);
//! - each live object has one strong pointer (its parent's) plus those the
//!   test holds, and a weak list that is sound both ways and as long as
//!   the model's count of slots naming it;
//! - every destroyed object was destroyed exactly once, and only by a
//!   revoke of one of its ancestors, which nothing held;
//! - after a revoke the untyped has all its memory free again;
//! - the mappings are the model's: page tables (PTs) and pages are mapped
//!   into a fixed address space (a PML4, PDPT and PD made apart, which
//!   nothing revokes) at a few addresses, and every address translates
//!   to exactly the page the model maps there, so a revoke that destroys
//!   a mapped page or table must leave nothing reachable through it.

use super::cpool::{self, CapError, LookupError};
use super::header::Header;
use super::testing::Arena;
use super::testing::{System, UNTYPED_SLOT, lookup_error, system, take_destroyed};
use super::untyped::RevokeError;
use super::weak::{WeakPool, check_weak_list};
use super::{
    AnyObject, CPool, KindOps, Link, ManagedArc, ObjectKind, PAGE, RetypeError, Untyped, mapping, reach,
};
use crate::paging::Rights;
use abi::{CAddr, CPOOL_SLOTS};
use proptest::prelude::*;
use std::collections::BTreeMap;

/// Root slots the random operations use (a few, so that they collide).
const SLOTS: u8 = 4;
/// Slots of nested pools the random operations use.
const NESTED_SLOTS: u8 = 4;
/// Pages of the untyped the operations retype from.
const PAGES: u64 = 48;

/// Where the fixed address space's PD covers: PD entries 0 and 1 (the
/// PTs), and in each PT entries 0 to 3 (the pages).
const SPACE_BASE: u64 = 0x40_0000_0000;
const PD_ENTRIES: usize = 2;
const PT_ENTRIES: usize = 4;

/// The user address of entry `pt_index` of the PT in PD entry `pd_index`.
fn mapped_address(pd_index: usize, pt_index: usize) -> u64 {
    SPACE_BASE + pd_index as u64 * (2 << 20) + pt_index as u64 * PAGE
}

/// An address of one or two levels.
#[derive(Clone, Copy, Debug)]
enum Addr {
    Root(u8),
    Nested(u8, u8),
}

impl Addr {
    fn caddr(self) -> CAddr {
        match self {
            Addr::Root(slot) => CAddr::root(slot),
            Addr::Nested(pool, slot) => CAddr::new(&[pool, slot]).unwrap(),
        }
    }
}

fn addr() -> impl Strategy<Value = Addr> {
    prop_oneof![
        3 => (0..SLOTS).prop_map(Addr::Root),
        2 => (0..SLOTS, 0..NESTED_SLOTS).prop_map(|(pool, slot)| Addr::Nested(pool, slot)),
    ]
}

/// The address of the untyped to retype from: mostly root slots, where
/// untypeds are, so that untypeds are often made from retyped ones.
fn untyped_addr() -> impl Strategy<Value = Addr> {
    prop_oneof![2 => Just(Addr::Root(UNTYPED_SLOT)), 2 => (0..SLOTS).prop_map(Addr::Root), 1 => addr()]
}

/// The address of the untyped to revoke: often the one everything is made
/// from, so that held objects deep below it are often in the way.
fn revoke_addr() -> impl Strategy<Value = Addr> {
    prop_oneof![Just(Addr::Root(UNTYPED_SLOT)), addr()]
}

/// What retype is asked to make: kinds and sizes, some refused.
const RETYPES: [(ObjectKind, u64); 8] = [
    (ObjectKind::CPool, 0),
    (ObjectKind::RawPage, 0),
    (ObjectKind::Pt, 0),
    (ObjectKind::Untyped, 4 * PAGE),
    (ObjectKind::Untyped, 2 * PAGE),
    (ObjectKind::Untyped, PAGE),
    (ObjectKind::Untyped, 5000),
    (ObjectKind::DevicePage, 0),
];

#[derive(Clone, Copy, Debug)]
enum Action {
    Retype {
        untyped: Addr,
        what: usize,
        to: Addr,
    },
    Copy {
        from: Addr,
        to: Addr,
    },
    Move {
        from: Addr,
        to: Addr,
    },
    Delete {
        at: Addr,
    },
    Upgrade {
        at: Addr,
        as_pool: bool,
    },
    Revoke {
        at: Addr,
    },
    /// Upgrade the slot and keep the strong pointer.
    Hold {
        at: Addr,
    },
    /// Keep a strong pointer to a live object, whether a slot names it or
    /// not (by its number among the live objects, modulo how many).
    HoldObject {
        index: usize,
    },
    /// Revoke, holding a strong pointer to a live object (by its number
    /// among the live objects, modulo how many) meanwhile.
    RevokeWhileHolding {
        at: Addr,
        index: usize,
    },
    /// Drop one of the strong pointers held (by index, modulo how many).
    LetGo {
        index: usize,
    },
    /// Map the table at `table` as the PT of PD entry `pd_index`.
    MapTable {
        table: Addr,
        pd_index: usize,
    },
    /// Map the page at `page` at entry `pt_index` of the PT of PD entry
    /// `pd_index`.
    MapPage {
        page: Addr,
        pd_index: usize,
        pt_index: usize,
    },
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        8 => (untyped_addr(), 0..RETYPES.len(), addr()).prop_map(|(untyped, what, to)| Action::Retype { untyped, what, to }),
        2 => (addr(), addr()).prop_map(|(from, to)| Action::Copy { from, to }),
        2 => (addr(), addr()).prop_map(|(from, to)| Action::Move { from, to }),
        2 => addr().prop_map(|at| Action::Delete { at }),
        1 => (addr(), any::<bool>()).prop_map(|(at, as_pool)| Action::Upgrade { at, as_pool }),
        1 => revoke_addr().prop_map(|at| Action::Revoke { at }),
        1 => addr().prop_map(|at| Action::Hold { at }),
        1 => any::<usize>().prop_map(|index| Action::HoldObject { index }),
        2 => any::<usize>().prop_map(|index| Action::LetGo { index }),
        1 => (revoke_addr(), any::<usize>()).prop_map(|(at, index)| Action::RevokeWhileHolding { at, index }),
        2 => (addr(), 0..PD_ENTRIES).prop_map(|(table, pd_index)| Action::MapTable { table, pd_index }),
        3 => (addr(), 0..PD_ENTRIES, 0..PT_ENTRIES)
            .prop_map(|(page, pd_index, pt_index)| Action::MapPage { page, pd_index, pt_index }),
    ]
}

/// A slot, as the model names it: a root slot, or a slot of a pool object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Place {
    Root(u8),
    Nested(usize, u8),
}

struct Object {
    header: u64,
    kind: ObjectKind,
    parent: Option<usize>,
    alive: bool,
}

/// The model: objects by number, which slot names which, and which
/// objects the test holds strong pointers to (with the pointers).
#[derive(Default)]
struct Model {
    objects: Vec<Object>,
    slots: BTreeMap<Place, usize>,
    held: Vec<(usize, ManagedArc<AnyObject>)>,
    /// The PT in each PD entry of the fixed address space.
    tables: BTreeMap<usize, usize>,
    /// The page at (PD entry, PT entry).
    pages: BTreeMap<(usize, usize), usize>,
}

impl Model {
    /// Every live object made, directly or not, from `object`.
    fn descendants(&self, object: usize) -> Vec<usize> {
        let mut found = vec![object];
        let mut index = 0;
        while index < found.len() {
            let parent = found[index];
            found.extend(
                (0..self.objects.len())
                    .filter(|&o| self.objects[o].alive && self.objects[o].parent == Some(parent)),
            );
            index += 1;
        }
        found.remove(0);
        found
    }

    /// The slot `address` names, or the lookup error the kernel must give.
    fn resolve(&self, address: Addr) -> Result<Place, LookupError> {
        match address {
            Addr::Root(slot) => Ok(Place::Root(slot)),
            Addr::Nested(pool, slot) => match self.slots.get(&Place::Root(pool)) {
                None => Err(LookupError::Empty { level: 1 }),
                Some(&object) if self.objects[object].kind != ObjectKind::CPool => {
                    Err(LookupError::WrongKind {
                        level: 1,
                        expected: ObjectKind::CPool,
                        found: self.objects[object].kind,
                    })
                }
                Some(&object) => Ok(Place::Nested(object, slot)),
            },
        }
    }

    /// The object `address` names, if it is of `expected` kind (any kind
    /// for `None`), or the lookup error the kernel must give.
    fn object_at(&self, address: Addr, expected: Option<ObjectKind>) -> Result<usize, LookupError> {
        let level = address.caddr().depth();
        let object = *self.slots.get(&self.resolve(address)?).ok_or(LookupError::Empty { level })?;
        match expected {
            Some(expected) if expected != self.objects[object].kind => {
                Err(LookupError::WrongKind { level, expected, found: self.objects[object].kind })
            }
            _ => Ok(object),
        }
    }

    /// An empty slot `address` names, or the error the kernel must give.
    fn empty_place(&self, address: Addr) -> Result<Place, CapError> {
        let place = self.resolve(address).map_err(|error| CapError::Lookup(address.caddr(), error))?;
        match self.slots.contains_key(&place) {
            true => Err(CapError::Occupied(address.caddr())),
            false => Ok(place),
        }
    }

    fn held_count(&self, object: usize) -> usize {
        self.held.iter().filter(|(held, _)| *held == object).count()
    }

    /// Whether the model has `object` mapped (as a PT or as a page).
    fn is_mapped(&self, object: usize) -> bool {
        self.tables.values().chain(self.pages.values()).any(|&mapped| mapped == object)
    }
}

/// The fixed address space the mappings go into: a PML4 with a PDPT and
/// a PD, from memory of its own (an untyped no slot names, so no revoke
/// reaches them). Fields drop in order: the objects before their memory.
struct Space {
    pml4: ManagedArc<AnyObject>,
    untyped: ManagedArc<Untyped>,
    _arena: Arena,
}

fn space() -> Space {
    let arena = Arena::for_pages(8);
    let untyped = arena.untyped();
    let pml4 = untyped.retype::<super::Pml4>().unwrap().into_any();
    let pdpt = untyped.retype::<super::Pdpt>().unwrap().into_any();
    let pd = untyped.retype::<super::Pd>().unwrap().into_any();
    mapping::map_table(&pml4, &pdpt, SPACE_BASE).unwrap();
    mapping::map_table(&pml4, &pd, SPACE_BASE).unwrap();
    // The tables stay alive with their untyped (its children hold them).
    Space { pml4, untyped, _arena: arena }
}

/// The header of a live object.
fn header_of<'a>(object: &Object) -> &'a Header {
    assert!(object.alive);
    // SAFETY: the model says the object is alive, and the checks compare
    // the model with the real objects after every step.
    unsafe { reach(object.header) }
}

/// Checks the invariants listed at the top of this file.
fn check(system: &System, space: &Space, model: &Model) -> Result<(), TestCaseError> {
    // The kernel's own audit agrees, after every step.
    let mut scratch = vec![0; 4096];
    let run_queue = super::task::TaskQueue::new();
    let [kernel, untyped] = system.roots();
    if let Err(error) = super::audit::audit(&[kernel, untyped, &space.untyped], &run_queue, &mut scratch) {
        return Err(TestCaseError::fail(format!("the audit failed: {error}")));
    }
    // Every address of the space translates to the page the model maps
    // there, or to nothing.
    for pd_index in 0..PD_ENTRIES {
        for pt_index in 0..PT_ENTRIES {
            let address = mapped_address(pd_index, pt_index);
            let real = mapping::translate(&space.pml4, address).map(|(frame, _)| frame);
            let page = model.pages.get(&(pd_index, pt_index));
            let expected = page.map(|&page| header_of(&model.objects[page]).body());
            prop_assert_eq!(real, expected, "what {:#x} translates to", address);
        }
    }
    let expected = |place| model.slots.get(&place).map(|&object| model.objects[object].header);
    for slot in 0..SLOTS {
        let real = system.root.slot(slot).target();
        prop_assert_eq!(real, expected(Place::Root(slot)), "root slot {}", slot);
    }
    for (index, object) in model.objects.iter().enumerate() {
        if !object.alive {
            continue;
        }
        let header = header_of(object);
        prop_assert_eq!(header.kind(), object.kind);
        prop_assert_eq!(header.strong_count(), 1 + model.held_count(index), "object {} strong count", index);
        let naming = model.slots.values().filter(|&&named| named == index).count();
        let weak = check_weak_list(header, 2 * CPOOL_SLOTS).map_err(TestCaseError::fail)?;
        prop_assert_eq!(weak, naming, "object {} weak count", index);
        if matches!(object.kind, ObjectKind::Pt | ObjectKind::RawPage) {
            let mapped = mapping::mapped_at(header) != Link::NONE;
            prop_assert_eq!(mapped, model.is_mapped(index), "object {} mapped", index);
        }
        if object.kind == ObjectKind::CPool {
            // SAFETY: a live pool's 256 slots are at its body.
            let slots = unsafe { WeakPool::at(header.body(), CPOOL_SLOTS) };
            for slot in 0..NESTED_SLOTS {
                let real = slots.slot(usize::from(slot)).unwrap().target();
                prop_assert_eq!(
                    real,
                    expected(Place::Nested(index, slot)),
                    "slot {} of pool {}",
                    slot,
                    index
                );
            }
        }
    }
    Ok(())
}

/// What a retype of `kind` and `size` costs at most in free bytes (see
/// `Watermark::free`), alignment padding aside.
fn cost(kind: ObjectKind, size: u64) -> u64 {
    let layout = KindOps::find(kind).unwrap().layout(size).unwrap();
    layout.size.max((1 + layout.child_headers) * PAGE)
}

/// Holds a strong pointer to the live object number `index` (modulo how
/// many are alive).
fn hold_object(model: &mut Model, index: usize) {
    let live: Vec<usize> = (0..model.objects.len()).filter(|&o| model.objects[o].alive).collect();
    let object = live[index % live.len()];
    // SAFETY: the model says the object is alive.
    let pointer = unsafe { ManagedArc::<AnyObject>::acquire(model.objects[object].header) };
    model.held.push((object, pointer));
}

/// Runs `action` on the real system and the model; fails if the result
/// is not the one the model predicts.
fn step(system: &System, space: &Space, model: &mut Model, action: Action) -> Result<(), TestCaseError> {
    let root = &system.root;
    let lookup = |address: Addr| move |error| CapError::Lookup(address.caddr(), error);
    match action {
        Action::Retype { untyped, what, to } => {
            let (kind, size) = RETYPES[what];
            let source = model.object_at(untyped, Some(ObjectKind::Untyped)).map_err(lookup(untyped));
            let expected = source.and_then(|source| Ok((source, model.empty_place(to)?)));
            let free_before = cpool::lookup_object::<Untyped>(root, untyped.caddr()).map(|u| u.free());
            let result = cpool::retype(root, untyped.caddr(), kind, size, to.caddr());
            match expected {
                Err(error) => prop_assert_eq!(result, Err(error)),
                Ok(_) if kind == ObjectKind::DevicePage => {
                    prop_assert_eq!(result, Err(CapError::Retype(RetypeError::NotRetypable(kind))))
                }
                Ok(_) if size % PAGE != 0 => {
                    prop_assert_eq!(result, Err(CapError::Retype(RetypeError::InvalidSize { kind, size })))
                }
                Ok((source, place)) => {
                    let free_before = free_before.unwrap();
                    match result {
                        Ok(()) => {
                            let made = cpool::lookup_object::<AnyObject>(root, to.caddr()).unwrap();
                            prop_assert_eq!(made.kind(), kind);
                            let header = made.header_address();
                            drop(made);
                            model.objects.push(Object { header, kind, parent: Some(source), alive: true });
                            model.slots.insert(place, model.objects.len() - 1);
                        }
                        Err(CapError::Retype(RetypeError::OutOfMemory { needed, free })) => {
                            prop_assert_eq!(free, free_before);
                            prop_assert!(needed > free);
                            prop_assert!(free_before < cost(kind, size) + PAGE, "refused with room left");
                            let free_after =
                                cpool::lookup_object::<Untyped>(root, untyped.caddr()).unwrap().free();
                            prop_assert_eq!(free_after, free_before, "a refused retype changed the untyped");
                        }
                        Err(other) => prop_assert!(false, "unexpected {:?}", other),
                    }
                }
            }
        }
        Action::Copy { from, to } => {
            let result = cpool::copy(root, from.caddr(), to.caddr());
            let object = model.object_at(from, None).map_err(lookup(from));
            match object.and_then(|object| Ok((object, model.empty_place(to)?))) {
                Err(error) => prop_assert_eq!(result, Err(error)),
                Ok((object, place)) => {
                    prop_assert_eq!(result, Ok(()));
                    model.slots.insert(place, object);
                }
            }
        }
        Action::Move { from, to } => {
            let result = cpool::move_cap(root, from.caddr(), to.caddr());
            let source =
                model.resolve(from).map_err(lookup(from)).and_then(|place| match model.slots.get(&place) {
                    Some(_) => Ok(place),
                    None => Err(CapError::Lookup(
                        from.caddr(),
                        LookupError::Empty { level: from.caddr().depth() },
                    )),
                });
            match source.and_then(|source| Ok((source, model.empty_place(to)?))) {
                Err(error) => prop_assert_eq!(result, Err(error)),
                Ok((source, place)) => {
                    prop_assert_eq!(result, Ok(()));
                    let object = model.slots.remove(&source).unwrap();
                    model.slots.insert(place, object);
                }
            }
        }
        Action::Delete { at } => {
            let result = cpool::delete(root, at.caddr());
            match model.resolve(at).map_err(lookup(at)) {
                Err(error) => prop_assert_eq!(result, Err(error)),
                Ok(place) => match model.slots.remove(&place) {
                    Some(_) => prop_assert_eq!(result, Ok(())),
                    None => {
                        let empty = LookupError::Empty { level: at.caddr().depth() };
                        prop_assert_eq!(result, Err(CapError::Lookup(at.caddr(), empty)))
                    }
                },
            }
        }
        Action::Upgrade { at, as_pool } => {
            let expected = model.object_at(at, as_pool.then_some(ObjectKind::CPool));
            let real = match as_pool {
                true => cpool::lookup_object::<CPool>(root, at.caddr()).map(ManagedArc::into_any),
                false => cpool::lookup_object::<AnyObject>(root, at.caddr()),
            };
            let real = real.map(|object| object.header_address()).map_err(lookup_error);
            prop_assert_eq!(real, expected.map(|object| model.objects[object].header));
        }
        Action::Hold { at } => {
            let expected = model.object_at(at, None);
            let real = cpool::lookup_object::<AnyObject>(root, at.caddr()).map_err(lookup_error);
            match (expected, real) {
                (Ok(object), Ok(pointer)) => {
                    prop_assert_eq!(pointer.header_address(), model.objects[object].header);
                    model.held.push((object, pointer));
                }
                (expected, real) => prop_assert_eq!(real.err(), expected.err()),
            }
        }
        Action::HoldObject { index } => hold_object(model, index),
        Action::RevokeWhileHolding { at, index } => {
            hold_object(model, index);
            step(system, space, model, Action::Revoke { at })?;
            // The held object survived (revoke refused) or was no
            // descendant: let go of it, which destroys nothing.
            model.held.pop();
        }
        Action::MapTable { table, pd_index } => {
            let expected = model.object_at(table, None).ok().filter(|&object| {
                model.objects[object].kind == ObjectKind::Pt
                    && !model.is_mapped(object)
                    && !model.tables.contains_key(&pd_index)
            });
            let result = cpool::lookup_object::<AnyObject>(root, table.caddr())
                .map(|table| mapping::map_table(&space.pml4, &table, mapped_address(pd_index, 0)));
            prop_assert_eq!(matches!(result, Ok(Ok(()))), expected.is_some(), "map table: {:?}", result);
            if let Some(object) = expected {
                model.tables.insert(pd_index, object);
            }
        }
        Action::MapPage { page, pd_index, pt_index } => {
            let expected = model.object_at(page, None).ok().filter(|&object| {
                model.objects[object].kind == ObjectKind::RawPage
                    && !model.is_mapped(object)
                    && model.tables.contains_key(&pd_index)
                    && !model.pages.contains_key(&(pd_index, pt_index))
            });
            let address = mapped_address(pd_index, pt_index);
            let result = cpool::lookup_object::<AnyObject>(root, page.caddr())
                .map(|page| mapping::map_page(&space.pml4, &page, address, Rights::WRITE));
            prop_assert_eq!(matches!(result, Ok(Ok(()))), expected.is_some(), "map page: {:?}", result);
            if let Some(object) = expected {
                model.pages.insert((pd_index, pt_index), object);
            }
        }
        Action::LetGo { index } => {
            if !model.held.is_empty() {
                let index = index % model.held.len();
                model.held.remove(index);
            }
        }
        Action::Revoke { at } => {
            // Taken first: the address may go through a pool the revoke
            // destroys (and holding the untyped itself is no obstacle).
            let untyped = cpool::lookup_object::<Untyped>(root, at.caddr());
            let result = cpool::revoke(root, at.caddr());
            let target = match model.object_at(at, Some(ObjectKind::Untyped)) {
                Ok(target) => target,
                Err(error) => {
                    prop_assert_eq!(result, Err(lookup(at)(error)));
                    return Ok(());
                }
            };
            let doomed = model.descendants(target);
            let held: Vec<&Object> =
                doomed.iter().filter(|&&d| model.held_count(d) > 0).map(|&d| &model.objects[d]).collect();
            if !held.is_empty() {
                let Err(CapError::Revoke(RevokeError::InUse { kind, address })) = result else {
                    return Err(TestCaseError::fail(format!("revoke with held descendants: {result:?}")));
                };
                let named =
                    held.iter().any(|object| object.kind == kind && header_of(object).body() == address);
                prop_assert!(named, "the object in use is not one that is held");
                return Ok(());
            }
            prop_assert_eq!(result, Ok(()));
            let mut expected: Vec<u64> = doomed.iter().map(|&d| model.objects[d].header).collect();
            let mut destroyed = take_destroyed();
            expected.sort_unstable();
            destroyed.sort_unstable();
            prop_assert_eq!(destroyed, expected, "destroyed exactly the descendants, once each");
            for &d in &doomed {
                model.objects[d].alive = false;
            }
            let objects = &model.objects;
            model.slots.retain(|place, object| {
                let in_dead_pool = matches!(*place, Place::Nested(pool, _) if !objects[pool].alive);
                objects[*object].alive && !in_dead_pool
            });
            // A destroyed page is unmapped; a destroyed PT takes its
            // pages' mappings with it (the pages stay, unmapped).
            model.tables.retain(|_, table| objects[*table].alive);
            let tables = &model.tables;
            model.pages.retain(|&(pd_index, _), page| objects[*page].alive && tables.contains_key(&pd_index));
            let untyped = untyped.unwrap();
            prop_assert_eq!(untyped.free(), untyped.size(), "revoke frees everything");
            prop_assert_eq!(untyped.children().count(), 0);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    #[test]
    fn objects_and_slots_agree_with_the_model(actions in proptest::collection::vec(action(), 1..100)) {
        take_destroyed();
        let system = system(PAGES);
        let space = space();
        prop_assert_eq!(system.untyped.free(), PAGES * PAGE);
        let mut model = Model::default();
        let header = system.untyped.header_address();
        model.objects.push(Object { header, kind: ObjectKind::Untyped, parent: None, alive: true });
        model.slots.insert(Place::Root(UNTYPED_SLOT), 0);

        for action in actions {
            step(&system, &space, &mut model, action)?;
            prop_assert!(take_destroyed().is_empty(), "only revoke destroys objects");
            check(&system, &space, &model)?;
        }
        // The held pointers go before the system's memory does, and the
        // space before the pages and tables mapped in it.
        drop(model);
        drop(space);
    }
}
