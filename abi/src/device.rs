//! Devices as capabilities (stage 6): which interrupt lines and I/O ports
//! a task can ever be given, which stay the kernel's, and where the first
//! task finds the ones the kernel hands it.
//!
//! Two kinds of object stand for a device:
//!
//! - an [`ObjectKind::IrqLine`](crate::ObjectKind::IrqLine) for one line
//!   of the PICs. Bound to a channel ([`Call::IrqBind`]), it turns each
//!   interrupt into one [`MessageKind::Interrupt`] message there, with the
//!   line masked until the driver answers [`Call::IrqAcknowledge`];
//! - an [`ObjectKind::PortRange`](crate::ObjectKind::PortRange) for a run
//!   of I/O ports, which [`Call::PortRead`] and [`Call::PortWrite`] use.
//!
//! The kernel makes one of each at boot for every line and device it hands
//! out, keeps them for ever (no revoke reaches them), and puts them in a
//! pool at the first task's root slot [`DEVICES`](crate::task_root::DEVICES).
//! A driver gets its own, revocable objects from these with
//! [`Call::IrqDerive`] and [`Call::PortDerive`], each made out of an untyped
//! its parent holds: revoking that untyped (or deleting the last capability)
//! unbinds and masks the line, or closes the ports, at once.
//!
//! [`Call::IrqBind`]: crate::Call::IrqBind
//! [`Call::IrqAcknowledge`]: crate::Call::IrqAcknowledge
//! [`Call::PortRead`]: crate::Call::PortRead
//! [`Call::PortWrite`]: crate::Call::PortWrite
//! [`Call::IrqDerive`]: crate::Call::IrqDerive
//! [`Call::PortDerive`]: crate::Call::PortDerive
//! [`MessageKind::Interrupt`]: crate::syscall::MessageKind::Interrupt

// ANCHOR: lines
/// The lines of the two PICs: 0 to 15.
pub const LINES: u8 = 16;
/// The lines that stay the kernel's: the timer (0) and the cascade from
/// the second PIC (2). No capability can name them.
pub const KERNEL_LINES: [u8; 2] = [0, 2];

/// Whether a capability may name `line`: one of the PICs' lines, and not
/// the kernel's.
pub const fn is_handable_line(line: u64) -> bool {
    line < LINES as u64 && line != KERNEL_LINES[0] as u64 && line != KERNEL_LINES[1] as u64
}
// ANCHOR_END: lines

// ANCHOR: ports
/// A run of I/O ports, `first` to `last` inclusive, and whether a task
/// holding it may write them (it may always read them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortSpan {
    pub first: u16,
    pub last: u16,
    pub writable: bool,
}

impl PortSpan {
    /// Whether the span covers every port of the access (`width` bytes
    /// from `port`).
    pub const fn covers(&self, port: u64, width: u64) -> bool {
        match port.checked_add(width) {
            Some(end) => width > 0 && port >= self.first as u64 && end <= self.last as u64 + 1,
            None => false,
        }
    }

    /// Whether the two spans share a port.
    pub const fn overlaps(&self, other: &PortSpan) -> bool {
        self.first <= other.last && other.first <= self.last
    }
}

/// The ports no task may read or write, whatever it holds: the PICs, the
/// timer, the PS/2 controller's command and status port (the kernel uses
/// it to reset the machine), the debug console and the debug-exit device.
pub const KERNEL_PORTS: [PortSpan; 6] = [
    PortSpan { first: 0x20, last: 0x21, writable: false },
    PortSpan { first: 0x40, last: 0x43, writable: false },
    PortSpan { first: 0x64, last: 0x64, writable: false },
    PortSpan { first: 0xa0, last: 0xa1, writable: false },
    PortSpan { first: 0xe9, last: 0xe9, writable: false },
    PortSpan { first: 0xf4, last: 0xf4, writable: false },
];

/// The ports a task may read but never write: COM1, which the kernel keeps
/// printing its own messages on. A teaching shortcut: a real system would
/// give the console to the driver and print through it, or give the kernel
/// a port of its own; here the driver reads what arrives and the kernel,
/// which programmed the UART at boot, stays the only writer, so that no
/// driver can silence a kernel report.
pub const KERNEL_WRITTEN_PORTS: [PortSpan; 1] = [PortSpan { first: 0x3f8, last: 0x3ff, writable: false }];

/// Whether a task may ever be given `span`: it shares no port with
/// [`KERNEL_PORTS`], and, if writable, none with [`KERNEL_WRITTEN_PORTS`].
pub const fn may_be_handed(span: &PortSpan) -> bool {
    if span.first > span.last {
        return false;
    }
    let mut i = 0;
    while i < KERNEL_PORTS.len() {
        if span.overlaps(&KERNEL_PORTS[i]) {
            return false;
        }
        i += 1;
    }
    let mut i = 0;
    while i < KERNEL_WRITTEN_PORTS.len() {
        if span.writable && span.overlaps(&KERNEL_WRITTEN_PORTS[i]) {
            return false;
        }
        i += 1;
    }
    true
}
// ANCHOR_END: ports

// ANCHOR: devices_pool
/// Where the kernel puts the devices it hands out, in the pool at root slot
/// [`crate::task_root::DEVICES`]: slot `n` (1 to 15, but 2) holds the
/// IrqLine of line `n`; the port ranges follow from slot 16.
pub mod slot {
    /// The slot of line `line`'s IrqLine (for a handable line).
    pub const fn irq(line: u8) -> u8 {
        line
    }
    /// COM1, read only: what a serial driver needs to receive.
    pub const COM1: u8 = 16;
    /// The PS/2 controller's data port (0x60), read and write.
    pub const KEYBOARD: u8 = 17;
    /// COM2, read and write (free for an exercise's driver).
    pub const COM2: u8 = 18;
    /// The CMOS clock's index and data ports (0x70, 0x71), read and write.
    pub const CMOS: u8 = 19;
}

/// The port ranges the kernel hands out: (slot in the devices pool, span,
/// name).
pub const HANDED_PORTS: [(u8, PortSpan, &str); 4] = [
    (slot::COM1, PortSpan { first: 0x3f8, last: 0x3ff, writable: false }, "COM1 (read only)"),
    (slot::KEYBOARD, PortSpan { first: 0x60, last: 0x60, writable: true }, "PS/2 data"),
    (slot::COM2, PortSpan { first: 0x2f8, last: 0x2ff, writable: true }, "COM2"),
    (slot::CMOS, PortSpan { first: 0x70, last: 0x71, writable: true }, "CMOS clock"),
];
// ANCHOR_END: devices_pool

/// The widths a port access may have, in bytes (`in`/`out` of a byte, a
/// word, a double word).
pub const fn is_port_width(width: u64) -> bool {
    matches!(width, 1 | 2 | 4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kernel_lines_are_never_handable() {
        let handable: Vec<u64> = (0..=255).filter(|&line| is_handable_line(line)).collect();
        assert_eq!(handable, [1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
        assert!(!is_handable_line(u64::MAX) && !is_handable_line(16));
    }

    #[test]
    fn handed_ports_avoid_the_kernels() {
        for (slot, span, name) in HANDED_PORTS {
            assert!(may_be_handed(&span), "{name}");
            assert!(slot >= LINES, "{name}: past the lines' slots");
        }
        for span in KERNEL_PORTS {
            assert!(!may_be_handed(&span));
        }
        assert!(!may_be_handed(&PortSpan { first: 0, last: 0xffff, writable: false }));
        let com1_write = PortSpan { first: 0x3f8, last: 0x3f8, writable: true };
        assert!(!may_be_handed(&com1_write), "the kernel's console");
        assert!(!may_be_handed(&PortSpan { first: 5, last: 4, writable: false }), "empty");
    }

    #[test]
    fn a_span_covers_exactly_its_ports() {
        let cmos = PortSpan { first: 0x70, last: 0x71, writable: true };
        assert!(cmos.covers(0x70, 1) && cmos.covers(0x71, 1) && cmos.covers(0x70, 2));
        assert!(!cmos.covers(0x71, 2) && !cmos.covers(0x6f, 1) && !cmos.covers(0x72, 1));
        assert!(!cmos.covers(0x70, 0) && !cmos.covers(u64::MAX, 4) && !cmos.covers(0x70, 4));
        assert!(is_port_width(1) && is_port_width(2) && is_port_width(4));
        assert!(!is_port_width(0) && !is_port_width(3) && !is_port_width(8));
    }
}
