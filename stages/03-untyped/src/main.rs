//! Stage 3: untyped memory.
//!
//! The kernel boots as in stage 2, but now divides all RAM into untyped
//! memory and memory reserved for a stated reason, and makes every kernel
//! object by retyping untyped memory: its own page tables first, then the
//! address space of stage 2's demonstration. The frame allocator is gone,
//! and there is still no heap.
//!
//! Crashes on request (`crash=NAME` on the command line, see `common/src/crash.rs`)
//! work as in stage 2.

#![no_std]
#![no_main]
#![deny(unsafe_op_in_unsafe_fn)]

mod demo;

use common::crash::Crash;
use common::memory::{BOOT_WINDOW_SIZE, KERNEL_VMA};
use common::qemu::{self, ExitCode};
use common::{bootinfo, console, exceptions, gdt, println, trap};
use runtime::layout;
use stage3_untyped::kernel_space::{self, KernelImage, TableSource};
use stage3_untyped::memory_plan::{MAX_RANGES, MemoryPlan, Reason};
use stage3_untyped::paging::window::DIRECT_MAP_BASE;
use stage3_untyped::paging::{Level, PhysicalWindow};
use stage3_untyped::untyped::watermark::DESCRIPTOR_SIZE;
use stage3_untyped::untyped::{ObjectKind, UntypedCap};
use x86_64::PhysAddr;
use x86_64::registers::control::{Cr3, Cr3Flags};
use x86_64::structures::paging::PhysFrame;

// The runtime is not called from here, but it must be linked: it holds the
// boot stub, `memcpy` and friends, and the panic handler.
use runtime as _;

const PAGE: u64 = 4096;

// ANCHOR: kmain
/// The first Rust code to run, called by the boot stub with the values GRUB
/// left in EAX and EBX.
#[unsafe(no_mangle)]
pub extern "C" fn kmain(multiboot_magic: u32, boot_info_address: u64) -> ! {
    console::init();
    println!("Stage 3: untyped memory");
    layout::print_summary();

    let selectors = gdt::init();
    trap::init(selectors.kernel_code, exceptions::handle_kernel_exception);
    exceptions::watch_stack_guard(layout::stack_guard());
    println!("GDT, TSS and IDT loaded; exceptions are caught");

    let boot = read_boot_information(multiboot_magic, boot_info_address);

    x86_64::instructions::interrupts::int3();
    println!("back from the breakpoint");

    let mut plan = boot.plan;
    let window = switch_to_kernel_tables(&mut plan, boot.memory_end);
    plan.trim_to_pages();
    let mut untypeds = untyped_capabilities(&plan);
    print_object_kinds();
    print_untyped_memory(&untypeds, &plan);

    let first = untypeds[0].as_mut().expect("at least one untyped region");
    demo::address_space_from_untyped(&window, first, Cr3::read().0);
    demo::run_out_on_purpose(&window, first);

    if let Some(crash) = boot.crash {
        crash.trigger();
    }
    println!("stage 3 complete");
    qemu::exit(ExitCode::Success)
}
// ANCHOR_END: kmain

/// What the kernel needs from the boot information once the boot page
/// tables, through which it reads that information, are gone.
struct BootFacts {
    crash: Option<Crash>,
    plan: MemoryPlan,
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
        plan: MemoryPlan::from_boot_information(&info, address, layout::kernel_image_physical()),
        memory_end: bootinfo::available_ram_end(&info),
    }
}

/// Tables for the kernel's address space, retyped from the kernel's own
/// untyped.
struct RetypeTables<'a> {
    untyped: &'a mut UntypedCap,
    window: &'a PhysicalWindow,
}

impl TableSource for RetypeTables<'_> {
    fn new_table(&mut self, level: Level) -> Option<PhysFrame> {
        let address = self.untyped.retype(self.window, ObjectKind::table(level)).ok()?;
        Some(PhysFrame::containing_address(PhysAddr::new(address)))
    }
}

// ANCHOR: switch
/// Builds the kernel's own page tables from an untyped set aside for them,
/// switches CR3 to them, and returns the window through which the kernel
/// now reaches physical memory.
fn switch_to_kernel_tables(plan: &mut MemoryPlan, memory_end: u64) -> PhysicalWindow {
    let image = KernelImage {
        text: layout::text(),
        rodata: layout::rodata(),
        data: layout::data(),
        stack: layout::stack(),
    };
    // Exactly the tables the build needs, and whole pages for their
    // descriptors. This untyped stays the kernel's: its children must never
    // be revoked.
    let tables = kernel_space::tables_needed(&image, memory_end);
    let size = tables * PAGE + (tables * DESCRIPTOR_SIZE).next_multiple_of(PAGE);
    let span = plan
        .take(Reason::KernelPageTables, size)
        .filter(|span| span.end <= BOOT_WINDOW_SIZE)
        .expect("room for the kernel's page tables in the first GiB");
    // SAFETY: the plan just took this span out of free memory: it is ours.
    let mut kernel_untyped = unsafe { UntypedCap::new(span) };
    // SAFETY: the boot tables map physical 0..1 GiB at KERNEL_VMA, and the
    // kernel's untyped lies below 1 GiB (checked above).
    let boot_window = unsafe { PhysicalWindow::new(KERNEL_VMA) };
    let mut source = RetypeTables { untyped: &mut kernel_untyped, window: &boot_window };
    let space = kernel_space::build(&boot_window, &mut source, &image, memory_end)
        .unwrap_or_else(|error| panic!("cannot build the kernel's page tables: {error:?}"));

    // SAFETY: the new tables map everything the kernel touches from here on
    // (its code, data, stacks and, through the direct map, all RAM) at the
    // addresses it already uses; the VGA buffer is moved right after,
    // before anything is printed.
    unsafe { Cr3::write(space.pml4, Cr3Flags::empty()) };
    // SAFETY: the direct map now covers all RAM, the VGA buffer included.
    let window = unsafe { PhysicalWindow::new(DIRECT_MAP_BASE) };
    // SAFETY: the direct map maps physical 0xB8000 writable.
    unsafe { console::move_vga_buffer(window.virtual_address(PhysAddr::new(0xB8000))) };

    println!("switched to the kernel's own page tables: PML4 at {:#x}", space.pml4.start_address().as_u64());
    println!(
        "  {} page tables retyped from the kernel's untyped {span}, {} descriptors",
        space.table_frames,
        kernel_untyped.child_count()
    );
    println!(
        "  text {} read+execute, rodata {} read-only, data+bss {} read+write, no-execute",
        image.text, image.rodata, image.data
    );
    println!("  stack {} read+write, guard page unmapped; no identity map", image.stack);
    println!(
        "  direct map: {} MiB of physical memory at {DIRECT_MAP_BASE:#x}, in 2 MiB pages",
        space.direct_map_size >> 20
    );
    window
}
// ANCHOR_END: switch

/// One untyped capability for each free range of the plan.
fn untyped_capabilities(plan: &MemoryPlan) -> [Option<UntypedCap>; MAX_RANGES] {
    let ranges = plan.free_ranges();
    // SAFETY: the plan's free ranges are disjoint and used by nothing else;
    // each becomes one capability.
    core::array::from_fn(|index| ranges.get(index).map(|&span| unsafe { UntypedCap::new(span) }))
}

// ANCHOR: kinds_table
/// Prints the size and alignment of every kind of object.
fn print_object_kinds() {
    println!("object kinds:        size    align");
    for kind in ObjectKind::FIXED {
        match kind.layout() {
            Ok((size, align)) => println!("  {:<14} {size:>8} {align:>8}", kind.name()),
            Err(_) => println!("  {:<14} (not made by retype)", kind.name()),
        }
    }
    println!("  {:<14} any multiple of 4096, aligned to 4096", "Untyped");
}
// ANCHOR_END: kinds_table

// ANCHOR: accounting
/// Prints every untyped capability, and the accounting of all usable RAM.
fn print_untyped_memory(untypeds: &[Option<UntypedCap>], plan: &MemoryPlan) {
    let capabilities = untypeds.iter().flatten();
    for (index, untyped) in capabilities.clone().enumerate() {
        println!("untyped {index}: {} ({} KiB)", untyped.span(), untyped.span().len() / 1024);
    }
    let total: u64 = capabilities.clone().map(|untyped| untyped.span().len()).sum();
    println!("untyped: {} KiB in {} capabilities", total / 1024, capabilities.count());
    println!("reserved: {} KiB", plan.total_reserved() / 1024);
    for reason in Reason::ALL {
        println!("  {}: {} bytes", reason.name(), plan.reserved(reason));
    }
    println!(
        "usable memory {} KiB = untyped {} KiB + reserved {} KiB",
        plan.usable() / 1024,
        total / 1024,
        plan.total_reserved() / 1024
    );
}
// ANCHOR_END: accounting
