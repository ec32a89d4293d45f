//! Tests of the object system's guarantees, one at a time (the model tests
//! in `model_tests.rs` check them all together on random sequences).

use super::cpool::{self, CapError, LookupError};
use super::testing::{Arena, JUNK, System, UNTYPED_SLOT, bytes, lookup_error, system, take_destroyed};
use super::untyped::RevokeError;
use super::weak::{SlotError, check_weak_list};
use super::{
    AnyObject, CPool, DevicePage, KINDS, KernelObject, KindOps, ManagedArc, ObjectKind, PAGE, Pd, Pdpt, Pml4,
    Pt, RawPage, RetypeError, Untyped,
};
use abi::CAddr;

fn at(slot: u8) -> CAddr {
    CAddr::root(slot)
}

// ---- Defect 1: no stack per level of nesting -------------------------------

/// Levels of the deep chains below: far more than a small stack has room
/// for frames, were destruction or the in-use search recursive.
const DEEP: u64 = 3000;

/// Runs `test` on a thread with a 64 KiB stack.
fn on_a_small_stack(test: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new().stack_size(64 * 1024).spawn(test).unwrap().join().unwrap();
}

/// A chain of `DEEP` untypeds in `arena`: the root one, then each made from
/// the one before, a page smaller (it takes a header slot more than its
/// pages). Only the root and the last are held by the caller.
fn chain(arena: &Arena) -> (ManagedArc<Untyped>, ManagedArc<Untyped>) {
    let top = arena.untyped();
    assert_eq!(top.size(), DEEP * PAGE);
    let mut last = top.clone();
    for level in 1..DEEP {
        last = last.retype_untyped((DEEP - level) * PAGE).unwrap();
    }
    assert_eq!(last.size(), PAGE);
    (top, last)
}

#[test]
fn revoke_of_a_chain_thousands_deep_runs_on_a_small_stack() {
    on_a_small_stack(|| {
        let arena = Arena::for_pages(DEEP);
        let (top, last) = chain(&arena);
        // The in-use search walks all the way down, and finds the last.
        let expected = RevokeError::InUse { kind: ObjectKind::Untyped, address: last.address() };
        assert_eq!(top.revoke(), Err(expected));
        drop(last);
        take_destroyed();
        assert_eq!(top.revoke(), Ok(()));
        assert_eq!(take_destroyed().len() as u64, DEEP - 1, "every level below the top, once");
        assert_eq!(top.free(), top.size());
    });
}

#[test]
fn dropping_the_last_pointer_to_a_deep_chain_runs_on_a_small_stack() {
    on_a_small_stack(|| {
        let arena = Arena::for_pages(DEEP);
        let (top, last) = chain(&arena);
        drop(last);
        take_destroyed();
        drop(top);
        assert_eq!(take_destroyed().len() as u64, DEEP, "the root untyped and every level below it");
    });
}

// ---- Defect 7: revoke sees every descendant ---------------------------------

#[test]
fn revoke_is_refused_while_a_grandchild_is_held() {
    let arena = Arena::for_pages(32);
    let top = arena.untyped();
    // Two child untypeds, each with a page; the older one's page is held,
    // so the search must go down into the newer one, come back up and go
    // down into the older one to find it.
    let older = top.retype_untyped(8 * PAGE).unwrap();
    let held = older.retype::<RawPage>().unwrap();
    let newer = top.retype_untyped(8 * PAGE).unwrap();
    newer.retype::<RawPage>().unwrap();
    let great_grandchild = newer.retype_untyped(2 * PAGE).unwrap().retype::<RawPage>().unwrap();
    drop((older, newer));
    let free = top.free();

    let in_use = |object: &ManagedArc<RawPage>| RevokeError::InUse {
        kind: ObjectKind::RawPage,
        address: object.address(),
    };
    assert_eq!(top.revoke(), Err(in_use(&great_grandchild)));
    drop(great_grandchild);
    assert_eq!(top.revoke(), Err(in_use(&held)));
    assert_eq!(top.free(), free, "a refused revoke changes nothing");
    assert_eq!(top.children().count(), 2);
    drop(held);
    take_destroyed();
    assert_eq!(top.revoke(), Ok(()));
    assert_eq!(take_destroyed().len(), 6);
}

// ---- Defect 7: everything retype makes is zeroed ----------------------------

/// Whether the `len` bytes at `address` are all zero.
fn zeroed(address: u64, len: u64) -> bool {
    // SAFETY: the tests ask about objects they hold, in their arenas.
    unsafe { bytes(address, len) }.iter().all(|&byte| byte == 0)
}

#[test]
fn pages_tables_and_pools_are_zeroed_over_old_contents() {
    let arena = Arena::for_pages(16);
    let untyped = arena.untyped();
    // SAFETY: the arena's memory, unused by any object yet.
    assert!(unsafe { bytes(untyped.address(), untyped.size()) }.iter().all(|&byte| byte == JUNK));
    for round in 0..2 {
        // The pool comes last, over the arena's junk, then first, over the
        // junk the pages and tables of the first round left.
        let pool = || untyped.retype::<CPool>().unwrap().into_any();
        let first = (round == 1).then(pool);
        let mut objects = vec![
            untyped.retype::<RawPage>().unwrap().into_any(),
            untyped.retype::<Pml4>().unwrap().into_any(),
            untyped.retype::<Pdpt>().unwrap().into_any(),
            untyped.retype::<Pd>().unwrap().into_any(),
            untyped.retype::<Pt>().unwrap().into_any(),
        ];
        objects.extend(first.or_else(|| Some(pool())));
        for object in &objects {
            let size = KindOps::find(object.kind()).unwrap().layout(0).unwrap().size;
            assert!(zeroed(object.address(), size), "round {round}: a new {} is not zeroed", object.kind());
            // Leave junk behind for the next round to find, where a task
            // could write: in a page, and in the entries of a table (not in
            // a pool, a task, or a table's shadow, which only the kernel
            // writes and follows when the object is destroyed).
            let user_visible = match object.kind() {
                ObjectKind::RawPage
                | ObjectKind::Pml4
                | ObjectKind::Pdpt
                | ObjectKind::Pd
                | ObjectKind::Pt => PAGE,
                _ => 0,
            };
            // SAFETY: the object's memory, which only this test uses.
            unsafe { bytes(object.address(), user_visible) }.fill(JUNK);
        }
        drop(objects);
        untyped.revoke().unwrap();
    }
}

#[test]
fn a_new_untyped_is_empty_and_what_it_makes_is_zeroed() {
    let arena = Arena::for_pages(16);
    let parent = arena.untyped();
    let page = parent.retype::<RawPage>().unwrap();
    // SAFETY: the page's memory, which only this test uses.
    unsafe { bytes(page.address(), PAGE) }.fill(JUNK);
    drop(page);
    parent.revoke().unwrap();

    let child = parent.retype_untyped(4 * PAGE).unwrap();
    assert_eq!((child.size(), child.free(), child.children().count()), (4 * PAGE, 4 * PAGE, 0));
    assert_eq!(child.watermark(), child.address());
    let page = child.retype::<RawPage>().unwrap();
    assert_eq!(page.address(), child.address(), "the page that was full of junk");
    assert!(zeroed(page.address(), PAGE));
}

// ---- Defect 6: what an untyped holds ----------------------------------------

#[test]
fn a_4_kib_untyped_holds_one_4_kib_page() {
    let arena = Arena::for_pages(1);
    let root = arena.untyped();
    assert_eq!(root.size(), PAGE);
    assert!(root.retype::<RawPage>().is_ok());
    assert!(root.retype::<RawPage>().is_err());

    let arena = Arena::for_pages(2);
    let parent = arena.untyped();
    let child = parent.retype_untyped(PAGE).unwrap();
    assert!(child.retype::<RawPage>().is_ok(), "a retyped 4 KiB untyped holds a page too");
    assert_eq!(child.retype::<RawPage>().err(), Some(RetypeError::OutOfMemory { needed: PAGE, free: 0 }));
}

/// From stage 5 on a table takes two pages (its entries and their shadow):
/// an untyped of 2N pages holds N tables, or N pages and N / 2 tables.
#[test]
fn an_untyped_of_n_pages_holds_n_pages_or_half_as_many_tables() {
    for pages in [2, 4, 8, 34] {
        let arena = Arena::for_pages(pages + 1);
        let root = arena.untyped();
        let untyped = root.retype_untyped(pages * PAGE).unwrap();
        for index in 0..pages / 2 {
            let made = match index % 2 {
                0 => untyped
                    .retype::<RawPage>()
                    .and_then(|_| untyped.retype::<RawPage>())
                    .map(ManagedArc::into_any),
                _ => untyped.retype::<Pt>().map(ManagedArc::into_any),
            };
            assert!(made.is_ok(), "pair {index} of {pages} pages: {made:?}", made = made.err());
        }
        assert_eq!(untyped.free(), 0);
        assert!(untyped.retype::<RawPage>().is_err());
    }
}

#[test]
fn an_untyped_counts_one_page_more_than_its_size() {
    let arena = Arena::for_pages(8);
    let root = arena.untyped();
    let free = root.free();
    assert_eq!(
        root.retype_untyped(8 * PAGE).err(),
        Some(RetypeError::OutOfMemory { needed: 9 * PAGE, free })
    );
    assert_eq!(root.free(), free, "a refused retype changes nothing");
    let seven = root.retype_untyped(7 * PAGE).unwrap();
    assert_eq!(root.free(), 0, "its eighth page has no header slot left");
    for _ in 0..7 {
        seven.retype::<RawPage>().unwrap();
    }
}

#[test]
fn sizes_other_kinds_do_not_have_are_refused() {
    let System { root, untyped, .. } = &system(8);
    for size in [0, 1, PAGE + 1, 5000] {
        assert_eq!(
            untyped.retype_untyped(size).err(),
            Some(RetypeError::InvalidSize { kind: ObjectKind::Untyped, size })
        );
    }
    assert_eq!(
        untyped.retype_kind(ObjectKind::CPool, PAGE).err(),
        Some(RetypeError::InvalidSize { kind: ObjectKind::CPool, size: PAGE })
    );
    assert_eq!(
        cpool::retype(root, at(UNTYPED_SLOT), ObjectKind::DevicePage, 0, at(2)),
        Err(CapError::Retype(RetypeError::NotRetypable(ObjectKind::DevicePage)))
    );
    assert_eq!(untyped.free(), untyped.size(), "nothing was made");
}

// ---- Defect 3: the kernel's tables cannot be revoked --------------------------

#[test]
fn the_kernel_pins_its_page_tables_so_their_untyped_cannot_be_revoked() {
    use super::table::KernelTables;
    use crate::kernel_space::{self, KernelImage};
    use common::memory::{KERNEL_VMA, Span};
    let base = KERNEL_VMA + 0x10_0000;
    let image = KernelImage {
        stack: Span::new(base + 0x2000, base + 0x4000),
        text: Span::new(base + 0x10000, base + 0x12345),
        rodata: Span::new(base + 0x13000, base + 0x13800),
        data: Span::new(base + 0x14000, base + 0x16000),
    };
    let memory = 64 << 20;
    let tables = kernel_space::tables_needed(&image, memory);
    let arena = Arena::for_pages(2 * tables);
    let untyped = arena.untyped();
    let window = super::window();
    let space =
        kernel_space::build(&window, &mut KernelTables { untyped: &untyped }, &image, memory).unwrap();
    // SAFETY: the PML4 is in the arena, and only read here.
    let pml4 = unsafe { bytes(space.pml4.start_address().as_u64(), PAGE) }.to_vec();

    let result = untyped.revoke();
    let Err(RevokeError::InUse { kind, .. }) = result else {
        panic!("revoke of the kernel's tables: {result:?}")
    };
    assert!(crate::paging::Level::of_kind(kind).is_some(), "a table is in use, not a {kind}");
    assert_eq!(untyped.children().count() as u64, tables);
    // SAFETY: as above.
    assert_eq!(unsafe { bytes(space.pml4.start_address().as_u64(), PAGE) }, &pml4[..]);
}

// ---- One place per kind -------------------------------------------------------

#[test]
fn every_kind_of_the_stage_is_listed_once_and_makes_its_own_kind() {
    for (index, ops) in KINDS.iter().enumerate() {
        assert!(KINDS[..index].iter().all(|other| other.kind != ops.kind), "{} twice", ops.kind);
    }
    let System { untyped, .. } = &system(16);
    for ops in KINDS {
        let size = if ops.kind == ObjectKind::Untyped { PAGE } else { 0 };
        match untyped.retype_kind(ops.kind, size) {
            Ok(object) => assert_eq!(object.kind(), ops.kind),
            Err(error) => {
                // What stands for hardware is never made by retype.
                let devices = [DevicePage::KIND, ObjectKind::IrqLine, ObjectKind::PortRange];
                assert!(devices.contains(&ops.kind), "{} refused: {error}", ops.kind);
                assert_eq!(error, RetypeError::NotRetypable(ops.kind));
            }
        }
    }
    assert_eq!(KINDS.len(), ObjectKind::ALL.len(), "the last stage makes every kind");
}

#[test]
fn errors_name_what_was_expected_and_what_was_found() {
    let System { root, untyped, .. } = &system(8);
    cpool::retype(root, at(UNTYPED_SLOT), ObjectKind::CPool, 0, at(2)).unwrap();
    let error = cpool::retype(root, at(2), ObjectKind::RawPage, 0, at(3)).unwrap_err();
    assert_eq!(error.to_string(), "2: level 1: expected an Untyped, found a CPool");
    let error = cpool::copy(root, CAddr::new(&[UNTYPED_SLOT, 0]).unwrap(), at(3)).unwrap_err();
    assert_eq!(error.to_string(), "1.0: level 1: expected a CPool, found an Untyped");
    let found = root.slot(2).upgrade::<Untyped>().err();
    assert_eq!(found, Some(SlotError::WrongKind { expected: ObjectKind::Untyped, found: ObjectKind::CPool }));
    assert_eq!(untyped.clone().downcast::<CPool>().err(), Some(ObjectKind::Untyped));
}

// ---- Strong pointers ----------------------------------------------------------

/// The count a revoke relies on (more than its untyped's pointer means in
/// use) counts each strong pointer, and a pointer names its object only.
#[test]
fn strong_pointers_are_counted_and_name_their_object_only() {
    let System { untyped, .. } = &system(8);
    let (page, other) = (untyped.retype::<RawPage>().unwrap(), untyped.retype::<RawPage>().unwrap());
    assert_eq!(page.strong_count(), 2, "its untyped's and ours");
    let copy = page.clone();
    assert_eq!(page.strong_count(), 3, "and the copy's");
    assert!(copy.same_object(&page) && !copy.same_object(&other));
    drop(copy);
    assert_eq!(page.strong_count(), 2);
}

/// A pointer given to the kernel for good names the object's memory and
/// keeps the object: its untyped's revoke is refused, naming it.
#[test]
fn a_pinned_object_names_its_memory_and_cannot_be_revoked() {
    let System { untyped, .. } = &system(8);
    let page = untyped.retype::<RawPage>().unwrap();
    let address = page.address();
    let pinned = page.leak();
    assert_eq!(pinned.address(), address);
    assert_eq!(untyped.revoke(), Err(RevokeError::InUse { kind: ObjectKind::RawPage, address }));
}

// ---- Weak lists -------------------------------------------------------------

#[test]
fn the_weak_list_check_fails_on_a_broken_backward_link_instead_of_spinning() {
    let System { root, untyped, .. } = &system(8);
    let page = untyped.retype::<RawPage>().unwrap();
    for slot in 2..6 {
        root.slot(slot).downgrade(&page).unwrap();
    }
    assert_eq!(check_weak_list(page.header(), 10), Ok(4));
    // Point slot 3's backward link at itself, as a buggy unlink might.
    let slot = root.slot(3);
    let saved = slot.replace_previous(super::Link::to(super::physical_of(slot)));
    assert!(check_weak_list(page.header(), 10).is_err());
    slot.replace_previous(saved);
    assert_eq!(check_weak_list(page.header(), 10), Ok(4));
}

/// What the scheduler relies on to skip looking a task's pool and table
/// up after every call: a slot `names` exactly the object it was made
/// from, no other, and nothing once cleared.
#[test]
fn a_slot_names_its_object_only_while_it_does() {
    let System { root, untyped, .. } = &system(8);
    let (page, other) = (untyped.retype::<RawPage>().unwrap(), untyped.retype::<RawPage>().unwrap());
    let slot = root.slot(5);
    assert!(!slot.names(&page), "an empty slot names nothing");
    slot.downgrade(&page).unwrap();
    assert!(slot.names(&page) && slot.names(&page.clone().into_any()));
    assert!(!slot.names(&other));
    slot.clear();
    assert!(!slot.names(&page));
    slot.downgrade(&other).unwrap();
    assert!(slot.names(&other) && !slot.names(&page));
}

#[test]
fn weak_pool_downgrades_into_a_given_or_the_first_free_slot() {
    let system = system(16);
    let pool = system.root.pool();
    let page = system.untyped.retype::<RawPage>().unwrap();
    assert_eq!(pool.downgrade(&page, None), Ok(0), "slot 0 is the first free one");
    assert_eq!(pool.downgrade(&page, None), Ok(2), "slot 1 holds the untyped");
    assert_eq!(pool.downgrade(&page, Some(200)), Ok(200));
    assert_eq!(pool.downgrade(&page, Some(200)), Err(SlotError::Occupied));
    assert_eq!(pool.downgrade(&page, Some(256)), Err(SlotError::NoSuchSlot(256)));
    while pool.downgrade(&page, None).is_ok() {}
    assert_eq!(pool.downgrade(&page, None), Err(SlotError::PoolFull));
    assert_eq!(check_weak_list(page.header(), 256), Ok(255), "every slot but the untyped's");
    assert_eq!(page.weak_count(), 255);

    let wrong = SlotError::WrongKind { expected: ObjectKind::CPool, found: ObjectKind::RawPage };
    assert_eq!(pool.upgrade::<CPool>(0).err(), Some(wrong));
    assert!(pool.upgrade::<AnyObject>(0).unwrap().same_object(&page));
    drop(page);
    take_destroyed();
    system.untyped.revoke().unwrap();
    assert_eq!(take_destroyed().len(), 1);
    assert_eq!(pool.upgrade::<AnyObject>(0).err(), Some(SlotError::Empty), "gone, so upgrade fails");
    assert!(pool.slots().all(|(index, slot)| slot.is_empty() == (index != usize::from(UNTYPED_SLOT))));
}

#[test]
fn a_destroyed_pool_releases_its_slots_from_other_weak_lists() {
    let system = system(16);
    let root = &system.root;
    cpool::retype(root, at(1), ObjectKind::Untyped, 4 * PAGE, at(2)).unwrap();
    cpool::retype(root, at(2), ObjectKind::CPool, 0, at(3)).unwrap();
    // The inner pool holds a capability to the big untyped, which survives.
    cpool::copy(root, at(1), CAddr::new(&[3, 0]).unwrap()).unwrap();
    assert_eq!(check_weak_list(system.untyped.header(), 10), Ok(2));
    take_destroyed();
    cpool::revoke(root, at(2)).unwrap();
    assert_eq!(take_destroyed().len(), 1, "the inner pool");
    assert!(root.slot(3).is_empty());
    assert_eq!(check_weak_list(system.untyped.header(), 10), Ok(1), "only root slot 1 is left");
}

#[test]
fn nested_addresses_reach_nested_pools_and_report_each_error() {
    let system = system(16);
    let root = &system.root;
    cpool::retype(root, at(1), ObjectKind::CPool, 0, at(2)).unwrap();
    cpool::retype(root, at(1), ObjectKind::RawPage, 0, CAddr::new(&[2, 7]).unwrap()).unwrap();
    let page = cpool::lookup_object::<AnyObject>(root, CAddr::new(&[2, 7]).unwrap()).unwrap();
    assert_eq!(page.kind(), ObjectKind::RawPage);
    drop(page);

    let error =
        |path: &[u8]| cpool::lookup_object::<CPool>(root, CAddr::new(path).unwrap()).err().map(lookup_error);
    let wrong = |level, found| Some(LookupError::WrongKind { level, expected: ObjectKind::CPool, found });
    assert_eq!(error(&[3, 0]), Some(LookupError::Empty { level: 1 }));
    assert_eq!(error(&[2, 7, 0]), wrong(2, ObjectKind::RawPage));
    assert_eq!(error(&[2, 7]), wrong(2, ObjectKind::RawPage));
    assert_eq!(error(&[2, 8]), Some(LookupError::Empty { level: 2 }));
    assert_eq!(error(&[1, 0]), wrong(1, ObjectKind::Untyped));
}

// ANCHOR: max_pages_test
/// `ObjectKind::max_pages` is a promise to user space (a loader sizes the
/// untyped it builds a program in by it): every kind's object fits it, and
/// pages and tables are whole, page-aligned pages.
#[test]
fn every_kind_fits_the_pages_the_abi_promises() {
    for ops in KINDS {
        let Ok(layout) = ops.layout(0) else { continue };
        let promised = ops.kind.max_pages() * PAGE;
        assert!(layout.size <= promised, "{}: {} bytes, {promised} promised", ops.kind, layout.size);
        if ops.kind.max_pages() > 0 && layout.align == PAGE {
            assert!(layout.size.is_multiple_of(PAGE), "{}", ops.kind);
        } else {
            assert!(layout.align < PAGE, "{}: needs less than a page of padding", ops.kind);
        }
    }
    assert_eq!(ObjectKind::RawPage.max_pages(), 1, "a page is a page");
}
// ANCHOR_END: max_pages_test

/// The fast path's hand of a number to a waiting taker moves the channel's
/// ring on by one message, as a put and its take would: the next message
/// goes in the next slot, round the ring's end too.
#[test]
fn a_hand_to_a_taker_moves_the_ring_on_as_a_put_and_its_take_would() {
    use super::channel::{CAPACITY, Channel, Outgoing, audit_view};
    let system = system(16);
    let channel = system.untyped.retype::<Channel>().unwrap();
    let task = system.untyped.retype::<super::Task>().unwrap();
    for turn in 0..CAPACITY {
        channel.wait(&task);
        let taker = channel.hand_to_taker(turn as u64).expect("a taker waits");
        assert!(taker.same_object(&task));
        channel.put(Outgoing::Raw(0)).unwrap();
        // SAFETY: a live channel, while `channel` holds it.
        let (_, slots) = unsafe { audit_view(channel.header()) };
        let waiting: Vec<usize> = (0..CAPACITY).filter(|&index| slots[index].1).collect();
        // Each turn moves the ring on twice: the hand, and the take below.
        assert_eq!(waiting, [(2 * turn + 1) % CAPACITY], "turn {turn}");
        assert!(channel.take(&task, 0).is_some_and(|taken| taken.is_ok()));
    }
}

/// A slot's description for listings names the object and what it holds:
/// a pool its used slots, an untyped its size and what is free.
#[test]
fn a_description_says_what_the_object_holds() {
    let system = system(64);
    system.root.slot(0).downgrade(&system.root).unwrap();
    let described = |slot: u8| format!("{}", cpool::describe(system.root.slot(slot)));
    let pool = described(0);
    assert!(pool.ends_with(", 2 slots used (1 capability to it)"), "{pool}");
    let untyped = described(UNTYPED_SLOT);
    assert!(untyped.ends_with(", 256 KiB, 256 KiB free (1 capability to it)"), "{untyped}");
    assert_eq!(described(9), "(empty)");
}

/// A refused map says why in words (the kernel prints them, and the book
/// quotes them).
#[test]
fn map_errors_say_why() {
    use super::mapping::MapError;
    use crate::paging::PagingError;
    let cases = [
        (MapError::NotAnAddressSpace(ObjectKind::Untyped), "expected a PML4, found an Untyped"),
        (MapError::NotMappable(ObjectKind::Channel), "a Channel cannot be mapped this way"),
        (MapError::Paging(PagingError::AlreadyMapped), "the capability is already mapped"),
    ];
    for (error, text) in cases {
        assert_eq!(error.to_string(), text);
    }
}

/// A slot operation refused says why in words (the shell prints them).
#[test]
fn slot_errors_say_why() {
    let cases = [
        (SlotError::Empty, "the slot is empty"),
        (SlotError::Occupied, "the slot is not empty"),
        (
            SlotError::WrongKind { expected: ObjectKind::CPool, found: ObjectKind::Untyped },
            "expected a CPool, found an Untyped",
        ),
        (SlotError::PoolFull, "no slot of the pool is free"),
        (SlotError::NoSuchSlot(256), "the pool has no slot 256"),
    ];
    for (error, text) in cases {
        assert_eq!(error.to_string(), text);
    }
}

/// A refused retype says why in words, each size rule its own way.
#[test]
fn retype_errors_say_why() {
    let cases = [
        (
            RetypeError::OutOfMemory { needed: 8192, free: 4096 },
            "out of memory: needs 8192 bytes, 4096 are free",
        ),
        (RetypeError::NotRetypable(ObjectKind::DevicePage), "a DevicePage cannot be made by retype"),
        (
            RetypeError::InvalidSize { kind: ObjectKind::Untyped, size: 100 },
            "an Untyped of 100 bytes cannot be made (a multiple of 4096 is needed)",
        ),
        (
            RetypeError::InvalidSize { kind: ObjectKind::Task, size: 4096 },
            "a Task has one size: ask for 0 bytes, not 4096",
        ),
    ];
    for (error, text) in cases {
        assert_eq!(error.to_string(), text);
    }
}

/// A refused revoke names the object in use, in words.
#[test]
fn revoke_errors_say_why() {
    let error = RevokeError::InUse { kind: ObjectKind::Task, address: 0x5000 };
    assert_eq!(error.to_string(), "the Task at 0x5000, made from this untyped, is in use");
}
