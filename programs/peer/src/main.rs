//! `peer`: the far end of `make bench`'s messages between two address
//! spaces.
//!
//! GRUB loads it beside `rinit`; the kernel makes it a task in its own
//! address space (see `programs/hello`). When rinit runs its bench
//! (`bench` on the kernel command line), it gives this task rinit's root
//! pool, so that both name the bench's channels with the same slots, and
//! starts it. It then echoes what the bench sends ([`echo::echo`]) until
//! the bench stops it. Started any other way (`run peer` in the
//! shell), its take finds no channel, and it ends with that error.

#![no_std]
#![no_main]
#![deny(unsafe_op_in_unsafe_fn)]

mod echo;

ulib::entry!(main);

/// Echoes the bench's requests.
fn main(_args: &str) -> Result<(), ulib::Error> {
    echo::echo()
}
