//! Task objects: what the kernel keeps of a thread of user code.
//!
//! A task is its saved registers ([`UserContext`]: general registers,
//! instruction and stack pointers, flags, SSE state), a [`TaskState`], and
//! four *weak* pointers: to its root capability pool, its top-level page
//! table, its task buffer page and its fault channel (`faults.rs`). A task pins nothing: revoking any of
//! the three empties the slot, and the kernel then refuses to run the task
//! (it is stopped, with the reason printed) rather than keeping the object
//! alive for it.
//!
//! Tasks that are ready to run wait in a [`TaskQueue`], linked through the
//! tasks themselves. A task is in at most one queue at a time, and
//! destroying it takes it out, so a queue never names a dead task.

use super::header::{Doomed, Header};
use super::weak::Slot;
use super::{
    KernelObject, Layout, Link, ManagedArc, ObjectKind, Placement, RawPage, RetypeError, reach, window,
};
use abi::syscall::{MessageKind, SyscallArgs, encode_result};
use abi::{Call, Error};
use common::user::{self, Fault, Trap, UserContext};
use core::cell::{Cell, UnsafeCell};
use core::sync::atomic::{AtomicU64, Ordering};
use x86_64::PhysAddr;

/// A task: the marker type of its kind.
pub struct Task;

// ANCHOR: kind
impl KernelObject for Task {
    const KIND: ObjectKind = ObjectKind::Task;
    type State = ();

    fn layout(size: u64) -> Result<Layout, RetypeError> {
        let (body, align) = (size_of::<TaskBody>() as u64, align_of::<TaskBody>() as u64);
        Layout::fixed(Self::KIND, size, body, align)
    }

    fn initialize(placed: &Placement) {
        initialize(placed.body);
    }

    unsafe fn destroy(object: &Header, _: &mut Doomed) {
        destroy(object);
    }

    /// The task's number, the one the kernel's reports name it by: the
    /// shell shows it beside the slot.
    fn detail(task: &ManagedArc<Task>) -> u64 {
        task.id()
    }
}
// ANCHOR_END: kind

// ANCHOR: state
/// Where a task is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskState {
    /// Made, or stopped: it runs only once started.
    Inactive,
    /// In the run queue.
    Ready,
    /// On the CPU (the kernel holds it while it runs).
    Running,
    /// Waiting in a channel's queue of takers for a message.
    Blocked,
    /// Stopped by a fault, or because what it needs was destroyed.
    Faulted(Stop),
    /// Waiting, in no queue, for the handler on its fault channel to
    /// resume or stop it after this fault (`faults.rs`).
    Suspended(Fault),
}

/// Why the kernel stopped a task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// Its own instruction raised an exception.
    Fault(Fault),
    /// Its root pool was destroyed.
    NoPool,
    /// Its page table was destroyed.
    NoTable,
}
// ANCHOR_END: state

// ANCHOR: task_body
/// A task's memory, in the untyped it was retyped from.
#[repr(C)]
pub struct TaskBody {
    /// The registers, saved while the task does not run.
    context: UnsafeCell<UserContext>,
    /// The weak pointers to what the task runs with.
    cpool: Slot,
    table: Slot,
    buffer: Slot,
    fault_channel: Slot,
    state: Cell<TaskState>,
    /// A number for reports, unique since boot.
    id: Cell<u64>,
    /// Where the task starts, once set: its instruction and stack
    /// pointers, to which an exit sets it back.
    entry: Cell<Option<u64>>,
    stack: Cell<u64>,
    /// The queue the task is in (0: none), and its neighbours there
    /// (their headers).
    queue: Cell<usize>,
    previous: Cell<Link>,
    next: Cell<Link>,
    /// A fingerprint of the task's last fault (the fault and every
    /// register) and how many times in a row it was the same: how
    /// `faults.rs` tells a fault storm.
    last_fault: Cell<Option<(u64, u32)>>,
}
// ANCHOR_END: task_body

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// Writes a new task's body at `body`: inactive, no registers set,
/// nothing named.
fn initialize(at: u64) {
    let body = TaskBody {
        context: UnsafeCell::new(UserContext::default()),
        cpool: Slot::empty(),
        table: Slot::empty(),
        buffer: Slot::empty(),
        fault_channel: Slot::empty(),
        state: Cell::new(TaskState::Inactive),
        id: Cell::new(NEXT_ID.fetch_add(1, Ordering::Relaxed)),
        entry: Cell::new(None),
        stack: Cell::new(0),
        queue: Cell::new(0),
        previous: Cell::new(Link::NONE),
        next: Cell::new(Link::NONE),
        last_fault: Cell::new(None),
    };
    let address = window().virtual_address(PhysAddr::new(at)) as *mut TaskBody;
    // SAFETY: retype just carved and zeroed this memory for the task, with
    // the size and alignment of a `TaskBody`; nothing refers to it yet.
    unsafe { address.write(body) };
}

/// The body of the task whose header is `task`.
///
/// # Safety
/// `task` must be a live task's header, for as long as the body is used.
unsafe fn body_of<'a>(task: &Header) -> &'a TaskBody {
    // SAFETY: the caller's promise; `initialize` wrote a body there.
    unsafe { reach(task.body()) }
}

/// Takes a task that is being destroyed out of its queue, and lets go of
/// what it names.
fn destroy(task: &Header) {
    // SAFETY: the task is being destroyed; its memory stays until its
    // untyped's watermark is reset, after this returns.
    let body = unsafe { body_of(task) };
    if let Some(queue) = body.queue() {
        queue.unlink(task);
    }
    body.cpool.clear();
    body.table.clear();
    body.buffer.clear();
    body.fault_channel.clear();
}

/// What the audit reads of the live task whose header is `task`: its four
/// slots (pool, table, buffer, fault channel), its state, and the queue it
/// says it is in (0: none).
///
/// # Safety
/// `task` must be a live task's header, for as long as the slots are used.
pub(super) unsafe fn audit_view<'a>(task: &Header) -> ([&'a Slot; 4], TaskState, usize) {
    // SAFETY: the caller's promise.
    let body: &'a TaskBody = unsafe { body_of(task) };
    ([&body.cpool, &body.table, &body.buffer, &body.fault_channel], body.state.get(), body.queue.get())
}

/// Walks `queue` front to back, at most `bound` tasks, checking each link:
/// every task is live (`is_live` says so of its header), says it is in
/// this queue, and its backward link is the task before it; the tail is
/// the last. Returns the tasks in it; a broken or cyclic queue is an error,
/// never an endless walk.
pub(super) fn audit_queue(
    queue: &TaskQueue,
    bound: usize,
    is_live: impl Fn(u64) -> bool,
) -> Result<usize, (&'static str, u64)> {
    let me = queue as *const TaskQueue as usize;
    let (mut previous, mut link, mut count) = (Link::NONE, queue.head.get(), 0);
    while let Some(address) = link.get() {
        if count == bound {
            return Err(("a task queue is longer than the bound: a cycle", address));
        }
        if !is_live(address) {
            return Err(("a task queue names a dead object or one that is not a task", address));
        }
        // SAFETY: a live task (checked).
        let body = unsafe { body_of(reach(address)) };
        if body.queue.get() != me {
            return Err(("a task in a queue says it is in another", address));
        }
        if body.previous.get() != previous {
            return Err(("a task's backward link in its queue is not the task before it", address));
        }
        (previous, link, count) = (Link::to(address), body.next.get(), count + 1);
    }
    match queue.tail.get() == previous {
        true => Ok(count),
        false => Err(("a task queue's tail is not its last task", previous.get().unwrap_or(0))),
    }
}

impl TaskBody {
    fn queue(&self) -> Option<&TaskQueue> {
        // SAFETY: a task's queue pointer names a live queue: queues are
        // kernel statics or live objects, and a task leaves its queue
        // before either goes.
        (self.queue.get() != 0).then(|| unsafe { &*(self.queue.get() as *const TaskQueue) })
    }
}

impl ManagedArc<Task> {
    fn body(&self) -> &TaskBody {
        // SAFETY: this strong pointer keeps the task alive.
        unsafe { body_of(self.header()) }
    }

    /// The task's number, for reports.
    pub fn id(&self) -> u64 {
        self.body().id.get()
    }

    /// Where the task is in its life.
    pub fn run_state(&self) -> TaskState {
        self.body().state.get()
    }

    /// Sets the state (the scheduler's business).
    pub fn set_run_state(&self, state: TaskState) {
        self.body().state.set(state);
    }

    /// The slot naming the task's root pool.
    pub fn cpool_slot(&self) -> &Slot {
        &self.body().cpool
    }

    /// The slot naming the task's top-level page table.
    pub fn table_slot(&self) -> &Slot {
        &self.body().table
    }

    /// The slot naming the task's buffer page.
    pub fn buffer_slot(&self) -> &Slot {
        &self.body().buffer
    }

    /// The slot naming the task's fault channel (empty: a fault stops it).
    pub fn fault_channel_slot(&self) -> &Slot {
        &self.body().fault_channel
    }

    /// Records that the task faulted in the state `fingerprint` names, and
    /// returns how many times in a row it has (1 for a new one).
    pub fn note_fault(&self, fingerprint: u64) -> u32 {
        let repeats = match self.body().last_fault.get() {
            Some((last, repeats)) if last == fingerprint => repeats.saturating_add(1),
            _ => 1,
        };
        self.body().last_fault.set(Some((fingerprint, repeats)));
        repeats
    }

    /// Whether an instruction pointer has been set.
    pub fn has_entry(&self) -> bool {
        self.body().entry.get().is_some()
    }

    /// Sets where the task starts.
    pub fn set_entry(&self, instruction_pointer: u64) {
        self.registers().frame.rip = instruction_pointer;
        self.body().entry.set(Some(instruction_pointer));
    }

    /// Sets the task's stack pointer.
    pub fn set_stack(&self, stack_pointer: u64) {
        self.registers().frame.rsp = stack_pointer;
        self.body().stack.set(stack_pointer);
    }

    /// Sets every register back to how the task starts: what an exit
    /// does, so that starting the task again runs it from its beginning.
    pub fn reset_to_start(&self) {
        let body = self.body();
        let context = UserContext::new(body.entry.get().unwrap_or(0), body.stack.get());
        *self.registers() = context;
        body.last_fault.set(None);
    }

    /// The task's buffer page and its bytes, as the kernel sees them
    /// through the direct map; `None` if it has none.
    pub fn buffer(&self) -> Option<(ManagedArc<RawPage>, &'static mut [u8; 4096])> {
        let page = self.buffer_slot().upgrade::<RawPage>().ok()?;
        let address = window().virtual_address(PhysAddr::new(page.address())) as *mut [u8; 4096];
        // SAFETY: a RawPage is one page of RAM, alive while `page` is held;
        // the kernel keeps no other reference to it while it handles one
        // system call (the task itself is not running).
        Some((page, unsafe { &mut *address }))
    }

    /// Takes the task out of the queue it is in, if any.
    pub fn leave_queue(&self) {
        if let Some(queue) = self.body().queue() {
            queue.unlink(self.header());
        }
    }

    // ANCHOR: registers
    /// The system call the task trapped with: the number it put in `rax`
    /// and the six arguments (`rdi`, `rsi`, `rdx`, `r10`, `r8`, `r9`).
    #[inline]
    pub fn call(&self) -> SyscallArgs {
        let frame = &self.registers().frame;
        SyscallArgs {
            number: frame.rax,
            args: [frame.rdi, frame.rsi, frame.rdx, frame.r10, frame.r8, frame.r9],
        }
    }

    /// The number of the system call the task trapped with (`rax`) alone:
    /// what the null call's path reads, so that it copies no arguments.
    #[inline]
    pub fn call_number(&self) -> u64 {
        self.registers().frame.rax
    }

    /// Writes the result of the task's system call where the task reads
    /// it when the call returns (`rax` and `rdx`, by `encode_result`).
    #[inline]
    pub fn set_result(&self, result: Result<u64, Error>) {
        let frame = &mut self.registers().frame;
        (frame.rax, frame.rdx) = encode_result(result);
    }

    /// Writes the answer to the task's `ChannelTake`: its result, and the
    /// message's kind in `rsi` (0 if the take failed).
    #[inline]
    pub fn set_take_answer(&self, answer: Result<(MessageKind, u64), Error>) {
        let frame = &mut self.registers().frame;
        (frame.rax, frame.rdx) = encode_result(answer.map(|(_, value)| value));
        frame.rsi = answer.map_or(0, |(kind, _)| kind as u64);
    }

    /// The slot a take the task is blocked in names for a capability,
    /// still in its registers: a `ChannelTake`'s second argument, a
    /// `ChannelCall`'s fifth.
    #[inline]
    pub fn take_destination(&self) -> u64 {
        let call = self.call();
        match call.number == Call::ChannelCall as u64 {
            true => call.arg(4),
            false => call.arg(1),
        }
    }

    /// The instruction and stack pointers, the flags and the fifteen
    /// general registers, as the task trapped with them: what the fault
    /// path compares to tell a task that makes no progress.
    pub fn saved_registers(&self) -> [u64; 18] {
        let f = &self.registers().frame;
        [
            f.rip, f.rsp, f.rflags, f.rax, f.rbx, f.rcx, f.rdx, f.rsi, f.rdi, f.rbp, f.r8, f.r9, f.r10,
            f.r11, f.r12, f.r13, f.r14, f.r15,
        ]
    }

    /// Sets the value a task that has not run yet finds in `rdi`, its
    /// entry point's first argument.
    #[inline]
    pub fn set_start_argument(&self, value: u64) {
        self.registers().frame.rdi = value;
    }

    /// Runs the task in ring 3 until it traps (`common::user::run`), and
    /// says why it stopped.
    ///
    /// # Safety
    /// The task's address space must be loaded, and share the kernel half.
    #[inline]
    pub unsafe fn run(&self) -> Trap {
        // SAFETY: the caller's promise for the address space; the context
        // is exclusive as `registers` says.
        unsafe { user::run(self.registers()) }
    }

    /// The task's saved registers: only the methods above reach them.
    #[allow(clippy::mut_from_ref)] // exclusive, as the SAFETY note says
    #[inline]
    fn registers(&self) -> &mut UserContext {
        // SAFETY: the context is used only by the kernel, which is one
        // thread with interrupts off, while the task does not run, and only
        // inside one of the methods above, none of which calls another
        // while it holds the reference: no two references are alive at once.
        unsafe { &mut *self.body().context.get() }
    }
    // ANCHOR_END: registers

    /// For host tests, which play the CPU: puts `call` in the registers,
    /// as the task's `syscall` instruction would.
    #[cfg(any(test, feature = "host-twin"))]
    pub fn set_call(&self, call: SyscallArgs) {
        let frame = &mut self.registers().frame;
        frame.rax = call.number;
        [frame.rdi, frame.rsi, frame.rdx, frame.r10, frame.r8, frame.r9] = call.args;
    }

    /// For host tests, which play the CPU: the instruction pointer a
    /// trap saved.
    #[cfg(test)]
    pub fn set_saved_instruction_pointer(&self, rip: u64) {
        self.registers().frame.rip = rip;
    }

    /// For host tests: the registers a call's result comes back in, as
    /// they are (`rax`, `rdx`, and `rsi` for a take's kind).
    #[cfg(test)]
    pub fn result_registers(&self) -> [u64; 3] {
        let frame = &self.registers().frame;
        [frame.rax, frame.rdx, frame.rsi]
    }
}

// ANCHOR: queue
/// A first-in, first-out queue of tasks, linked through the tasks
/// themselves (no memory of its own beyond the two ends).
pub struct TaskQueue {
    head: Cell<Link>,
    tail: Cell<Link>,
}

// SAFETY: one CPU, and the kernel runs with interrupts disabled: a queue is
// never used by two threads of control at once.
unsafe impl Sync for TaskQueue {}

impl TaskQueue {
    /// An empty queue.
    pub const fn new() -> Self {
        Self { head: Cell::new(Link::NONE), tail: Cell::new(Link::NONE) }
    }

    /// Whether no task waits here.
    pub fn is_empty(&self) -> bool {
        self.head.get() == Link::NONE
    }

    /// Adds `task` at the back. A task already in a queue is not added.
    pub fn push_back(&self, task: &ManagedArc<Task>) -> bool {
        let body = task.body();
        if body.queue.get() != 0 {
            return false;
        }
        let me = Link::to(task.header_address());
        body.queue.set(self as *const TaskQueue as usize);
        body.previous.set(self.tail.get());
        body.next.set(Link::NONE);
        match self.tail.get().get() {
            None => self.head.set(me),
            // SAFETY: the tail of a queue is a live task.
            Some(tail) => unsafe { body_of(reach(tail)) }.next.set(me),
        }
        self.tail.set(me);
        true
    }

    /// Takes the task at the front out, with a strong pointer to it.
    pub fn pop_front(&self) -> Option<ManagedArc<Task>> {
        let head = self.head.get().get()?;
        // SAFETY: a queue names only live tasks (destroying a task takes it
        // out), and `head` is one.
        let task = unsafe { ManagedArc::<Task>::acquire(head) };
        self.remove(&task);
        Some(task)
    }

    /// Takes the task at the front out, with a strong pointer to it, for an
    /// object that is being destroyed and lets its queue go (a channel's
    /// takers): a task that is itself doomed in the same destruction (no
    /// strong pointer left) is only taken out, never handed back. A strong
    /// pointer to it would bring it back to life for a moment, and dropping
    /// that pointer would destroy it there and then, in the middle of the
    /// destruction that was going to destroy it.
    pub(super) fn pop_front_living(&self) -> Option<ManagedArc<Task>> {
        loop {
            let head = self.head.get().get()?;
            // SAFETY: a queue names only live (or doomed, not yet
            // destroyed) tasks; destroying one takes it out.
            let task = unsafe { reach::<Header>(head) };
            if task.strong_count() > 0 {
                return self.pop_front();
            }
            self.unlink(task);
        }
    }

    /// Takes `task`, which is in this queue, out of it.
    pub fn remove(&self, task: &ManagedArc<Task>) {
        debug_assert_eq!(task.body().queue.get(), self as *const TaskQueue as usize);
        self.unlink(task.header());
    }

    /// Takes the task whose header is `task` out of this queue.
    fn unlink(&self, task: &Header) {
        // SAFETY: `task` is live and in this queue.
        let body = unsafe { body_of(task) };
        let (previous, next) = (body.previous.get(), body.next.get());
        match previous.get() {
            None => self.head.set(next),
            // SAFETY: the neighbours of a task in a queue are live tasks.
            Some(previous) => unsafe { body_of(reach(previous)) }.next.set(next),
        }
        match next.get() {
            None => self.tail.set(previous),
            // SAFETY: as above.
            Some(next) => unsafe { body_of(reach(next)) }.previous.set(previous),
        }
        body.queue.set(0);
        body.previous.set(Link::NONE);
        body.next.set(Link::NONE);
    }

    /// The tasks in the queue, front first, at most `limit` of them (a
    /// bound, so that a broken link cannot make a walk spin).
    pub fn ids(&self, limit: usize) -> impl Iterator<Item = u64> + '_ {
        let mut at = self.head.get();
        core::iter::from_fn(move || {
            // SAFETY: a queue names only live tasks.
            let body = unsafe { body_of(reach(at.get()?)) };
            at = body.next.get();
            Some(body.id.get())
        })
        .take(limit)
    }
}
// ANCHOR_END: queue

// ANCHOR: run_queue
/// The tasks ready to run, in the order they will: the scheduler runs
/// the one at the front. It lives here, beside `TaskQueue`, and not in the
/// scheduler: an object that makes a task ready (a channel waking a taker)
/// then needs nothing from the scheduler, which uses the objects.
pub static RUN_QUEUE: TaskQueue = TaskQueue::new();

/// Makes `task` ready: it joins the back of the run queue.
pub fn make_ready(task: &ManagedArc<Task>) {
    task.set_run_state(TaskState::Ready);
    RUN_QUEUE.push_back(task);
}

/// Whether no task is ready (the fast path's condition: see `fastpath.rs`).
pub fn nothing_ready() -> bool {
    RUN_QUEUE.is_empty()
}

/// Makes `task` inactive: out of the run queue or a channel's queue of
/// takers, or off the CPU once its system call returns. A take it was
/// blocked in is cancelled: it returns `ChannelEmpty` if the task is
/// started again.
pub fn make_inactive(task: &ManagedArc<Task>) {
    match task.run_state() {
        TaskState::Ready => task.leave_queue(),
        TaskState::Blocked => {
            task.leave_queue();
            task.set_result(Err(Error::ChannelEmpty));
        }
        _ => {}
    }
    task.set_run_state(TaskState::Inactive);
}
// ANCHOR_END: run_queue

/// For host tests, which share the one run queue and have no CPU to run
/// its tasks on: the queue to themselves, emptied.
#[cfg(test)]
pub fn run_queue_for_tests() -> std::sync::MutexGuard<'static, ()> {
    static USERS: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let guard = USERS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    while RUN_QUEUE.pop_front().is_some() {}
    guard
}

impl Default for TaskQueue {
    fn default() -> Self {
        Self::new()
    }
}
