//! `umip`: reads what the descriptor-table instructions show ring 3:
//! `sgdt` (the GDT's kernel address) and `smsw` (CR0's low bits). Where
//! the CPU has UMIP (user-mode instruction prevention) the kernel turns it
//! on and the first of them is a general protection fault, which stops
//! this task; elsewhere they work, and this prints what they gave (the
//! book's chapter 5 says what that gives away).

#![no_std]
#![no_main]
#![deny(unsafe_op_in_unsafe_fn)]

use ulib::hostile;
use ulib::{Error, println};

ulib::entry!(main);

fn main(_args: &str) -> Result<(), Error> {
    println!("umip: sgdt from ring 3");
    let (limit, base) = hostile::sgdt();
    println!("umip: sgdt gave the GDT at {base:#x}, limit {limit:#x}");
    println!("umip: smsw gave {:#x}", hostile::smsw());
    Ok(())
}
