//! The kernel console: one text stream, two sinks. Everything printed goes
//! to COM1 (for terminals and tests) and to the VGA screen (for people),
//! when there is one: booted by UEFI firmware, the machine has no VGA text
//! screen, and the console writes to COM1 only.
//!
//! `print!` and `println!` write to it. Until [`init`] runs, output is
//! dropped: nothing is set up to carry it.

use crate::memory::boot_window;
use crate::serial::Serial;
use crate::vga::{self, Attribute, Color, TextWriter, VgaBuffer};
use core::fmt::{self, Write};
use spin::Mutex;

/// The colours of ordinary output.
pub const NORMAL: Attribute = Attribute::new(Color::LightGray, Color::Black);
/// The colours of reports of faults and panics.
pub const ALARM: Attribute = Attribute::new(Color::White, Color::Red);

// ANCHOR: console
/// The two sinks of the console (the screen only if there is one).
pub struct Console {
    serial: Serial,
    screen: Option<TextWriter<VgaBuffer>>,
}

impl Write for Console {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        for byte in text.bytes() {
            self.serial.write_byte(byte);
            if let Some(screen) = &mut self.screen {
                screen.write_byte(byte);
            }
        }
        if let Some(screen) = &mut self.screen {
            screen.update_cursor();
        }
        Ok(())
    }
}

static CONSOLE: Mutex<Option<Console>> = Mutex::new(None);
// ANCHOR_END: console

/// Sets up COM1 and clears the VGA screen, if the machine has a VGA text
/// screen (else says so on COM1). Call once, first thing.
pub fn init() {
    let vga_address = boot_window(vga::BUFFER_PHYSICAL).expect("the VGA buffer is in the first MiB");
    // SAFETY: the console owns COM1 and the VGA buffer from here on; the
    // boot page tables map physical 0xB8000 at this address, writable.
    let (serial, mut buffer) = unsafe { (Serial::com1(), VgaBuffer::new(vga_address)) };
    let screen = vga::holds_text(&mut buffer).then(|| TextWriter::new(buffer, NORMAL));
    let has_screen = screen.is_some();
    *CONSOLE.lock() = Some(Console { serial, screen });
    if !has_screen {
        crate::println!("console: no VGA text screen (as under UEFI): printing on the serial port only");
    }
}

/// Reaches the VGA text buffer at virtual address `address` from now on:
/// for a kernel that replaces the boot page tables, and with them the
/// mapping `init` used.
///
/// # Safety
/// `address` must map physical `0xB8000` writably, now and from now on.
pub unsafe fn move_vga_buffer(address: u64) {
    if let Some(console) = CONSOLE.lock().as_mut()
        && let Some(screen) = &mut console.screen
    {
        // SAFETY: the caller's promise; the console still owns the buffer.
        screen.replace_screen(unsafe { VgaBuffer::new(address) });
    }
}

/// Sets the VGA colours for what is printed from now on.
pub fn set_attribute(attribute: Attribute) {
    if let Some(console) = CONSOLE.lock().as_mut()
        && let Some(screen) = &mut console.screen
    {
        screen.set_attribute(attribute);
    }
}

/// Makes the console usable from a fault or panic report, even if the
/// failure struck while the console was locked.
///
/// The kernel runs on one CPU with interrupts off, so a held lock can only
/// mean that the code holding it has been interrupted for good: taking it
/// over cannot race with anybody.
pub fn take_over_for_report() {
    if CONSOLE.is_locked() {
        // SAFETY: see above: the holder will never run again.
        unsafe { CONSOLE.force_unlock() }
    }
    set_attribute(ALARM);
}

/// A handle for code that writes to any `fmt::Write`: writes go to the
/// console, as with `print!`.
pub struct Printer;

impl Write for Printer {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        _print(format_args!("{text}"));
        Ok(())
    }
}

// ANCHOR: kernel_channel
#[doc(hidden)]
pub fn _print(arguments: fmt::Arguments) {
    if let Some(console) = CONSOLE.lock().as_mut() {
        // Writing to the console itself cannot fail.
        let _ = console.write_fmt(arguments);
        let _ = KernelChannel.write_fmt(arguments);
    }
}

/// Prints text a task asked to print (the `Print` system call): on the
/// console like the kernel's own, never on [`KernelChannel`].
pub fn print_from_task(text: &str) {
    if let Some(console) = CONSOLE.lock().as_mut() {
        let _ = console.write_str(text);
    }
}

/// The kernel's own channel: QEMU's debug console, I/O port `0xe9`
/// (`-debugcon`; on a machine without one the writes go nowhere). Every
/// line the kernel prints goes there too, and nothing a task prints: a
/// task cannot write to an I/O port (IOPL 0, no I/O bitmap), so what the
/// tests read there as a kernel report (`KERNEL PANIC`, `EXCEPTION:`,
/// `AUDIT FAILED`) came from the kernel. The serial console stays exactly
/// as it was, task lines and all.
struct KernelChannel;

/// The debug console's port.
const KERNEL_CHANNEL_PORT: u16 = 0xe9;

impl Write for KernelChannel {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        let mut port = x86_64::instructions::port::Port::<u8>::new(KERNEL_CHANNEL_PORT);
        for byte in text.bytes() {
            // SAFETY: port 0xe9 is QEMU's debug console, or nothing; a
            // write there changes no state the kernel relies on.
            unsafe { port.write(byte) };
        }
        Ok(())
    }
}
// ANCHOR_END: kernel_channel

/// Prints to the console (serial and VGA).
#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => ($crate::console::_print(format_args!($($arg)*)));
}

/// Prints a line to the console (serial and VGA).
#[macro_export]
macro_rules! println {
    () => ($crate::print!("\n"));
    ($($arg:tt)*) => ($crate::print!("{}\n", format_args!($($arg)*)));
}
