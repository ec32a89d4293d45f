//! What every stage of the kernel uses unchanged.
//!
//! - [`console`]: `print!`/`println!` to COM1 ([`serial`]) and the VGA text
//!   screen ([`vga`]) at once;
//! - [`bootinfo`]: the Multiboot2 boot information GRUB hands over;
//!   [`multiboot1`]: QEMU's Multiboot 1 information, rewritten as Multiboot2;
//! - [`gdt`] and [`trap`]: segments, interrupt stacks and the interrupt
//!   table; [`exceptions`]: reports of CPU exceptions;
//! - [`panic`] and [`qemu`]: reporting failures and stopping the machine;
//!   [`crash`]: failing on purpose, to show the reports;
//! - [`memory`]: the higher-half layout and address ranges;
//!   [`memory_map`]: the firmware's memory map, sanitised;
//!   [`memory_plan`]: the division of RAM into untyped memory and reserved
//!   memory (stage 3 on); [`watermark`]: what still fits in an untyped
//!   (stage 4 on);
//! - [`paging`]: levels, indices, rights and the window onto tables;
//!   [`kernel_space`]: the kernel's own address space (both stage 3 on);
//! - [`elf`]: checking and loading a user program's ELF file;
//! - [`user`]: entering user mode and coming back (`switch_to`), system
//!   calls; [`pic`] and [`pit`]: hardware interrupts and the timer tick.
//!
//! Everything here builds for the host too, so its logic has unit tests
//! (`cargo test -p common`). What may only exist in a kernel image (the boot
//! stub, `memcpy`, the panic handler) is in the `runtime` crate beside it.

#![cfg_attr(not(test), no_std)]
#![deny(unsafe_op_in_unsafe_fn)]

pub mod bootinfo;
pub mod console;
pub mod crash;
pub mod elf;
pub mod exceptions;
pub mod gdt;
pub mod kernel_space;
pub mod memory;
pub mod memory_map;
pub mod memory_plan;
pub mod multiboot1;
pub mod paging;
pub mod panic;
pub mod pic;
pub mod pit;
pub mod qemu;
pub mod serial;
pub mod trap;
pub mod user;
pub mod vga;
pub mod watermark;
