//! Where the parts of the kernel image lie, from the linker script's symbols.

/// One of the linker-script symbols; only its address means anything.
type Symbol = u8;

unsafe extern "C" {
    static __kernel_phys_start: Symbol;
    static __kernel_phys_end: Symbol;
    static __text_start: Symbol;
    static __text_end: Symbol;
    static __rodata_start: Symbol;
    static __rodata_end: Symbol;
    static __data_start: Symbol;
    static __data_end: Symbol;
    static __stack_guard: Symbol;
    static __stack_bottom: Symbol;
    static __stack_top: Symbol;
}

pub use common::memory::{KERNEL_VMA, Span};
use common::println;

macro_rules! span {
    ($start:ident, $end:ident) => {
        Span { start: core::ptr::addr_of!($start) as u64, end: core::ptr::addr_of!($end) as u64 }
    };
}

/// The whole image in physical memory, from its first byte to the end of bss.
pub fn kernel_image_physical() -> Span {
    span!(__kernel_phys_start, __kernel_phys_end)
}

/// Code: read and execute (virtual addresses).
pub fn text() -> Span {
    span!(__text_start, __text_end)
}

/// Constants: read only (virtual addresses).
pub fn rodata() -> Span {
    span!(__rodata_start, __rodata_end)
}

/// Data and bss: read and write, never execute (virtual addresses).
pub fn data() -> Span {
    span!(__data_start, __data_end)
}

/// The boot stack, as the CPU uses it (higher-half virtual addresses).
pub fn stack() -> Span {
    let physical = span!(__stack_bottom, __stack_top);
    Span { start: physical.start + KERNEL_VMA, end: physical.end + KERNEL_VMA }
}

/// The unmapped page just below the stack (higher-half virtual addresses).
pub fn stack_guard() -> Span {
    let start = core::ptr::addr_of!(__stack_guard) as u64 + KERNEL_VMA;
    Span { start, end: start + 4096 }
}

/// Prints where the kernel image and its stack lie.
pub fn print_summary() {
    let image = kernel_image_physical();
    let stack = stack();
    println!("kernel image: {:#x} - {:#x} ({} KiB)", image.start, image.end, image.len() / 1024);
    println!(
        "kernel stack: {:#x} - {:#x} ({} KiB), guard page at {:#x}",
        stack.start,
        stack.end,
        stack.len() / 1024,
        stack_guard().start
    );
}
