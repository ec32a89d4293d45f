//! Stage 1: boot.
//!
//! GRUB loads this image and jumps to the boot stub (`common/runtime/src/
//! boot.S`), which switches to 64-bit long mode, moves to the higher half
//! and calls [`kmain`]. Here the kernel sets up its console, its segments
//! and its exception handlers, reads what GRUB tells it about the machine,
//! shows that an exception can be caught and survived, and stops.
//!
//! The kernel command line can ask for a crash, to show the fault reports:
//! `crash=page-fault`, `crash=stack-overflow`, `crash=invalid-opcode`,
//! `crash=panic`, `crash=write-read-only` and `crash=execute-data` (the last
//! two do not fault under stage 1's boot page tables; see
//! `common/src/crash.rs`). Boot with one: `make stage-1 CMDLINE="crash=panic"`.

#![no_std]
#![no_main]
#![deny(unsafe_op_in_unsafe_fn)]

use common::crash::Crash;
use common::qemu::{self, ExitCode};
use common::{bootinfo, console, exceptions, gdt, println, trap};
use runtime::layout;

// The runtime is not called from here, but it must be linked: it holds the
// boot stub, `memcpy` and friends, and the panic handler.
use runtime as _;

// ANCHOR: kmain
/// The first Rust code to run, called by the boot stub with the values GRUB
/// left in EAX and EBX.
#[unsafe(no_mangle)]
pub extern "C" fn kmain(multiboot_magic: u32, boot_info_address: u64) -> ! {
    console::init();
    println!("Stage 1: boot");
    layout::print_summary();

    let selectors = gdt::init();
    trap::init(selectors.kernel_code, exceptions::handle_kernel_exception);
    exceptions::watch_stack_guard(layout::stack_guard());
    println!("GDT, TSS and IDT loaded; exceptions are caught");

    // SAFETY: these are the loader's EAX and EBX, passed on untouched by the
    // boot stub, and nothing has written to memory outside the kernel since.
    let boot_info = unsafe { bootinfo::load(multiboot_magic, boot_info_address) }
        .unwrap_or_else(|error| panic!("cannot read the boot information: {error}"));
    bootinfo::write_report(&mut console::Printer, &boot_info).expect("the console never fails");

    x86_64::instructions::interrupts::int3();
    println!("back from the breakpoint");

    let command_line = boot_info.command_line_tag().and_then(|tag| tag.cmdline().ok());
    if let Some(crash) = command_line.and_then(Crash::from_command_line) {
        crash.trigger();
    }

    println!("stage 1 complete");
    qemu::exit(ExitCode::Success)
}
// ANCHOR_END: kmain
