//! I/O ports as objects: a PortRange stands for a run of ports
//! (`abi::device::PortSpan`) that a task holding it may read, and, if the
//! range says so, write, through the `PortRead` and `PortWrite` calls.
//!
//! Port access goes through a system call, as in seL4, not through the
//! TSS's I/O permission bitmap: each access looks the capability up, so a
//! revoke (or a deleted capability) closes the ports at once, with nothing
//! to undo in any task's bitmap; the price is a system call per access,
//! which for a keyboard or a serial line at human speed is nothing.
//!
//! No range can cover a port of the kernel's (`abi::device::KERNEL_PORTS`)
//! or be writable over one the kernel writes (`KERNEL_WRITTEN_PORTS`, the
//! console's COM1): the kernel makes the first ranges from
//! `abi::device::HANDED_PORTS`, and a derived range lies inside its parent
//! and has at most its parent's right to write. The audit checks it.

use super::header::{Doomed, Header};
use super::{KernelObject, Layout, ManagedArc, ObjectKind, RetypeError, reach};
use abi::Error;
use abi::device::{PortSpan, is_port_width};
use core::cell::Cell;
use core::fmt;

/// A range of I/O ports: the marker type of its kind.
pub struct PortRange;

// ANCHOR: body
/// A PortRange's memory: its span, as `first`, `last` and whether it may
/// be written. A new object's (zeroed) is empty, `first` 1 past `last`,
/// until the kernel gives it its span.
#[repr(C)]
pub struct PortRangeBody {
    first: Cell<u64>,
    last: Cell<u64>,
    writable: Cell<u64>,
}
// ANCHOR_END: body

impl KernelObject for PortRange {
    const KIND: ObjectKind = ObjectKind::PortRange;
    type State = ();
    const RETYPABLE: bool = false;

    fn layout(size: u64) -> Result<Layout, RetypeError> {
        let (body, align) = (size_of::<PortRangeBody>() as u64, align_of::<PortRangeBody>() as u64);
        Layout::fixed(Self::KIND, size, body, align)
    }

    /// Nothing to let go of: a range holds nothing, and once its
    /// capabilities are gone no access can name it.
    unsafe fn destroy(_: &Header, _: &mut Doomed) {}

    fn detail(range: &ManagedArc<PortRange>) -> u64 {
        u64::from(range.span().first)
    }

    fn describe(range: &ManagedArc<PortRange>, f: &mut fmt::Formatter) -> fmt::Result {
        let span = range.span();
        let right = if span.writable { "read and write" } else { "read only" };
        write!(f, ", ports {:#x} to {:#x}, {right}", span.first, span.last)
    }
}

/// The span recorded in the PortRange body at physical address `body`.
///
/// # Safety
/// `body` must be a live PortRange's memory.
unsafe fn span_at(body: u64) -> Option<PortSpan> {
    // SAFETY: the caller's promise.
    let body: &PortRangeBody = unsafe { reach(body) };
    let (first, last) = (u16::try_from(body.first.get()).ok()?, u16::try_from(body.last.get()).ok()?);
    Some(PortSpan { first, last, writable: body.writable.get() != 0 })
}

impl ManagedArc<PortRange> {
    fn body(&self) -> &PortRangeBody {
        // SAFETY: this strong pointer keeps the range alive.
        unsafe { reach(self.address()) }
    }

    /// The ports the range covers.
    pub fn span(&self) -> PortSpan {
        // SAFETY: a live PortRange.
        unsafe { span_at(self.address()) }.unwrap_or(PortSpan { first: 1, last: 0, writable: false })
    }

    /// Gives a new range (made by the kernel, before anything names it)
    /// its span, which must be one a task may be given.
    pub fn set_span(&self, span: PortSpan) {
        debug_assert!(abi::device::may_be_handed(&span));
        let body = self.body();
        body.first.set(u64::from(span.first));
        body.last.set(u64::from(span.last));
        body.writable.set(u64::from(span.writable));
    }

    // ANCHOR: access
    /// Checks an access of `width` bytes at `port`, for writing if `write`:
    /// `OutOfRange` for a width other than 1, 2 or 4 or a port past
    /// 0xffff, `PortDenied` for a port the range does not cover, or a
    /// write to a range without the right.
    fn check(&self, port: u64, width: u64, write: bool) -> Result<(u16, u8), Error> {
        if !is_port_width(width) || port > u64::from(u16::MAX) {
            return Err(Error::OutOfRange);
        }
        let span = self.span();
        if !span.covers(port, width) || (write && !span.writable) {
            return Err(Error::PortDenied);
        }
        Ok((port as u16, width as u8))
    }

    /// `PortRead`: the value read, after the checks of [`check`](Self::check).
    pub fn read(&self, port: u64, width: u64) -> Result<u64, Error> {
        let (port, width) = self.check(port, width, false)?;
        Ok(u64::from(crate::io::read_port(port, width)))
    }

    /// `PortWrite`: writes the low `width` bytes of `value`, after the
    /// checks of [`check`](Self::check).
    pub fn write(&self, port: u64, width: u64, value: u64) -> Result<(), Error> {
        let (port, width) = self.check(port, width, true)?;
        crate::io::write_port(port, width, value as u32);
        Ok(())
    }
    // ANCHOR_END: access

    // ANCHOR: narrow
    /// The span of a range derived from this one: the `count` ports from
    /// `first`, with this range's right to write. `OutOfRange` if it would
    /// be empty or go past port 0xffff, `PortDenied` if it is not inside
    /// this range (or, which cannot be inside a range the kernel made,
    /// would cover a port of the kernel's).
    pub fn narrow(&self, first: u64, count: u64) -> Result<PortSpan, Error> {
        let last = first.checked_add(count).and_then(|end| end.checked_sub(1));
        let Some(last) = last.filter(|&last| count > 0 && last <= u64::from(u16::MAX)) else {
            return Err(Error::OutOfRange);
        };
        let parent = self.span();
        if !parent.covers(first, count) {
            return Err(Error::PortDenied);
        }
        let span = PortSpan { first: first as u16, last: last as u16, writable: parent.writable };
        match abi::device::may_be_handed(&span) {
            true => Ok(span),
            false => Err(Error::PortDenied),
        }
    }
    // ANCHOR_END: narrow
}

/// What the audit reads of the live PortRange whose header is `header`:
/// its span (`None`: a span past port 0xffff, which no range has).
///
/// # Safety
/// `header` must be a live PortRange's header.
pub(super) unsafe fn audit_view(header: &Header) -> Option<PortSpan> {
    // SAFETY: the caller's promise.
    unsafe { span_at(header.body()) }
}
