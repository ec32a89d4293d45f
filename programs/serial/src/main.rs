//! `serial`: the driver of COM1's receive side, in user space.
//!
//! rinit starts it at boot (and again with `run serial`) and hands it, on
//! channel 255 (`ulib::driver`): an IrqLine for line 4, a PortRange over
//! COM1's eight ports, read only, a channel for the line's interrupts and
//! a copy of the input channel. It binds the line to its channel, then
//! serves it for ever:
//!
//! 1. take an interrupt message (the kernel has masked the line);
//! 2. read every byte the chip holds, while its line status register says
//!    data is ready, into a ring of its own;
//! 3. acknowledge, once the chip is empty (the kernel unmasks the line);
//! 4. put the ring's bytes on the input channel, as the kernel did before
//!    drivers moved out of it (`abi::syscall::input`).
//!
//! Why empty the chip before acknowledging: the UART holds its interrupt
//! request up as long as it has data, and the PIC sees only a rising edge.
//! A byte left behind would raise no new interrupt, and nothing would ever
//! read it. Why a ring: the input channel holds 16 messages; a pasted line
//! is longer. What the channel cannot take yet waits in the ring, and the
//! driver yields and tries again, without waiting for an interrupt that
//! may never come; when the ring is full, it leaves the rest in the chip
//! (and QEMU holds back what does not fit there): nothing is lost.
//!
//! **Teaching shortcut:** the kernel prints its own messages on COM1 and
//! programmed the chip at boot; the driver's ports are read only
//! (`abi::device::KERNEL_WRITTEN_PORTS`), so it can never silence the
//! kernel, and it cannot set the chip up either. A real system gives the
//! whole chip to the driver and the kernel a console of its own.

#![no_std]
#![no_main]
#![deny(unsafe_op_in_unsafe_fn)]

use core::convert::Infallible;
use ulib::abi::CAddr;
use ulib::abi::syscall::input::Source;
use ulib::driver::{INTERRUPTS, IRQ, PORTS, Ring, put_input, receive_capabilities, wait_for_interrupt};
use ulib::syscall::{irq_acknowledge, irq_bind, port_read_byte, yield_now};
use ulib::{Error, println};

ulib::entry!(main);

// ANCHOR: registers
/// COM1's receive buffer register: the oldest byte received.
const RECEIVE_BUFFER: u16 = 0x3f8;
/// COM1's line status register; bit 0 says a byte is ready.
const LINE_STATUS: u16 = 0x3fd;
const DATA_READY: u8 = 1 << 0;
// ANCHOR_END: registers

/// The bytes read and not yet on the input channel: more than a pasted
/// line of the shell's (120 characters) and the chip's 16.
const RING_SIZE: usize = 512;

fn main(_args: &str) -> Result<(), Error> {
    receive_capabilities()?;
    irq_bind(CAddr::root(IRQ), CAddr::root(INTERRUPTS))?;
    let Err(error) = serve();
    // Revoked (or deleted) by rinit, its capabilities refuse every call.
    println!("serial: the kernel refused a call ({error}): my capabilities are gone; stopping");
    Err(error)
}

// ANCHOR: serve
/// The driver's loop: returns only with an error from the kernel (its
/// capabilities revoked, say), which ends the task.
fn serve() -> Result<Infallible, Error> {
    let mut ring = Ring::<RING_SIZE>::new();
    // Bytes may wait in the chip already, whose rising edge came before
    // the line was bound: read them as if an interrupt had come, or the
    // line, held up, would never fire again.
    let mut chip_has_data = true;
    let mut unacknowledged = false;
    loop {
        if chip_has_data {
            chip_has_data = read_chip(&mut ring)?;
        }
        if unacknowledged && !chip_has_data {
            irq_acknowledge(CAddr::root(IRQ))?;
            unacknowledged = false;
        }
        ring.drain_into(|byte| put_input(Source::Serial, byte));
        if ring.is_empty() && !chip_has_data {
            wait_for_interrupt()?;
            (unacknowledged, chip_has_data) = (true, true);
        } else {
            // The shell has not taken enough yet, or the ring was full:
            // let it run, then try again.
            yield_now()?;
        }
    }
}

/// Moves the bytes waiting in the chip into `ring`, as far as it has room.
/// Returns whether the chip still holds some.
fn read_chip(ring: &mut Ring<RING_SIZE>) -> Result<bool, Error> {
    let ports = CAddr::root(PORTS);
    while port_read_byte(ports, LINE_STATUS)? & DATA_READY != 0 {
        if ring.is_full() {
            return Ok(true);
        }
        // Not full: the push takes it.
        ring.push(port_read_byte(ports, RECEIVE_BUFFER)?);
    }
    Ok(false)
}
// ANCHOR_END: serve
