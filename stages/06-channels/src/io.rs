//! The hardware the device objects touch: a PIC line's mask, and I/O
//! ports. In the kernel these are the real thing (`common::pic`, `in` and
//! `out`); in host tests and the fuzzers' host twin, a record per thread
//! that the tests read back: which lines are masked, what was written to
//! which port, and what a read of a port returns.
//!
//! Nothing here checks anything: the objects (`objects/irq_line.rs`,
//! `objects/port_range.rs`) decide what may be touched, and call this.

#[cfg(not(any(test, feature = "host-twin")))]
mod machine {
    use x86_64::instructions::port::Port;

    /// Masks or unmasks IRQ `line` at the PIC.
    pub fn set_masked(line: u8, masked: bool) {
        common::pic::set_masked(line, masked);
    }

    /// Reads `width` bytes (1, 2 or 4) from `port`.
    pub fn read_port(port: u16, width: u8) -> u32 {
        // SAFETY: the caller's capability covers the port (checked by
        // `objects/port_range.rs`), and no kernel port is in any range a
        // capability can name (`abi::device::may_be_handed`).
        unsafe {
            match width {
                1 => u32::from(Port::<u8>::new(port).read()),
                2 => u32::from(Port::<u16>::new(port).read()),
                _ => Port::<u32>::new(port).read(),
            }
        }
    }

    /// Writes the low `width` bytes (1, 2 or 4) of `value` to `port`.
    pub fn write_port(port: u16, width: u8, value: u32) {
        // SAFETY: as for `read_port`, and the range allows writing.
        unsafe {
            match width {
                1 => Port::<u8>::new(port).write(value as u8),
                2 => Port::<u16>::new(port).write(value as u16),
                _ => Port::<u32>::new(port).write(value),
            }
        }
    }
}

#[cfg(any(test, feature = "host-twin"))]
mod machine {
    use std::cell::RefCell;
    use std::vec::Vec;

    /// What the host's stand-in for the hardware has seen.
    pub struct Record {
        /// Bit `n`: line `n` is masked. Every line starts masked, as the
        /// kernel's `pic::init` leaves those it does not ask for.
        pub masks: u16,
        /// Every port access: (port, width, value, whether a write).
        pub accesses: Vec<(u16, u8, u32, bool)>,
    }

    std::thread_local! {
        static RECORD: RefCell<Record> = const { RefCell::new(Record { masks: !0, accesses: Vec::new() }) };
    }

    /// Runs `f` on this thread's record.
    pub fn with_record<R>(f: impl FnOnce(&mut Record) -> R) -> R {
        RECORD.with(|record| f(&mut record.borrow_mut()))
    }

    pub fn set_masked(line: u8, masked: bool) {
        with_record(|record| match masked {
            true => record.masks |= 1 << line,
            false => record.masks &= !(1 << line),
        });
    }

    /// A read returns the port's number, so that tests see which port
    /// was read.
    pub fn read_port(port: u16, width: u8) -> u32 {
        with_record(|record| record.accesses.push((port, width, u32::from(port), false)));
        u32::from(port)
    }

    /// A write records the bytes the port would get: the low `width`.
    pub fn write_port(port: u16, width: u8, value: u32) {
        let value = match width {
            1 => value & 0xff,
            2 => value & 0xffff,
            _ => value,
        };
        with_record(|record| record.accesses.push((port, width, value, true)));
    }
}

#[cfg(any(test, feature = "host-twin"))]
pub use machine::with_record;
pub use machine::{read_port, set_masked, write_port};

/// Whether IRQ `line` is masked, as far as the host's record says.
#[cfg(any(test, feature = "host-twin"))]
pub fn is_masked(line: u8) -> bool {
    with_record(|record| record.masks & (1 << line) != 0)
}
