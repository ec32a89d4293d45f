//! `keyboard`: the driver of the PS/2 keyboard, in user space.
//!
//! rinit starts it at boot (and again with `run keyboard`) and hands it,
//! on channel 255 (`ulib::driver`): an IrqLine for line 1, a PortRange
//! over the PS/2 controller's data port (0x60), a channel for the line's
//! interrupts and a copy of the input channel. It binds the line to its
//! channel, then for each interrupt reads the one scancode waiting at
//! port 0x60, acknowledges (the kernel unmasks the line) and puts the
//! scancode on the input channel, undecoded: decoding is the shell's
//! business (`rinit::input`).
//!
//! A scancode must be read when it comes (the controller holds one byte),
//! so one that finds the input channel full is dropped and counted; the
//! driver says how many when the channel takes one again. Lost keys are
//! never a crash. (The controller's status and command port, 0x64, stays
//! the kernel's, which resets the machine through it.)

#![no_std]
#![no_main]
#![deny(unsafe_op_in_unsafe_fn)]

use core::convert::Infallible;
use ulib::abi::CAddr;
use ulib::abi::syscall::input::Source;
use ulib::driver::{INTERRUPTS, IRQ, PORTS, put_input, receive_capabilities, wait_for_interrupt};
use ulib::syscall::{irq_acknowledge, irq_bind, port_read_byte};
use ulib::{Error, println};

ulib::entry!(main);

/// The PS/2 controller's data port, where a scancode waits.
const DATA: u16 = 0x60;

fn main(_args: &str) -> Result<(), Error> {
    receive_capabilities()?;
    let (irq, ports) = (CAddr::root(IRQ), CAddr::root(PORTS));
    // A scancode typed while no driver ran holds the controller's
    // interrupt request up, and the PIC, which sees only a rising edge,
    // would never see the next one: read it (it is stale) before binding.
    port_read_byte(ports, DATA)?;
    irq_bind(irq, CAddr::root(INTERRUPTS))?;
    let Err(error) = serve(irq, ports);
    // Revoked (or deleted) by rinit, its capabilities refuse every call.
    println!("keyboard: the kernel refused a call ({error}): my capabilities are gone; stopping");
    Err(error)
}

// ANCHOR: serve
/// The driver's loop: returns only with an error from the kernel (its
/// capabilities revoked, say), which ends the task.
fn serve(irq: CAddr, ports: CAddr) -> Result<Infallible, Error> {
    let (mut lost, mut lost_in_all) = (0u64, 0u64);
    loop {
        wait_for_interrupt()?;
        let scancode = port_read_byte(ports, DATA)?;
        irq_acknowledge(irq)?;
        match put_input(Source::Keyboard, scancode) {
            Ok(()) if lost > 0 => {
                println!("keyboard: {lost} scancodes lost to a full input channel ({lost_in_all} in all)");
                lost = 0;
            }
            Ok(()) => {}
            Err(Error::ChannelFull) => (lost, lost_in_all) = (lost + 1, lost_in_all + 1),
            Err(error) => return Err(error),
        }
    }
}
// ANCHOR_END: serve
