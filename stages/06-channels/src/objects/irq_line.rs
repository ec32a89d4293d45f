//! Interrupt lines as objects: an IrqLine stands for one line of the PICs
//! (never the timer's or the cascade's, `abi::device`), and, bound to a
//! channel, turns each interrupt on it into one message there.
//!
//! A bound line goes round three states, and the PIC's mask follows them:
//!
//! ```text
//!            bind                interrupt            acknowledge
//!  Unbound ───────► Armed ─────────────────► Fired ───────────────► Armed
//!                 (unmasked)  message put    (masked)   (unmasked)
//!                    │
//!                    │ interrupt, channel full
//!                    ▼
//!                 Pending ── room in the channel (next tick) ──► Fired
//!                 (masked)   message put
//! ```
//!
//! So a line fires at most once between acknowledgments, however often the
//! device interrupts: a second interrupt waits in the PIC, behind the mask,
//! and is not lost; an interrupt that finds the channel full is owed, not
//! dropped, and delivered at the next timer tick that finds room
//! ([`deliver_pending`]); and a line that fires continuously cannot starve
//! the timer or anyone else, since it stays masked until its driver
//! acknowledges.
//!
//! The channel is named by a weak pointer (a slot in the object's memory),
//! like a capability: revoking the channel unbinds the line (masked) and
//! does not need the driver's consent. The kernel's record of which object
//! serves each line ([`Lines`]) is what an interrupt looks in: at most one
//! bound object per line, and destroying it (a revoke of its untyped)
//! unbinds and masks the line at once. A message already put stays in the
//! channel, but nobody can acknowledge it: the capability is gone.
//!
//! Objects are made by the kernel, not by retype: one per line at boot,
//! kept for ever in the devices pool (`first_task.rs`), and new ones with
//! `IrqDerive`, out of an untyped the driver's parent holds.

use super::channel::{Channel, Outgoing};
use super::header::{Doomed, Header};
use super::weak::Slot;
use super::{KernelObject, Layout, Link, ManagedArc, ObjectKind, RetypeError, reach};
use abi::Error;
use abi::device::LINES;
use core::cell::Cell;
use core::fmt;

/// An interrupt line: the marker type of its kind.
pub struct IrqLine;

// ANCHOR: body
/// An IrqLine's memory.
#[repr(C)]
pub struct IrqLineBody {
    /// The channel it is bound to: empty while unbound.
    channel: Slot,
    /// The line (one a capability may name: `abi::device::is_handable_line`).
    line: Cell<u64>,
    /// A [`LineState`] code.
    state: Cell<u64>,
}

/// Where a line is in its round (see the module's documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineState {
    /// Not bound: its interrupts are not this object's.
    Unbound = 0,
    /// Bound, unmasked, waiting for an interrupt.
    Armed = 1,
    /// Its message is in the channel (or taken); masked until acknowledged.
    Fired = 2,
    /// It interrupted while the channel was full; masked, its message owed.
    Pending = 3,
}
// ANCHOR_END: body

impl LineState {
    fn from_code(code: u64) -> LineState {
        match code {
            1 => LineState::Armed,
            2 => LineState::Fired,
            3 => LineState::Pending,
            _ => LineState::Unbound,
        }
    }
}

// ANCHOR: kind
impl KernelObject for IrqLine {
    const KIND: ObjectKind = ObjectKind::IrqLine;
    type State = ();
    const RETYPABLE: bool = false;

    fn layout(size: u64) -> Result<Layout, RetypeError> {
        let (body, align) = (size_of::<IrqLineBody>() as u64, align_of::<IrqLineBody>() as u64);
        Layout::fixed(Self::KIND, size, body, align)
    }

    unsafe fn destroy(object: &Header, _: &mut Doomed) {
        // SAFETY: an IrqLine being destroyed: its memory stays until its
        // untyped makes something else there, after this returns.
        let body = unsafe { body_of(object) };
        body.channel.clear();
        let line = body.line.get() as u8;
        if with_lines(|lines| lines.bound(line)) == Link::to(super::physical_of(object)) {
            unbind(line);
        }
    }

    fn detail(irq: &ManagedArc<IrqLine>) -> u64 {
        u64::from(irq.line())
    }

    fn describe(irq: &ManagedArc<IrqLine>, f: &mut fmt::Formatter) -> fmt::Result {
        match irq.line_state() {
            LineState::Unbound => write!(f, ", line {}", irq.line()),
            state => write!(f, ", line {}, bound ({state:?})", irq.line()),
        }
    }
}
// ANCHOR_END: kind

/// The body of the IrqLine whose header is `header`.
///
/// # Safety
/// `header` must be an IrqLine's (live, or being destroyed), as long as
/// the body is used.
unsafe fn body_of<'a>(header: &Header) -> &'a IrqLineBody {
    // SAFETY: the caller's promise; zeroed memory is a valid body.
    unsafe { reach(header.body()) }
}

// ANCHOR: lines
/// The kernel's record of the lines: which IrqLine (by header address)
/// serves each, and which lines owe a message to a full channel. An
/// interrupt looks here, not in any pool.
pub struct Lines {
    bound: [Cell<Link>; LINES as usize],
    /// Bit `n`: line `n` is Pending (a quick test for the timer tick).
    pending: Cell<u16>,
}

impl Lines {
    const fn new() -> Lines {
        Lines { bound: [const { Cell::new(Link::NONE) }; LINES as usize], pending: Cell::new(0) }
    }

    fn bound(&self, line: u8) -> Link {
        self.bound.get(usize::from(line)).map_or(Link::NONE, Cell::get)
    }
}
// ANCHOR_END: lines

#[cfg(not(any(test, feature = "host-twin")))]
mod record {
    use super::Lines;

    /// The kernel's one record.
    struct Shared(Lines);
    // SAFETY: one CPU, and the kernel runs with interrupts off: the record
    // is never used by two threads of control at once.
    unsafe impl Sync for Shared {}
    static LINES: Shared = Shared(Lines::new());

    pub fn with_lines<R>(f: impl FnOnce(&Lines) -> R) -> R {
        f(&LINES.0)
    }
}

#[cfg(any(test, feature = "host-twin"))]
mod record {
    use super::Lines;

    std::thread_local! {
        /// One record per thread: host tests run side by side, each with
        /// its own objects (and its own stand-in PIC, `io.rs`).
        static LINES: Lines = const { Lines::new() };
    }

    pub fn with_lines<R>(f: impl FnOnce(&Lines) -> R) -> R {
        LINES.with(f)
    }
}

use record::with_lines;

/// The header of the IrqLine bound to `line`, if one is.
fn bound_header<'a>(line: u8) -> Option<&'a Header> {
    let at = with_lines(|lines| lines.bound(line)).get()?;
    // SAFETY: the record names only live IrqLines: destroying one takes
    // it off (`destroy` above) before its memory can be used again.
    Some(unsafe { reach::<Header>(at) })
}

/// Whether a task's IrqLine is bound to `line` (so the kernel's own reader
/// of that line, if it has one, leaves it alone: `devices.rs`).
pub fn is_bound(line: u8) -> bool {
    with_lines(|lines| lines.bound(line)) != Link::NONE
}

// ANCHOR: mask
/// Sets the PIC's mask of `line` from what the kernel knows: unmasked
/// while a bound line is Armed, or while no task has bound it and the
/// kernel reads the device itself (`devices::KERNEL_READS`); else masked.
fn refresh_mask(line: u8) {
    let unmasked = match bound_header(line) {
        // SAFETY: a bound IrqLine.
        Some(header) => unsafe { body_of(header) }.state.get() == LineState::Armed as u64,
        None => crate::devices::KERNEL_READS.contains(&line),
    };
    crate::io::set_masked(line, !unmasked);
}
// ANCHOR_END: mask

impl ManagedArc<IrqLine> {
    fn body(&self) -> &IrqLineBody {
        // SAFETY: this strong pointer keeps the IrqLine alive.
        unsafe { body_of(self.header()) }
    }

    /// The line this object stands for.
    pub fn line(&self) -> u8 {
        self.body().line.get() as u8
    }

    /// Where the line is in its round.
    pub fn line_state(&self) -> LineState {
        LineState::from_code(self.body().state.get())
    }

    /// Gives a new object (made by the kernel, before anything names it)
    /// its line, which must be one a capability may name.
    pub fn set_line(&self, line: u8) {
        debug_assert!(abi::device::is_handable_line(u64::from(line)));
        self.body().line.set(u64::from(line));
    }

    /// Whether this object is the one bound to its line.
    fn is_the_bound_one(&self) -> bool {
        with_lines(|lines| lines.bound(self.line())) == Link::to(self.header_address())
    }

    // ANCHOR: bind
    /// `IrqBind`: binds the line to `channel` and unmasks it. Refused with
    /// `InUse`, changing nothing, if any IrqLine of the line (this one
    /// too) is bound already.
    pub fn bind(&self, channel: &ManagedArc<Channel>) -> Result<(), Error> {
        let line = self.line();
        if is_bound(line) {
            return Err(Error::InUse);
        }
        self.body().channel.downgrade(channel).expect("an unbound IrqLine names no channel");
        self.body().state.set(LineState::Armed as u64);
        with_lines(|lines| lines.bound[usize::from(line)].set(Link::to(self.header_address())));
        refresh_mask(line);
        Ok(())
    }
    // ANCHOR_END: bind

    // ANCHOR: acknowledge
    /// `IrqAcknowledge`: the driver has served the interrupt; the line is
    /// unmasked. `NoInterrupt`, changing nothing, unless this object is
    /// bound and its message has been put (Fired).
    pub fn acknowledge(&self) -> Result<(), Error> {
        if !self.is_the_bound_one() || self.line_state() != LineState::Fired {
            return Err(Error::NoInterrupt);
        }
        self.body().state.set(LineState::Armed as u64);
        refresh_mask(self.line());
        Ok(())
    }
    // ANCHOR_END: acknowledge
}

// ANCHOR: fire
/// IRQ `line` has come (not a spurious one), and a task's IrqLine is bound
/// to it: the line is masked and one interrupt message put on the bound
/// channel (which wakes a taker that waits), or, if the channel is full,
/// owed until there is room. The caller then ends the interrupt at the PIC:
/// the mask is set first, so the line cannot come again before the driver
/// has acknowledged it.
pub fn fire(line: u8) {
    let Some(header) = bound_header(line) else { return };
    // SAFETY: the bound IrqLine.
    let body = unsafe { body_of(header) };
    if body.state.get() == LineState::Armed as u64 {
        body.state.set(LineState::Pending as u64);
        crate::io::set_masked(line, true);
        deliver(line, body);
    }
    // Fired or Pending already: masked, so this was an interrupt the PIC
    // had latched just before the mask; its message is out or owed.
}

/// Puts the interrupt message that `body` (bound to `line`, Pending) owes
/// on its channel: Fired if the channel had room, else still Pending.
fn deliver(line: u8, body: &IrqLineBody) {
    let delivered = match body.channel.upgrade::<Channel>() {
        Ok(channel) => channel.put(Outgoing::Interrupt(u64::from(line))).is_ok(),
        // Cannot be: a channel's destruction unbinds its lines at once
        // (`forget_closed_channels`). Unbound, the line is masked.
        Err(_) => {
            unbind(line);
            return;
        }
    };
    with_lines(|lines| {
        let bit = 1 << line;
        match delivered {
            true => {
                body.state.set(LineState::Fired as u64);
                lines.pending.set(lines.pending.get() & !bit);
            }
            false => lines.pending.set(lines.pending.get() | bit),
        }
    });
}

/// Delivers the messages owed to channels that were full: at every timer
/// tick. One load and a test when none is owed.
pub fn deliver_pending() {
    let pending = with_lines(|lines| lines.pending.get());
    if pending == 0 {
        return;
    }
    for line in 0..LINES {
        if pending & (1 << line) != 0
            && let Some(header) = bound_header(line)
        {
            // SAFETY: the bound IrqLine.
            deliver(line, unsafe { body_of(header) });
        }
    }
}
// ANCHOR_END: fire

// ANCHOR: unbind
/// Unbinds `line`: its object (if still alive) is Unbound and names no
/// channel, nothing is owed, and the line is masked (or given back to the
/// kernel's own reader of it).
fn unbind(line: u8) {
    if let Some(header) = bound_header(line) {
        // SAFETY: the bound IrqLine, live or being destroyed.
        let body = unsafe { body_of(header) };
        body.channel.clear();
        body.state.set(LineState::Unbound as u64);
    }
    with_lines(|lines| {
        lines.bound[usize::from(line)].set(Link::NONE);
        lines.pending.set(lines.pending.get() & !(1 << line));
    });
    refresh_mask(line);
}

/// Unbinds every line whose channel is gone: called when a channel is
/// destroyed (its slots, these among them, were emptied just before).
pub(super) fn forget_closed_channels() {
    for line in 0..LINES {
        let Some(header) = bound_header(line) else { continue };
        // SAFETY: a bound IrqLine (it may be doomed in the same revoke as
        // the channel, but it is not destroyed yet: it would have left the
        // record).
        if unsafe { body_of(header) }.channel.is_empty() {
            unbind(line);
        }
    }
}
// ANCHOR_END: unbind

/// What the audit reads of the live IrqLine whose header is `header`: its
/// channel slot, its line and its state.
///
/// # Safety
/// `header` must be a live IrqLine's header, as long as these are used.
pub(super) unsafe fn audit_view<'a>(header: &Header) -> (&'a Slot, u64, LineState) {
    // SAFETY: the caller's promise.
    let body: &'a IrqLineBody = unsafe { body_of(header) };
    (&body.channel, body.line.get(), LineState::from_code(body.state.get()))
}

/// What the audit reads of the record: the header bound to each line, and
/// the lines that owe a message.
pub(super) fn audit_record() -> ([Link; LINES as usize], u16) {
    with_lines(|lines| (core::array::from_fn(|line| lines.bound(line as u8)), lines.pending.get()))
}

/// Corrupts the record for the audit's tests: `line` names `header`.
#[cfg(test)]
pub(super) fn corrupt_record(line: u8, header: Link) -> Link {
    with_lines(|lines| lines.bound[usize::from(line)].replace(header))
}
