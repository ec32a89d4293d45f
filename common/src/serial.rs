//! The first serial port, COM1: the console a test harness (or a terminal,
//! through QEMU's `-serial stdio`) reads.
//!
//! The `uart_16550` crate drives the chip; this module adds the line
//! discipline a terminal expects (`\n` becomes `\r\n`).

use uart_16550::SerialPort;

/// The I/O port base of COM1.
const COM1: u16 = 0x3F8;

/// COM1, initialised: 38400 baud, 8 data bits, no parity, one stop bit.
pub struct Serial(SerialPort);

impl Serial {
    /// Initialises COM1.
    ///
    /// # Safety
    /// Nothing else may use the COM1 I/O ports while this value exists.
    pub unsafe fn com1() -> Self {
        // SAFETY: the caller gives us the ports; COM1 is at its standard base.
        let mut port = unsafe { SerialPort::new(COM1) };
        port.init();
        Self(port)
    }

    /// Sends one byte, translating `\n` to `\r\n`.
    pub fn write_byte(&mut self, byte: u8) {
        if byte == b'\n' {
            self.0.send_raw(b'\r');
        }
        self.0.send_raw(byte);
    }
}
