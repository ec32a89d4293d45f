//! The echo loop at the far end of `make bench`'s message figures, and the
//! root slots the bench and its peers agree on.
//!
//! Two programs compile this file: `peer` (the peer in its own address
//! space) and `rinit` (whose bench starts a second task running it in its
//! own address space, by `#[path]`), so the same instructions answer in
//! both figures and only the address-space switch differs.
//!
//! The bench puts a number, the time it read just before the put, on
//! [`REQUEST`]; the echo reads the time as soon as its take returns and puts
//! the difference (the one-way time) on [`REPLY`]. A capability arrives in
//! [`RECEIVED`], is deleted, and is answered with 0. The echo answers
//! and waits for the next request in one call (`ChannelCall`), so a
//! client that calls it with `ChannelCall` too makes a whole round trip
//! on the kernel's fast path.

use ulib::abi::syscall::MessageKind;
use ulib::syscall::{channel_call, channel_take, delete};
use ulib::{CAddr, Error};

/// The channel the bench puts requests on (a slot of rinit's root pool:
/// the bench gives its peers that pool).
pub const REQUEST: u8 = 232;
/// The channel the echo puts its answers on.
pub const REPLY: u8 = 233;
/// Where a capability sent to the echo goes.
pub const RECEIVED: u8 = 234;

// ANCHOR: rdtsc
/// The time-stamp counter. Under QEMU's `-icount shift=0` it advances by
/// one per instruction executed, so a difference of two readings is an
/// instruction count (plus the cost of reading it, which the bench
/// measures and subtracts).
#[inline(always)]
pub fn rdtsc() -> u64 {
    let (low, high): (u32, u32);
    // SAFETY: `rdtsc` only reads the counter into edx:eax; user mode may
    // (CR4.TSD is clear).
    unsafe {
        core::arch::asm!("rdtsc", out("eax") low, out("edx") high, options(nomem, nostack, preserves_flags))
    };
    (u64::from(high) << 32) | u64::from(low)
}
// ANCHOR_END: rdtsc

// ANCHOR: echo
/// Answers every request on [`REQUEST`] on [`REPLY`], for ever: a number
/// with the time since the number (read as a time), a capability with 0.
/// Each answer and the wait for the next request are one system call
/// (`ChannelCall`), as a server's reply-and-wait is in L4.
pub fn echo() -> Result<(), Error> {
    let (request, reply, received) = (CAddr::root(REQUEST), CAddr::root(REPLY), CAddr::root(RECEIVED));
    let (mut kind, mut value) = channel_take(request, received)?;
    loop {
        let now = rdtsc();
        let answer = match kind {
            MessageKind::Raw => now.wrapping_sub(value),
            _ => {
                delete(received)?;
                0
            }
        };
        (kind, value) = channel_call(reply, MessageKind::Raw, answer, request, received)?;
    }
}
// ANCHOR_END: echo
