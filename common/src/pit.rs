//! The programmable interval timer (8253/8254 PIT): channel 0 raises IRQ 0
//! at a steady rate, the tick that lets the kernel take the CPU back from a
//! task that never makes a system call.

use x86_64::instructions::port::Port;

/// The PIT's input clock, in Hz.
const INPUT_HZ: u32 = 1_193_182;
const CHANNEL_0: u16 = 0x40;
const COMMAND: u16 = 0x43;

/// The divisor that makes channel 0 tick `hz` times a second (clamped to
/// what its 16-bit counter can hold).
pub fn divisor_for(hz: u32) -> u16 {
    (INPUT_HZ / hz.max(1)).clamp(1, u32::from(u16::MAX)) as u16
}

// ANCHOR: start
/// Starts channel 0 ticking `hz` times a second, for ever.
pub fn start_periodic(hz: u32) {
    let divisor = divisor_for(hz);
    // SAFETY: the PIT's ports; mode 2 (rate generator) on channel 0, the
    // divisor low byte then high byte. Nothing else programs the PIT.
    unsafe {
        Port::<u8>::new(COMMAND).write(0b0011_0100);
        Port::<u8>::new(CHANNEL_0).write(divisor as u8);
        Port::<u8>::new(CHANNEL_0).write((divisor >> 8) as u8);
    }
}
// ANCHOR_END: start

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn divisors_fit_the_counter() {
        assert_eq!(divisor_for(100), 11931);
        assert_eq!(divisor_for(1), u16::MAX);
        assert_eq!(divisor_for(0), u16::MAX);
        assert_eq!(divisor_for(10_000_000), 1);
    }
}
