//! The invariant audit: a walk over every object the kernel has, checking
//! that the links between them say what the rest of this module relies on.
//!
//! What it checks, from the root untypeds down:
//!
//! - **Untyped accounting.** Each untyped's children lie in its memory,
//!   newest first, one below the other with no more than alignment padding
//!   between them; the newest ends at the watermark, and their header slots
//!   add up to exactly the slots used. So the children's memory plus what
//!   is free is the untyped's size, and nothing is handed out twice.
//! - **Weak pointers.** Every non-empty slot, in a pool, a task or a
//!   message waiting in a channel, names a live object (one found on a
//!   derivation list), of the kind the holder needs (a task's pool is a
//!   CPool, its table a PML4, its buffer a RawPage, its fault channel a
//!   Channel); a message that is not waiting holds nothing.
//! - **Weak lists.** Every object's list is consistent both ways (each
//!   slot's backward link is the slot before it) and each slot on it names
//!   the object; the lists hold exactly the non-empty slots.
//! - **Queues.** The run queue and every channel's takers link live tasks,
//!   both ways; a task is Ready exactly when it is in the run queue, Blocked
//!   exactly when it is in a channel's takers, and in no queue otherwise
//!   (a task Suspended by a fault waits for its handler in none); at most
//!   one task is Running (there is one CPU).
//! - **Devices.** Every IrqLine names a line a capability may name; the
//!   kernel's record of the lines names, for each bound line, one live
//!   IrqLine of that line, whose channel slot names a live channel and
//!   whose state is a bound one (and Pending exactly when the record says
//!   it owes a message); an IrqLine the record does not name is unbound
//!   and names no channel. So at most one object is bound per line. No
//!   PortRange covers a port of the kernel's, or is writable over a port
//!   the kernel writes (`abi::device::may_be_handed`).
//! - **Mappings.** Each table's shadow names live objects whose `mapped_at`
//!   is that entry and whose memory the entry maps; the objects that say
//!   they are mapped are exactly those; a user table maps nothing its
//!   shadow does not name.
//!
//! Every walk is bounded and every link is checked to lie inside a root
//! untyped's region before it is followed: a broken link is an error, never
//! a hang or a wild read. The audit changes nothing. It needs scratch
//! space for the set of live objects: a vector in host tests, a static
//! array in the kernel ([`audit_kernel`]).

use super::header::{HEADER_SIZE, Header};
use super::irq_line::{self, LineState};
use super::task::{TaskQueue, TaskState};
use super::weak::Slot;
use super::{
    KindOps, Link, ManagedArc, ObjectKind, PAGE, Untyped, channel, mapping, port_range, reach, task, untyped,
};
use core::cell::UnsafeCell;
use core::fmt;
use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// What a clean audit found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AuditReport {
    pub objects: usize,
    /// Non-empty slots (weak pointers).
    pub slots: usize,
    pub untypeds: usize,
    pub tasks: usize,
    /// Pages and tables mapped somewhere.
    pub mappings: usize,
}

impl fmt::Display for AuditReport {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "{} objects, {} slots, {} untypeds, {} tasks, {} mappings",
            self.objects, self.slots, self.untypeds, self.tasks, self.mappings
        )
    }
}

/// The first broken invariant the audit found: what, and the physical
/// address of the record where.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuditError {
    pub what: &'static str,
    pub at: u64,
}

// ANCHOR: too_many
impl AuditError {
    /// Not a broken invariant: the scratch space has no room for every
    /// object, so the audit could not look. The kernel reports it apart
    /// (`Error::NotAudited` to a task, never `AUDIT FAILED`).
    pub const TOO_MANY: &'static str = "too many objects to audit";

    /// Whether this is [`AuditError::TOO_MANY`] rather than a failure.
    pub fn is_too_many(&self) -> bool {
        self.what == Self::TOO_MANY
    }
}
// ANCHOR_END: too_many

impl fmt::Display for AuditError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{} (at {:#x})", self.what, self.at)
    }
}

fn fail<T>(what: &'static str, at: u64) -> Result<T, AuditError> {
    Err(AuditError { what, at })
}

/// The most slots one weak list may have before the audit calls it a cycle.
const WEAK_LIST_BOUND: usize = 1 << 22;

// ANCHOR: audit
/// Audits every object made from `roots` (the root untypeds, which must
/// hold every object there is), with `run_queue` the scheduler's queue,
/// using `scratch` for the set of live objects (one entry per object).
pub fn audit(
    roots: &[&ManagedArc<Untyped>],
    run_queue: &TaskQueue,
    scratch: &mut [u64],
) -> Result<AuditReport, AuditError> {
    let mut headers = [0; MAX_ROOTS];
    if roots.len() > MAX_ROOTS {
        return fail("more root untypeds than the audit has room for", roots.len() as u64);
    }
    for (header, root) in headers.iter_mut().zip(roots) {
        *header = root.header_address();
    }
    audit_roots(&headers[..roots.len()], run_queue, scratch)
}

/// The most root untypeds an audit walks from: one per free range of the
/// memory plan, and the kernel's own.
pub const MAX_ROOTS: usize = common::memory_plan::MAX_RANGES + 1;

/// [`audit`], from the headers of the roots.
fn audit_roots(roots: &[u64], run_queue: &TaskQueue, scratch: &mut [u64]) -> Result<AuditReport, AuditError> {
    let mut regions = [(0u64, 0u64); MAX_ROOTS];
    for (region, &root) in regions.iter_mut().zip(roots) {
        // SAFETY: the caller holds each root.
        *region = root_region(unsafe { reach::<Header>(root) })?;
    }
    let auditor = Auditor { regions: &regions[..roots.len()] };
    let live = auditor.collect(roots, scratch)?;
    auditor.check_objects(live, run_queue)
}
// ANCHOR_END: audit

/// The bytes a root untyped takes: its memory, its header and its header
/// slots, one per page.
fn root_region(root: &Header) -> Result<(u64, u64), AuditError> {
    let at = super::physical_of(root);
    let Some((room, _, _, parent)) = untyped::audit_view(root) else {
        return fail("a root is not an untyped", at);
    };
    if parent != Link::NONE {
        return fail("a root untyped has a parent", at);
    }
    let pages = (room.end() - room.start()) / PAGE;
    Ok((room.start(), at + (pages + 1) * HEADER_SIZE))
}

struct Auditor<'r> {
    /// The bytes of each root untyped: every record lies in one of them.
    regions: &'r [(u64, u64)],
}

impl Auditor<'_> {
    /// Whether the `size` bytes at `address` lie in one root's region,
    /// 8-aligned: only then does the audit follow a link there.
    fn reachable(&self, address: u64, size: u64) -> bool {
        address.is_multiple_of(8)
            && self.regions.iter().any(|&(start, end)| {
                address >= start && address.checked_add(size).is_some_and(|last| last <= end)
            })
    }

    // ANCHOR: collect
    /// Every object's header, from the roots down through each untyped's
    /// derivation list (checking its accounting on the way), sorted.
    fn collect<'s>(&self, roots: &[u64], scratch: &'s mut [u64]) -> Result<&'s [u64], AuditError> {
        let mut count = 0;
        for &root in roots {
            *scratch.get_mut(count).ok_or(AuditError { what: AuditError::TOO_MANY, at: 0 })? = root;
            count += 1;
        }
        // The scratch space is the queue of untypeds still to walk.
        let mut next = 0;
        while next < count {
            let at = scratch[next];
            next += 1;
            // SAFETY: every address in the scratch space was checked to be
            // a header slot in use of a live untyped (or is a root).
            let object = unsafe { reach::<Header>(at) };
            let Some(view) = untyped::audit_view(object) else { continue };
            count = self.check_untyped(at, view, scratch, count)?;
        }
        let live = &mut scratch[..count];
        live.sort_unstable();
        if let Some(pair) = live.windows(2).find(|pair| pair[0] == pair[1]) {
            return fail("an object is on two derivation lists", pair[0]);
        }
        Ok(live)
    }

    /// Checks the untyped at `at` and appends its children to `scratch`.
    fn check_untyped(
        &self,
        at: u64,
        (room, headers, first_child, _): (super::watermark::Watermark, u64, Link, Link),
        scratch: &mut [u64],
        mut count: usize,
    ) -> Result<usize, AuditError> {
        let total_headers = (room.end() - room.start()) / PAGE;
        let used = total_headers.checked_sub(room.free_headers());
        let Some(used) = used.filter(|_| room.start() <= room.watermark() && room.watermark() <= room.end())
        else {
            return fail("an untyped's watermark is outside its memory", at);
        };
        // Walking newest first: where the next (older) child must end, at
        // most how much padding may lie above it, and its header slots.
        let (mut ceiling, mut padding, mut header_end) = (room.watermark(), 1, used);
        let mut link = first_child;
        let mut children = 0;
        while let Some(child_at) = link.get() {
            children += 1;
            if children > used {
                return fail("an untyped has more children than header slots used: a cycle", at);
            }
            let offset = child_at.wrapping_sub(headers);
            if child_at < headers || !offset.is_multiple_of(HEADER_SIZE) || offset / HEADER_SIZE >= used {
                return fail("a child's header is not one of its untyped's header slots in use", child_at);
            }
            // SAFETY: a header slot in use of a live untyped: `make` wrote a
            // header there.
            let child = unsafe { reach::<Header>(child_at) };
            if child.strong_count() == 0 {
                return fail("a child on a derivation list has no strong pointer", child_at);
            }
            let (size, align, slots) = match untyped::audit_view(child) {
                Some((inner, _, _, parent)) => {
                    if parent != Link::to(at) {
                        return fail("an untyped's parent link is not the untyped it is on", child_at);
                    }
                    let size = inner.end() - inner.start();
                    (size, PAGE, 1 + size / PAGE)
                }
                None if child.kind() == ObjectKind::DevicePage => (0, 0, 1),
                None => {
                    let ops = KindOps::find(child.kind()).expect("every object's kind is in KINDS");
                    let layout =
                        ops.layout(0).map_err(|_| AuditError { what: "a child of no size", at: child_at })?;
                    (layout.size, layout.align, 1 + layout.child_headers)
                }
            };
            if offset / HEADER_SIZE + slots != header_end {
                return fail("an untyped's header slots are not accounted for by its children", child_at);
            }
            header_end -= slots;
            if align != 0 {
                let end = child.body().saturating_add(size);
                if end > ceiling || ceiling - end >= padding || child.body() < room.start() {
                    return fail("an untyped's memory is not accounted for by its children", child_at);
                }
                (ceiling, padding) = (child.body(), align);
            }
            *scratch.get_mut(count).ok_or(AuditError { what: AuditError::TOO_MANY, at })? = child_at;
            count += 1;
            link = child.next().get();
        }
        if header_end != 0 || ceiling - room.start() >= padding {
            return fail("an untyped's used memory or slots are more than its children take", at);
        }
        Ok(count)
    }
    // ANCHOR_END: collect

    // ANCHOR: check_objects
    /// The checks on each live object: its weak list, the slots it holds,
    /// the queues and the mappings.
    fn check_objects(&self, live: &[u64], run_queue: &TaskQueue) -> Result<AuditReport, AuditError> {
        let is_live = |address: u64| live.binary_search(&address).is_ok();
        let is_task = |address: u64| {
            // SAFETY: a live object's header (checked first).
            is_live(address) && unsafe { reach::<Header>(address) }.kind() == ObjectKind::Task
        };
        let mut report = AuditReport { objects: live.len(), ..AuditReport::default() };
        let (mut listed, mut records) = (0, 0);
        let (mut ready, mut blocked, mut queued, mut in_takers, mut running) = (0, 0, 0, 0, 0);
        let (lines, pending) = irq_line::audit_record();
        let mut bound_found = 0u16;
        for &at in live {
            // SAFETY: a live object's header.
            let object = unsafe { reach::<Header>(at) };
            listed += self.check_weak_list(object, at)?;
            match object.kind() {
                ObjectKind::Untyped => report.untypeds += 1,
                ObjectKind::CPool => {
                    for index in 0..abi::CPOOL_SLOTS as u64 {
                        let slot = object.body() + index * size_of::<Slot>() as u64;
                        // SAFETY: a live pool's memory is its slots.
                        report.slots += self.check_slot(unsafe { reach(slot) }, None, &is_live)?;
                    }
                }
                ObjectKind::Task => {
                    report.tasks += 1;
                    // SAFETY: a live task.
                    let (slots, state, queue) = unsafe { task::audit_view(object) };
                    let expected =
                        [ObjectKind::CPool, ObjectKind::Pml4, ObjectKind::RawPage, ObjectKind::Channel];
                    for (slot, kind) in slots.into_iter().zip(expected) {
                        report.slots += self.check_slot(slot, Some(kind), &is_live)?;
                    }
                    let in_run_queue = queue == run_queue as *const TaskQueue as usize;
                    let fits = match state {
                        TaskState::Ready => in_run_queue,
                        TaskState::Blocked => queue != 0 && !in_run_queue,
                        // A suspended task waits for its handler, in no queue.
                        TaskState::Suspended(_) => queue == 0,
                        TaskState::Inactive | TaskState::Running | TaskState::Faulted(_) => queue == 0,
                    };
                    if !fits {
                        return fail("a task's state does not match the queue it is in", at);
                    }
                    ready += usize::from(state == TaskState::Ready);
                    running += usize::from(state == TaskState::Running);
                    blocked += usize::from(state == TaskState::Blocked);
                    queued += usize::from(queue != 0);
                }
                ObjectKind::Channel => {
                    // SAFETY: a live channel.
                    let (takers, messages) = unsafe { channel::audit_view(object) };
                    in_takers += task::audit_queue(takers, live.len(), is_task)
                        .map_err(|(what, at)| AuditError { what, at })?;
                    for (slot, waiting) in messages {
                        if !waiting && !slot.is_empty() {
                            return fail("a channel's free message holds a capability", at);
                        }
                        report.slots += self.check_slot(slot, None, &is_live)?;
                    }
                }
                ObjectKind::IrqLine => {
                    // SAFETY: a live IrqLine.
                    let (slot, line, state) = unsafe { irq_line::audit_view(object) };
                    if !abi::device::is_handable_line(line) {
                        return fail("an IrqLine names a line no capability may name", at);
                    }
                    report.slots += self.check_slot(slot, Some(ObjectKind::Channel), &is_live)?;
                    let bound = lines[line as usize] == Link::to(at);
                    let consistent = match state {
                        LineState::Unbound => !bound && slot.is_empty(),
                        LineState::Armed | LineState::Fired | LineState::Pending => bound && !slot.is_empty(),
                    };
                    if !consistent {
                        return fail("an IrqLine's binding, channel and state disagree", at);
                    }
                    if bound && (state == LineState::Pending) != (pending & (1 << line) != 0) {
                        return fail("a line owes a message exactly when its IrqLine is Pending", at);
                    }
                    bound_found |= u16::from(bound) << line;
                }
                ObjectKind::PortRange => {
                    // SAFETY: a live PortRange.
                    let span = unsafe { port_range::audit_view(object) };
                    if !span.is_some_and(|span| abi::device::may_be_handed(&span)) {
                        return fail("a port range covers a port of the kernel's, or is empty", at);
                    }
                }
                kind => {
                    if mapping::mapped_at(object) != Link::NONE {
                        report.mappings += 1;
                    }
                    if matches!(kind, ObjectKind::Pml4 | ObjectKind::Pdpt | ObjectKind::Pd | ObjectKind::Pt) {
                        records += self.check_table(object, at, &is_live)?;
                    }
                }
            }
        }
        // Every line the record names as bound, the walk found bound to a
        // live IrqLine of that line; and nothing is owed on an unbound line.
        let bound_lines = (0..lines.len()).filter(|&line| lines[line] != Link::NONE);
        let recorded = bound_lines.fold(0u16, |bits, line| bits | 1 << line);
        if recorded != bound_found {
            return fail(
                "the record of the lines names an object that is not a live IrqLine of that line",
                0,
            );
        }
        if pending & !recorded != 0 {
            return fail("a line that is not bound owes a message", 0);
        }
        let in_run_queue = task::audit_queue(run_queue, live.len(), is_task)
            .map_err(|(what, at)| AuditError { what, at })?;
        if in_run_queue != ready || in_takers != blocked || queued != ready + blocked {
            return fail("the tasks in the queues are not the Ready and Blocked ones", 0);
        }
        if running > 1 {
            return fail("more than one task is Running on the one CPU", 0);
        }
        if listed != report.slots {
            return fail("the weak lists do not hold exactly the non-empty slots", 0);
        }
        if records != report.mappings {
            return fail("an object says it is mapped at an entry no table's shadow records", 0);
        }
        Ok(report)
    }
    // ANCHOR_END: check_objects

    /// Walks the weak list of the object at `at`; returns its length.
    fn check_weak_list(&self, object: &Header, at: u64) -> Result<usize, AuditError> {
        let (mut previous, mut link, mut count) = (Link::NONE, object.weak_head().get(), 0);
        while let Some(slot_at) = link.get() {
            if count == WEAK_LIST_BOUND {
                return fail("a weak list longer than the bound: a cycle", at);
            }
            if !self.reachable(slot_at, size_of::<Slot>() as u64) {
                return fail("a weak list links to memory outside every untyped", slot_at);
            }
            // SAFETY: inside a root untyped's region, aligned: readable.
            let (target, back, next) = unsafe { reach::<Slot>(slot_at) }.links();
            if target != Link::to(at) {
                return fail("a slot on an object's weak list names another object", slot_at);
            }
            if back != previous {
                return fail("a slot's backward link is not the slot before it on its weak list", slot_at);
            }
            (previous, link, count) = (Link::to(slot_at), next, count + 1);
        }
        Ok(count)
    }

    /// Checks one slot; returns 1 if it names an object, else 0.
    fn check_slot(
        &self,
        slot: &Slot,
        expected: Option<ObjectKind>,
        is_live: &impl Fn(u64) -> bool,
    ) -> Result<usize, AuditError> {
        let (target, previous, next) = slot.links();
        let here = super::physical_of(slot);
        let Some(target) = target.get() else {
            return match previous == Link::NONE && next == Link::NONE {
                true => Ok(0),
                false => fail("an empty slot is still linked to others", here),
            };
        };
        if !is_live(target) {
            return fail("a slot names an object that is not alive", here);
        }
        // SAFETY: a live object's header.
        let kind = unsafe { reach::<Header>(target) }.kind();
        if expected.is_some_and(|expected| expected != kind) {
            return fail("a task's slot names an object of the wrong kind", here);
        }
        Ok(1)
    }

    /// Checks the shadow of the table at `at`; returns the mappings it
    /// records.
    fn check_table(
        &self,
        table: &Header,
        at: u64,
        is_live: &impl Fn(u64) -> bool,
    ) -> Result<usize, AuditError> {
        let user_entries = match table.kind() {
            ObjectKind::Pml4 => crate::paging::KERNEL_HALF_FIRST_INDEX,
            _ => crate::paging::ENTRIES,
        };
        // Only a table the audit knows to be a user's has no entries but
        // those its shadow records: the kernel's own tables have none.
        let strict = table.kind() == ObjectKind::Pml4 || mapping::mapped_at(table) != Link::NONE;
        let mut records = 0;
        for index in 0..crate::paging::ENTRIES {
            // SAFETY: a live table.
            let (frame, shadow) = unsafe { mapping::entry_and_shadow(table.body(), index) };
            let entry_at = table.body() + 8 * index as u64;
            match shadow.get() {
                Some(child_at) => {
                    if !is_live(child_at) {
                        return fail("a table's shadow names an object that is not alive", entry_at);
                    }
                    // SAFETY: a live object.
                    let child = unsafe { reach::<Header>(child_at) };
                    let mappable = !matches!(
                        child.kind(),
                        ObjectKind::Untyped
                            | ObjectKind::CPool
                            | ObjectKind::Task
                            | ObjectKind::Channel
                            | ObjectKind::IrqLine
                            | ObjectKind::PortRange
                    );
                    if !mappable || mapping::mapped_at(child) != Link::to(entry_at) {
                        return fail("a table's shadow names an object not mapped at that entry", entry_at);
                    }
                    if frame != Some(child.body()) {
                        return fail("a table entry does not map the object its shadow names", entry_at);
                    }
                    records += 1;
                }
                None if strict && index < user_entries && frame.is_some() => {
                    return fail("a user table maps something its shadow does not record", entry_at);
                }
                None => {}
            }
        }
        let _ = at;
        Ok(records)
    }
}

// ANCHOR: kernel
/// The root untypeds the kernel registered, by header address.
static ROOTS: [AtomicU64; MAX_ROOTS] = [const { AtomicU64::new(0) }; MAX_ROOTS];
static ROOT_COUNT: AtomicUsize = AtomicUsize::new(0);

/// Makes `root` one of the roots [`audit_kernel`] walks from, and keeps it
/// alive for as long as the kernel runs (the audit holds it).
pub fn register_root(root: &ManagedArc<Untyped>) {
    let index = ROOT_COUNT.fetch_add(1, Ordering::Relaxed);
    let slot = ROOTS.get(index).expect("at most MAX_ROOTS root untypeds");
    slot.store(root.header_address(), Ordering::Relaxed);
    root.clone().leak();
}

/// Room for the set of live objects when the kernel audits itself.
struct Scratch(UnsafeCell<[u64; SCRATCH]>);
/// The most objects the kernel's own audit has room for.
pub const SCRATCH: usize = 1 << 15;
// SAFETY: one CPU, interrupts off in the kernel: one audit at a time.
unsafe impl Sync for Scratch {}
static SCRATCH_SPACE: Scratch = Scratch(UnsafeCell::new([0; SCRATCH]));

/// Audits every object the kernel has, from the registered roots.
pub fn audit_kernel(run_queue: &TaskQueue) -> Result<AuditReport, AuditError> {
    let count = ROOT_COUNT.load(Ordering::Relaxed).min(MAX_ROOTS);
    let roots: [u64; MAX_ROOTS] = core::array::from_fn(|index| ROOTS[index].load(Ordering::Relaxed));
    // SAFETY: the kernel runs one audit at a time (see `Scratch`).
    let scratch = unsafe { &mut *SCRATCH_SPACE.0.get() };
    audit_roots(&roots[..count], run_queue, scratch)
}
// ANCHOR_END: kernel
