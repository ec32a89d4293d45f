//! `spinner`: keeps the CPU busy for ever, making no system call after its
//! first line. Only the timer takes the CPU back from it, so the shell
//! runs only in the time slices the scheduler gives it: the boot test
//! `input_typed_while_a_task_spins_all_arrives` types a line meanwhile,
//! which must reach the shell whole.

#![no_std]
#![no_main]
#![deny(unsafe_op_in_unsafe_fn)]

use ulib::{Error, println};

ulib::entry!(main);

fn main(_args: &str) -> Result<(), Error> {
    println!("spinner: spinning for ever");
    loop {
        core::hint::spin_loop();
    }
}
