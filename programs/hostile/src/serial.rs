//! `hostile-serial`: a serial driver that does what a driver must never be
//! able to do, for the boot test that loads it in place of `serial`
//! (`a_hostile_serial_driver_cannot_silence_the_kernel`): rinit hands it
//! what it hands the serial driver (IRQ 4 and COM1's ports, read only),
//! and it
//!
//! 1. writes COM1's line control register (setting DLAB would turn the
//!    data port into the baud-rate divisor: the kernel's output would go
//!    nowhere), its interrupt enable register and its transmit register;
//! 2. reads and writes the kernel's ports through its range: the PICs,
//!    the timer, the PS/2 command port, the debug console, the exit device;
//! 3. acknowledges a line that has not fired, and binds its line twice;
//! 4. takes one interrupt and never acknowledges it;
//! 5. then reads address 0: a fault, which must stop it alone.
//!
//! Each refusal the kernel must give is checked; a call that goes through
//! prints a line with `MISMATCH`, which the test refuses.

#![no_std]
#![no_main]
#![deny(unsafe_op_in_unsafe_fn)]

use ulib::abi::CAddr;
use ulib::driver::{INTERRUPTS, IRQ, PORTS, receive_capabilities, wait_for_interrupt};
use ulib::syscall::{irq_acknowledge, irq_bind, port_read_byte, port_write_byte};
use ulib::{Error, println};

ulib::entry!(main);

/// COM1's transmit register, interrupt enable register and line control
/// register.
const COM1_WRITES: [(u16, &str, u8); 3] = [(0x3fb, "LCR", 0x80), (0x3f9, "IER", 0x00), (0x3f8, "THR", b'X')];
/// Ports of the kernel's: the PICs, the timer, the PS/2 command port, the
/// debug console, the exit device.
const KERNEL_PORTS: [u16; 7] = [0x20, 0x21, 0x43, 0x64, 0xa1, 0xe9, 0xf4];

fn main(_args: &str) -> Result<(), Error> {
    receive_capabilities()?;
    let (irq, ports) = (CAddr::root(IRQ), CAddr::root(PORTS));
    for (port, name, value) in COM1_WRITES {
        expect(&format_args!("write COM1's {name}"), port_write_byte(ports, port, value), Error::PortDenied);
    }
    for port in KERNEL_PORTS {
        expect(&format_args!("read port {port:#x}"), port_read_byte(ports, port), Error::PortDenied);
        expect(&format_args!("write port {port:#x}"), port_write_byte(ports, port, 0xff), Error::PortDenied);
    }
    expect(&"acknowledge before binding", irq_acknowledge(irq), Error::NoInterrupt);
    irq_bind(irq, CAddr::root(INTERRUPTS))?;
    expect(&"bind the line again", irq_bind(irq, CAddr::root(INTERRUPTS)), Error::InUse);
    expect(&"acknowledge before it fired", irq_acknowledge(irq), Error::NoInterrupt);
    println!("hostile-serial: every write refused; waiting for an interrupt I will never acknowledge");
    wait_for_interrupt()?;
    println!("hostile-serial: took an interrupt; not acknowledging it; reading address 0");
    // SAFETY: page 0 is never mapped (the loader refuses it), so the read
    // faults and the kernel stops this task: no Rust value is read.
    unsafe { core::arch::asm!("mov {0}, qword ptr [0]", out(reg) _) };
    println!("hostile-serial: MISMATCH: reading address 0 did not fault");
    Ok(())
}

/// Checks that a call was refused with `wanted`; says so either way.
fn expect<T: core::fmt::Debug>(what: &dyn core::fmt::Display, result: Result<T, Error>, wanted: Error) {
    match result {
        Err(error) if error == wanted => println!("hostile-serial: {what}: refused ({error})"),
        other => println!("hostile-serial: MISMATCH: {what}: {other:?}, not {wanted:?}"),
    }
}
