//! Tests of the audit: it passes on states the object system builds, and
//! reports each broken link or record when one is corrupted, one at a
//! time (each test puts the corrupted word back and sees the audit pass
//! again, so it is that word the audit caught).

use super::audit::{AuditError, AuditReport, MAX_ROOTS, audit, audit_kernel, register_root};
use super::channel::{Channel, Outgoing};
use super::header::HEADER_SIZE;
use super::mapping;
use super::task::{TaskQueue, TaskState};
use super::testing::{Arena, System, system};
use super::untyped::root_region_size;
use super::{
    AnyObject, CPool, Link, ManagedArc, ObjectKind, PAGE, Pml4, RawPage, Task, Untyped, cpool, physical_of,
};
use crate::paging::Rights;
use abi::CAddr;

/// A system with something of everything: nested pools, copies, a task in
/// a queue and one blocked on a channel, a capability in flight, and a page
/// mapped through a full set of tables.
struct World {
    ready: ManagedArc<Task>,
    waiting: ManagedArc<Task>,
    page: ManagedArc<AnyObject>,
    pt: ManagedArc<AnyObject>,
    space: ManagedArc<AnyObject>,
    system: System,
    /// Boxed: tasks in it hold its address; dropped last, after the
    /// tasks in it are destroyed (and leave it).
    run_queue: Box<TaskQueue>,
}

const ADDRESS: u64 = 0x40_0000;

fn world() -> World {
    let system = system(128);
    let root = &system.root;
    let untyped = CAddr::root(1);
    root.slot(0).downgrade(root).unwrap();
    for (slot, kind) in [
        (2, ObjectKind::CPool),
        (3, ObjectKind::Task),
        (4, ObjectKind::Task),
        (5, ObjectKind::Channel),
        (6, ObjectKind::Pml4),
        (7, ObjectKind::Pdpt),
        (8, ObjectKind::Pd),
        (9, ObjectKind::Pt),
        (10, ObjectKind::RawPage),
    ] {
        cpool::retype(root, untyped, kind, 0, CAddr::root(slot)).unwrap();
    }
    cpool::retype(root, untyped, ObjectKind::Untyped, 8 * 4096, CAddr::root(11)).unwrap();
    let inner = CAddr::new(&[2, 0]).unwrap();
    cpool::retype(root, CAddr::root(11), ObjectKind::RawPage, 0, inner).unwrap();
    cpool::copy(root, CAddr::root(10), CAddr::new(&[2, 1]).unwrap()).unwrap();
    cpool::copy(root, CAddr::root(2), CAddr::new(&[2, 2]).unwrap()).unwrap();

    let get = |slot: u8| root.slot(slot).upgrade::<AnyObject>().unwrap();
    let space = get(6);
    for slot in [7, 8, 9] {
        mapping::map_table(&space, &get(slot), ADDRESS).unwrap();
    }
    let page = get(10);
    mapping::map_page(&space, &page, ADDRESS, Rights::USER | Rights::WRITE).unwrap();

    let ready = root.slot(3).upgrade::<Task>().unwrap();
    let waiting = root.slot(4).upgrade::<Task>().unwrap();
    for task in [&ready, &waiting] {
        task.cpool_slot().downgrade(root).unwrap();
        task.table_slot().downgrade(&root.slot(6).upgrade::<Pml4>().unwrap()).unwrap();
        task.buffer_slot().downgrade(&root.slot(10).upgrade::<RawPage>().unwrap()).unwrap();
    }
    let run_queue = Box::new(TaskQueue::new());
    ready.set_run_state(TaskState::Ready);
    run_queue.push_back(&ready);
    let channel = root.slot(5).upgrade::<Channel>().unwrap();
    channel.put(Outgoing::Capability(root.slot(10))).unwrap();
    channel.put(Outgoing::Raw(7)).unwrap();
    // A second channel, empty, with a taker waiting.
    cpool::retype(root, untyped, ObjectKind::Channel, 0, CAddr::root(12)).unwrap();
    root.slot(12).upgrade::<Channel>().unwrap().wait(&waiting);
    let pt = get(9);
    World { ready, waiting, page, pt, space, system, run_queue }
}

impl World {
    fn audit(&self) -> Result<AuditReport, AuditError> {
        let mut scratch = vec![0; 4096];
        audit(&self.system.roots(), &self.run_queue, &mut scratch)
    }

    /// Writes `value` into the word at physical address `at` (the window is
    /// at offset 0 in tests), checks the audit reports `what`, puts the old
    /// word back and checks it passes again.
    fn corrupt(&self, at: u64, value: u64, what: &str) {
        self.corrupt_caught_by_either(at, value, [what, what]);
    }

    /// As `corrupt`, for a corruption two checks can catch: which one runs
    /// first depends on where the test's arenas were allocated.
    fn corrupt_caught_by_either(&self, at: u64, value: u64, either: [&str; 2]) {
        assert!(self.audit().is_ok(), "the audit passes before the corruption");
        let word = at as *mut u64;
        // SAFETY: `at` is a word of a live record in the test's arenas.
        let old = unsafe { word.replace(value) };
        let result = self.audit();
        // SAFETY: as above.
        unsafe { word.write(old) };
        match result {
            Err(error) => assert!(
                either.iter().any(|what| error.what.contains(what)),
                "expected {either:?}, the audit said {error}"
            ),
            Ok(report) => panic!("the audit missed it ({either:?}): {report}"),
        }
        assert!(self.audit().is_ok(), "the audit passes once the word is back");
    }
}

/// Header words (`Header` is `repr(C)`): strong count, weak list head,
/// next on the derivation list, kind, body, then the kind's state.
const WEAK_HEAD: u64 = 8;
const NEXT: u64 = 16;
const BODY: u64 = 32;
const STATE: u64 = 40;
const _: () = assert!(HEADER_SIZE == 104);

#[test]
fn a_good_state_passes_and_is_counted() {
    let world = world();
    let report = world.audit().unwrap();
    // Root pool, 2 roots, 11 retyped in the big untyped, 1 page in slot
    // 11's untyped.
    assert_eq!(report.objects, 1 + 2 + 11 + 1, "{report}");
    assert_eq!((report.untypeds, report.tasks, report.mappings), (3, 2, 4), "{report}");
    // Root pool 13 full slots + inner pool 3 + tasks 6 + the message's 1.
    assert_eq!(report.slots, 13 + 3 + 6 + 1, "{report}");
    assert_eq!(report.to_string(), "15 objects, 23 slots, 3 untypeds, 2 tasks, 4 mappings");
}

#[test]
fn operations_that_run_out_of_memory_leave_a_state_that_passes() {
    let world = world();
    let root = &world.system.root;
    let mut made = 0;
    while cpool::retype(root, CAddr::root(11), ObjectKind::Pt, 0, CAddr::root(100 + made)).is_ok() {
        made += 1;
    }
    assert!(world.audit().is_ok());
    cpool::revoke(root, CAddr::root(11)).unwrap();
    let report = world.audit().unwrap();
    assert_eq!(report.objects, 14, "{report}");
}

#[test]
fn a_broken_derivation_list_is_reported() {
    let world = world();
    // The newest child of the big untyped is the channel in slot 12: cut the
    // list after it, and every older child is lost.
    let channel = world.system.root.slot(12).upgrade::<AnyObject>().unwrap();
    world.corrupt(channel.header_address() + NEXT, 0, "untyped's used memory or slots");
    // Or link it to the middle of a header, or to a header slot no object
    // uses: neither is one of the untyped's header slots in use.
    let not_a_child = "not one of its untyped's header slots in use";
    world.corrupt(channel.header_address() + NEXT, world.pt.header_address() + 8, not_a_child);
    let free = world.pt.header_address() + 40 * HEADER_SIZE;
    world.corrupt(channel.header_address() + NEXT, free, not_a_child);
    // A list that loops: the one page of slot 11's untyped as its own next.
    let inner = cpool::lookup_object::<AnyObject>(&world.system.root, CAddr::new(&[2, 0]).unwrap()).unwrap();
    world.corrupt(inner.header_address() + NEXT, inner.header_address(), "a cycle");
}

#[test]
fn memory_handed_out_twice_is_reported() {
    let world = world();
    let page = world.page.header_address();
    world.corrupt(page + BODY, world.pt.address(), "memory is not accounted");
}

#[test]
fn a_watermark_outside_its_untypeds_memory_or_above_its_children_is_reported() {
    let world = world();
    let untyped = world.system.root.slot(11).upgrade::<Untyped>().unwrap();
    let (start, end) = (untyped.address(), untyped.address() + untyped.size());
    // The state's fields are in Rust's order, not a fixed one: find the
    // watermark's word by its value (above the start: a page is made).
    let watermark = untyped.watermark();
    assert!(start < watermark && watermark < end);
    let word = (STATE..HEADER_SIZE)
        .step_by(8)
        .map(|offset| untyped.header_address() + offset)
        // SAFETY: words of a live header.
        .find(|&at| unsafe { *(at as *const u64) } == watermark)
        .expect("the watermark is a word of the untyped's header");
    world.corrupt(word, end + PAGE, "watermark is outside its memory");
    world.corrupt(word, start - PAGE, "watermark is outside its memory");
    // Inside, but a page above where its newest (and only) child ends: a
    // page used that no child accounts for.
    world.corrupt(word, watermark + PAGE, "memory is not accounted for by its children");
}

/// A device page (the kernel makes one for the VGA text screen) takes a
/// header slot of its untyped and none of its memory: the audit accounts
/// for it so, and lost from the derivation list it is missed by its
/// header slot alone.
#[test]
fn a_device_page_takes_a_header_slot_and_no_memory() {
    let world = world();
    let before = world.audit().unwrap();
    let root = &world.system.root;
    cpool::retype(root, CAddr::root(1), ObjectKind::Untyped, 4 * 4096, CAddr::root(13)).unwrap();
    let untyped = root.slot(13).upgrade::<Untyped>().unwrap();
    let _device = untyped.adopt_device_page(0xb8000).unwrap();
    let page = untyped.retype::<RawPage>().unwrap();
    assert_eq!(world.audit().map(|report| report.objects), Ok(before.objects + 3));
    // The page is the newest child: cut the list after it.
    world.corrupt(page.header_address() + NEXT, 0, "used memory or slots are more than its children take");
}

#[test]
fn a_slot_naming_a_dead_object_is_reported() {
    let world = world();
    let slot = physical_of(world.system.root.slot(2));
    // A header slot of the untyped that no object uses. Slot 2 is on the
    // untyped's weak list, so walking that list can catch it first.
    let free = world.pt.header_address() + 40 * HEADER_SIZE;
    world.corrupt_caught_by_either(slot, free, ["not alive", "names another object"]);
    let empty = physical_of(world.system.root.slot(200));
    world.corrupt(empty, world.page.header_address() + HEADER_SIZE * 50, "not alive");
}

#[test]
fn broken_weak_lists_are_reported() {
    let world = world();
    assert!(world.page.weak_count() >= 3);
    let head = world.page.header().weak_head().get().get().unwrap();
    // A backward link that does not lead back, and a list that loops.
    world.corrupt(head + 8, head, "backward link");
    // SAFETY: the head of a live object's weak list is a live slot.
    let (_, _, next) = unsafe { super::reach::<super::weak::Slot>(head) }.links();
    world.corrupt(next.get().unwrap() + 16, head, "backward link");
    // A slot on the list that names another object.
    let other = cpool::lookup_object::<AnyObject>(&world.system.root, CAddr::new(&[2, 0]).unwrap()).unwrap();
    assert_eq!(other.kind(), ObjectKind::RawPage);
    world.corrupt(next.get().unwrap(), other.header_address(), "names another object");
    // An empty slot still linked.
    world.corrupt(physical_of(world.system.root.slot(201)) + 16, head, "empty slot is still linked");
}

#[test]
fn a_task_slot_of_the_wrong_kind_is_reported() {
    let world = world();
    let table_slot = physical_of(world.ready.table_slot());
    // The task's table slot names the page instead, kept on nobody's list.
    world.corrupt(table_slot, world.page.header_address(), "wrong kind");
}

#[test]
fn task_states_that_do_not_match_their_queues_are_reported() {
    let world = world();
    let check = |task: &ManagedArc<Task>, state: TaskState| {
        let old = task.run_state();
        task.set_run_state(state);
        let result = world.audit();
        task.set_run_state(old);
        assert!(result.is_err_and(|error| error.what.contains("state does not match")), "{state:?}");
        assert!(world.audit().is_ok());
    };
    check(&world.ready, TaskState::Inactive);
    check(&world.ready, TaskState::Blocked);
    check(&world.waiting, TaskState::Ready);
    check(&world.waiting, TaskState::Running);
    // Two tasks Running at once (neither in a queue).
    world.ready.leave_queue();
    world.ready.set_run_state(TaskState::Running);
    assert!(world.audit().is_ok(), "one Running task is fine");
    let extra = world.system.root.slot(4).upgrade::<Task>().unwrap();
    extra.leave_queue();
    extra.set_run_state(TaskState::Running);
    let result = world.audit();
    assert!(result.is_err_and(|error| error.what.contains("more than one task is Running")), "{result:?}");
    extra.set_run_state(TaskState::Blocked);
    world.system.root.slot(12).upgrade::<super::channel::Channel>().unwrap().wait(&extra);
    world.ready.set_run_state(TaskState::Ready);
    world.run_queue.push_back(&world.ready);
    assert!(world.audit().is_ok());
    // A task in two queues: the waiting one also in the run queue (pushed
    // by hand, past the check that refuses it).
    let other = TaskQueue::new();
    world.ready.leave_queue();
    other.push_back(&world.ready);
    let result = world.audit();
    other.remove(&world.ready);
    world.run_queue.push_back(&world.ready);
    assert!(result.is_err(), "a Ready task in a queue that is not the run queue");
    assert!(world.audit().is_ok());
}

impl World {
    /// The audit's finding with both ends of `queue` (its two words,
    /// whatever their order) set to `link`, put back after.
    fn audit_with_ends(&self, queue: &TaskQueue, link: u64) -> Result<AuditReport, &'static str> {
        assert!(self.audit().is_ok());
        assert_eq!(size_of::<TaskQueue>(), 16, "a head and a tail");
        let ends = queue as *const TaskQueue as *mut [u64; 2];
        // SAFETY: the queue's two words, put back before anything else
        // uses it.
        let old = unsafe { ends.replace([link, link]) };
        let result = self.audit();
        // SAFETY: as above.
        unsafe { ends.write(old) };
        assert!(self.audit().is_ok(), "the audit passes once the words are back");
        result.map_err(|error| error.what)
    }
}

/// A queue that names a live object which is not a task: the run queue's
/// head and tail both set to the page.
#[test]
fn a_queue_naming_an_object_that_is_not_a_task_is_reported() {
    let world = world();
    let page = world.page.header_address();
    let result = world.audit_with_ends(&world.run_queue, page);
    assert_eq!(result, Err("a task queue names a dead object or one that is not a task"));
}

/// A Ready or a Blocked task whose queue has lost it (the queue emptied,
/// the task still saying it is in it) is caught by the count of each.
#[test]
fn a_task_its_queue_has_lost_is_reported() {
    let world = world();
    let lost = Err("the tasks in the queues are not the Ready and Blocked ones");
    assert_eq!(world.audit_with_ends(&world.run_queue, 0), lost, "the Ready one");
    let channel = world.system.root.slot(12).upgrade::<AnyObject>().unwrap();
    // SAFETY: a live channel, while `channel` holds it.
    let (takers, _) = unsafe { super::channel::audit_view(channel.header()) };
    assert_eq!(world.audit_with_ends(takers, 0), lost, "the Blocked one");
}

/// A PML4's kernel half is the kernel's (shared into every new one, see
/// `mapping::share_kernel_half`), not recorded in its shadow: an entry
/// there, from the first kernel-half index on, is not a finding.
#[test]
fn a_pml4s_kernel_half_is_not_held_to_its_shadow() {
    let world = world();
    let first = crate::paging::KERNEL_HALF_FIRST_INDEX as u64;
    let entry = (world.space.address() + 8 * first) as *mut u64;
    // SAFETY: an entry of a live PML4, empty in tests, put back after.
    let old = unsafe { entry.replace(0x1000 | 1) };
    let result = world.audit();
    // SAFETY: as above.
    unsafe { entry.write(old) };
    assert!(result.is_ok(), "{result:?}");
    // The entry before it is the user half's last: held to the shadow.
    world.corrupt(
        world.space.address() + 8 * (first - 1),
        0x1000 | 1,
        "maps something its shadow does not record",
    );
}

#[test]
fn broken_mapping_records_are_reported() {
    let world = world();
    // The page says it is mapped elsewhere; the PT maps another frame; the
    // PT's shadow forgets the page (the entry stays); the PML4 maps more.
    let page = world.page.header_address();
    let entry = world.pt.address() + 8 * crate::paging::Level::Pt.index_of(ADDRESS) as u64;
    world.corrupt(page + STATE, entry + 8, "not mapped at that entry");
    world.corrupt(entry, (world.pt.address() & !0xfff) | 0x7, "does not map the object");
    world.corrupt(entry + 4096, 0, "maps something its shadow does not record");
    world.corrupt(world.space.address() + 8 * 200, 0x1000 | 1, "maps something its shadow does not record");
}

#[test]
fn a_mapping_record_naming_a_dead_object_or_no_table_is_reported() {
    // Each mapping is recorded twice (see `mapping`): the table's shadow
    // names the object, and the object names the entry. A shadow naming a
    // header slot no object uses, and an object claiming an entry no live
    // table records, must both be caught.
    let world = world();
    let entry = world.pt.address() + 8 * crate::paging::Level::Pt.index_of(ADDRESS) as u64;
    let free = world.pt.header_address() + 40 * HEADER_SIZE;
    world.corrupt(entry + 4096, free, "names an object that is not alive");
    let root = &world.system.root;
    let inner = root.slot(2).upgrade::<super::CPool>().unwrap().slot(0).upgrade::<AnyObject>().unwrap();
    assert!(!mapping::is_mapped(&inner), "the inner page is not mapped");
    let unused_entry = world.pt.address() + 8 * 300;
    world.corrupt(inner.header_address() + STATE, unused_entry, "no table's shadow records");
}

/// Defect found by reading what the fuzzer exercises: a revoke that
/// destroys a channel and, later on the same list, a task blocked on it.
/// Destroying the channel woke the task (taking a strong pointer to an
/// object already doomed, and dropping it), which destroyed the task at
/// once, in the middle of the revoke: its link on the doomed list was
/// lost, and every object after it was never destroyed, though its
/// untyped's memory was free again.
#[test]
fn revoking_a_channel_and_a_task_blocked_on_it_destroys_everything_once() {
    let _queue = crate::objects::task::run_queue_for_tests();
    let system = system(64);
    let root = &system.root;
    let untyped = CAddr::root(1);
    cpool::retype(root, untyped, ObjectKind::Untyped, 16 * 4096, CAddr::root(2)).unwrap();
    let inner = CAddr::root(2);
    // Oldest first: the channel, then the task, then a page after them.
    for (slot, kind) in [(3, ObjectKind::Channel), (4, ObjectKind::Task), (5, ObjectKind::RawPage)] {
        cpool::retype(root, inner, kind, 0, CAddr::root(slot)).unwrap();
    }
    {
        let task = root.slot(4).upgrade::<Task>().unwrap();
        root.slot(3).upgrade::<super::channel::Channel>().unwrap().wait(&task);
    }
    super::testing::take_destroyed();
    cpool::revoke(root, inner).unwrap();
    let destroyed = super::testing::take_destroyed();
    let mut once = destroyed.clone();
    once.sort_unstable();
    once.dedup();
    assert_eq!((destroyed.len(), once.len()), (3, 3), "each of the three objects, once: {destroyed:x?}");
    for slot in [3, 4, 5] {
        assert!(root.slot(slot).is_empty(), "slot {slot} was cleared");
    }
    let (mut scratch, run_queue) = (vec![0; 4096], TaskQueue::new());
    audit(&system.roots(), &run_queue, &mut scratch).unwrap();
}

/// Running out of memory refuses a retype whole: whatever the kind, the
/// pools, the untyped's watermark and everything the audit counts are as
/// they were. (No other call takes memory: a retype is the only way to
/// run out of it.)
#[test]
fn a_retype_refused_for_memory_changes_nothing() {
    let world = world();
    let root = &world.system.root;
    let small = CAddr::root(11);
    let mut slot = 100;
    while cpool::retype(root, small, ObjectKind::RawPage, 0, CAddr::root(slot)).is_ok() {
        slot += 1;
    }
    let untyped = root.slot(11).upgrade::<super::Untyped>().unwrap();
    let state = || {
        let slots: Vec<_> = (0..=255u8).map(|slot| root.slot(slot).kind()).collect();
        (slots, untyped.free(), untyped.watermark(), untyped.children().count(), world.audit().unwrap())
    };
    let before = state();
    for (kind, size) in [
        (ObjectKind::Untyped, 4096),
        (ObjectKind::CPool, 0),
        (ObjectKind::Pml4, 0),
        (ObjectKind::Pdpt, 0),
        (ObjectKind::Pd, 0),
        (ObjectKind::Pt, 0),
        (ObjectKind::RawPage, 0),
        (ObjectKind::Task, 0),
        (ObjectKind::Channel, 0),
    ] {
        let result = cpool::retype(root, small, kind, size, CAddr::root(250));
        assert!(
            matches!(result, Err(cpool::CapError::Retype(super::RetypeError::OutOfMemory { .. }))),
            "{kind}: {result:?}"
        );
        assert!(state() == before, "{kind}: a retype refused for memory changed something");
    }
}

// ANCHOR: too_many_test
/// More objects than the scratch space holds is "not audited", told apart
/// from every broken invariant; with room, the same system audits clean.
#[test]
fn too_many_objects_is_not_audited_rather_than_a_failure() {
    let world = world();
    let (system, run_queue) = (&world.system, &*world.run_queue);
    let mut roomy = vec![0; 4096];
    let report = audit(&system.roots(), run_queue, &mut roomy).expect("a clean system");
    assert!(report.objects > 1);
    let mut cramped = vec![0; report.objects - 1];
    let error = audit(&system.roots(), run_queue, &mut cramped).expect_err("no room for the last object");
    assert!(error.is_too_many(), "{error}");
    assert!(!AuditError { what: "an untyped's watermark is outside its memory", at: 0 }.is_too_many());
}
// ANCHOR_END: too_many_test

// ANCHOR: device_audit_test
/// The world with a bound interrupt line (3, on the channel in slot 5) in
/// slot 20 and COM2's and COM1's port ranges in slots 21 and 22.
fn world_with_devices() -> World {
    use super::irq_line::IrqLine;
    use super::port_range::PortRange;
    let world = world();
    let (root, untyped) = (&world.system.root, &world.system.untyped);
    let irq = untyped.retype::<IrqLine>().unwrap();
    irq.set_line(3);
    root.slot(20).downgrade(&irq).unwrap();
    irq.bind(&root.slot(5).upgrade::<Channel>().unwrap()).unwrap();
    for (at, (_, span, _)) in [(21, abi::device::HANDED_PORTS[2]), (22, abi::device::HANDED_PORTS[0])] {
        let range = untyped.retype::<PortRange>().unwrap();
        range.set_span(span);
        root.slot(at).downgrade(&range).unwrap();
    }
    world
}

#[test]
fn broken_device_objects_are_reported() {
    let world = world_with_devices();
    world.audit().expect("bound lines and port ranges pass");
    let body = |at: u8| world.system.root.slot(at).upgrade::<AnyObject>().unwrap().address();
    // The IrqLine's body: its channel slot (3 words), its line, its state.
    let (line, state) = (body(20) + 24, body(20) + 32);
    world.corrupt(line, 0, "names a line no capability may name");
    world.corrupt(line, 2, "names a line no capability may name");
    world.corrupt(line, 5, "disagree");
    world.corrupt(state, 0, "disagree");
    world.corrupt(state, 3, "owes a message exactly when");
    // A port range's body: first, last, writable.
    world.corrupt(body(21), 0x20, "covers a port of the kernel's");
    world.corrupt(body(21) + 8, 0x1_0000, "covers a port of the kernel's");
    world.corrupt(body(22) + 16, 1, "covers a port of the kernel's");
    world.corrupt(body(21), 0x300, "covers a port of the kernel's");
}

#[test]
fn a_broken_record_of_the_lines_is_reported() {
    use super::irq_line::corrupt_record;
    let world = world_with_devices();
    let irq = world.system.root.slot(20).upgrade::<AnyObject>().unwrap();
    let channel = world.system.root.slot(5).upgrade::<AnyObject>().unwrap();
    let cases = [
        (3, Link::NONE, "disagree"),
        (5, Link::to(irq.header_address()), "record of the lines names"),
        (7, Link::to(channel.header_address()), "record of the lines names"),
        (3, Link::to(channel.header_address()), "disagree"),
    ];
    for (line, header, what) in cases {
        assert!(world.audit().is_ok());
        let old = corrupt_record(line, header);
        let result = world.audit();
        corrupt_record(line, old);
        let error = result.expect_err(what);
        assert!(error.what.contains(what), "{what}: the audit said {error}");
    }
    assert!(world.audit().is_ok());
}
// ANCHOR_END: device_audit_test

/// The audit walks from one root untyped per free range of the memory
/// plan and the kernel's own, and refuses more than it has room for.
#[test]
fn the_audit_walks_from_as_many_roots_as_the_memory_plan_makes() {
    let most = common::memory_plan::MAX_RANGES + 1;
    let arenas: Vec<Arena> = (0..=most).map(|_| Arena::for_pages(1)).collect();
    let roots: Vec<ManagedArc<Untyped>> = arenas.iter().map(Arena::untyped).collect();
    let roots: Vec<&ManagedArc<Untyped>> = roots.iter().collect();
    let (mut scratch, run_queue) = (vec![0; 4096], TaskQueue::new());
    let report =
        audit(&roots[..most], &run_queue, &mut scratch).expect("one root per range and the kernel's");
    assert_eq!((report.objects, report.untypeds), (most, most));
    let error = audit(&roots, &run_queue, &mut scratch).expect_err("one root more");
    assert_eq!(
        error,
        AuditError { what: "more root untypeds than the audit has room for", at: most as u64 + 1 }
    );
    assert_eq!(MAX_ROOTS, most);
}

/// The audit follows a link only into a root's own bytes: its memory, its
/// header and its header slots, not one byte further. A weak list linked
/// to the last bytes of its last header slot is followed (and found to
/// name another object); one linked to the first bytes after them is not,
/// though they are memory too (the arena has room to spare after them).
#[test]
fn links_are_followed_exactly_as_far_as_a_roots_region_goes() {
    let pages = 8;
    let arena = Arena::new((root_region_size(pages) + HEADER_SIZE) as usize);
    let untyped = arena.untyped();
    assert_eq!(untyped.size(), pages * PAGE, "the spare bytes hold no page");
    let pool = untyped.retype::<CPool>().unwrap();
    let page = untyped.retype::<RawPage>().unwrap();
    pool.slot(0).downgrade(&page).unwrap();
    let audit_with = |head: u64| {
        let (mut scratch, run_queue) = (vec![0; 64], TaskQueue::new());
        let word = (page.header_address() + WEAK_HEAD) as *mut u64;
        // SAFETY: the page's header, in the arena; the old word goes back.
        let old = unsafe { word.replace(head) };
        let result = audit(&[&untyped], &run_queue, &mut scratch);
        // SAFETY: as above.
        unsafe { word.write(old) };
        result.map_err(|error| error.what)
    };
    assert!(audit_with(physical_of(pool.slot(0))).is_ok(), "the real head");
    let region_end = untyped.header_address() + (pages + 1) * HEADER_SIZE;
    let last_slot = region_end - size_of::<super::weak::Slot>() as u64;
    assert_eq!(audit_with(last_slot), Err("a slot on an object's weak list names another object"));
    assert_eq!(audit_with(region_end), Err("a weak list links to memory outside every untyped"));
}

/// The kernel audits itself from the roots registered with it, into a
/// scratch space of its own. (The one test that registers a root: the
/// list is the kernel's, for as long as it runs, so the arena is too.)
#[test]
fn the_kernels_audit_walks_from_the_roots_registered_with_it() {
    let arena: &'static Arena = Box::leak(Box::new(Arena::for_pages(8)));
    let root = arena.untyped();
    let _page = root.retype::<RawPage>().unwrap();
    register_root(&root);
    let report = audit_kernel(&TaskQueue::new()).expect("a clean system, and room for it");
    assert_eq!((report.objects, report.untypeds), (2, 1));
}
