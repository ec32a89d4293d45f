//! Stage 2: paging capabilities.
//!
//! The kernel boots as in stage 1, then builds page tables of its own (the
//! kernel image mapped with the right permissions, a direct map of physical
//! memory), switches to them, and shows page tables as typed capabilities:
//! it builds a fresh address space from `PML4Cap`, `PDPTCap`, `PDCap`,
//! `PTCap` and `RawPageCap`, uses it, and breaks every mapping rule once to
//! show the error each returns.
//!
//! Crashes on request (`crash=NAME` on the command line, see `common/src/crash.rs`)
//! now include writing to a read-only page and executing a data page.

#![no_std]
#![no_main]
#![deny(unsafe_op_in_unsafe_fn)]

mod demo;

use common::crash::Crash;
use common::memory::{KERNEL_VMA, Span};
use common::qemu::{self, ExitCode};
use common::{bootinfo, console, exceptions, gdt, println, trap};
use multiboot2::BootInformation;
use runtime::layout;
use stage2_paging::frames::BootFrameAllocator;
use stage2_paging::kernel_space::{self, KernelImage};
use stage2_paging::paging::PhysicalWindow;
use stage2_paging::paging::window::DIRECT_MAP_BASE;
use x86_64::registers::control::{Cr3, Cr3Flags};

// The runtime is not called from here, but it must be linked: it holds the
// boot stub, `memcpy` and friends, and the panic handler.
use runtime as _;

// ANCHOR: kmain
/// The first Rust code to run, called by the boot stub with the values GRUB
/// left in EAX and EBX.
#[unsafe(no_mangle)]
pub extern "C" fn kmain(multiboot_magic: u32, boot_info_address: u64) -> ! {
    console::init();
    println!("Stage 2: paging capabilities");
    layout::print_summary();

    let selectors = gdt::init();
    trap::init(selectors.kernel_code, exceptions::handle_kernel_exception);
    exceptions::watch_stack_guard(layout::stack_guard());
    println!("GDT, TSS and IDT loaded; exceptions are caught");

    let boot = read_boot_information(multiboot_magic, boot_info_address);

    x86_64::instructions::interrupts::int3();
    println!("back from the breakpoint");

    let mut frames = boot.frames;
    let window = switch_to_kernel_tables(&mut frames, boot.memory_end);
    demo::paging_capabilities(&window, &mut frames, Cr3::read().0);
    println!("boot frame allocator: {} frames handed out", frames.allocated());

    if let Some(crash) = boot.crash {
        crash.trigger();
    }
    println!("stage 2 complete");
    qemu::exit(ExitCode::Success)
}
// ANCHOR_END: kmain

/// What the kernel needs from the boot information once the boot page
/// tables, through which it reads that information, are gone.
struct BootFacts {
    crash: Option<Crash>,
    frames: BootFrameAllocator,
    memory_end: u64,
}

/// Reads and prints the boot information, and keeps what is needed later.
fn read_boot_information(magic: u32, address: u64) -> BootFacts {
    // SAFETY: these are the loader's EAX and EBX, passed on untouched by the
    // boot stub, and nothing has written to memory outside the kernel since.
    let info = unsafe { bootinfo::load(magic, address) }
        .unwrap_or_else(|error| panic!("cannot read the boot information: {error}"));
    bootinfo::write_report(&mut console::Printer, &info).expect("the console never fails");
    let command_line = info.command_line_tag().and_then(|tag| tag.cmdline().ok());
    BootFacts {
        crash: command_line.and_then(Crash::from_command_line),
        frames: boot_frame_allocator(&info, address),
        memory_end: bootinfo::available_ram_end(&info),
    }
}

// ANCHOR: frames
/// The temporary frame allocator of this stage, over the available RAM,
/// minus what must survive: the kernel image, the boot information and
/// the modules. (It never hands out the first MiB either.)
fn boot_frame_allocator(info: &BootInformation, info_address: u64) -> BootFrameAllocator {
    let mut frames = BootFrameAllocator::new();
    for region in bootinfo::available_regions(bootinfo::memory_areas(info)) {
        if frames.add_available(region).is_err() {
            println!("warning: too many memory regions; ignoring {region}");
        }
    }
    let info_size = (info.end_address() - info.start_address()) as u64;
    let modules = info
        .module_tags()
        .map(|module| Span::new(module.start_address().into(), module.end_address().into()));
    let reserved = [layout::kernel_image_physical(), Span::new(info_address, info_address + info_size)];
    for span in reserved.into_iter().chain(modules) {
        frames.reserve(span).expect("room for the kernel, the boot information and the modules");
    }
    frames
}
// ANCHOR_END: frames

// ANCHOR: switch
/// Builds the kernel's own page tables, switches CR3 to them, and returns
/// the window through which the kernel now reaches physical memory.
fn switch_to_kernel_tables(frames: &mut BootFrameAllocator, memory_end: u64) -> PhysicalWindow {
    let image = KernelImage {
        text: layout::text(),
        rodata: layout::rodata(),
        data: layout::data(),
        stack: layout::stack(),
    };
    // SAFETY: the boot tables map physical 0..1 GiB at KERNEL_VMA, and the
    // allocator hands out the lowest frames first: the few the tables need
    // lie just above the kernel image, far below 1 GiB.
    let boot_window = unsafe { PhysicalWindow::new(KERNEL_VMA) };
    let space = kernel_space::build(&boot_window, frames, &image, memory_end)
        .unwrap_or_else(|error| panic!("cannot build the kernel's page tables: {error:?}"));

    // SAFETY: the new tables map everything the kernel touches from here on
    // (its code, data, stacks and, through the direct map, all RAM) at the
    // addresses it already uses; the VGA buffer is moved right after,
    // before anything is printed.
    unsafe { Cr3::write(space.pml4, Cr3Flags::empty()) };
    // SAFETY: the direct map now covers all RAM, the VGA buffer included.
    let window = unsafe { PhysicalWindow::new(DIRECT_MAP_BASE) };
    // SAFETY: the direct map maps physical 0xB8000 writable.
    unsafe { console::move_vga_buffer(window.virtual_address(x86_64::PhysAddr::new(0xB8000))) };

    println!("switched to the kernel's own page tables: PML4 at {:#x}", space.pml4.start_address().as_u64());
    println!(
        "  text {} read+execute, rodata {} read-only, data+bss {} read+write, no-execute",
        image.text, image.rodata, image.data
    );
    println!("  stack {} read+write, guard page unmapped; no identity map", image.stack);
    println!(
        "  direct map: {} MiB of physical memory at {DIRECT_MAP_BASE:#x}, in 2 MiB pages; {} table frames",
        space.direct_map_size >> 20,
        space.table_frames
    );
    window
}
// ANCHOR_END: switch
