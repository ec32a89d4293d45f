//! Stage 4: capability pools.
//!
//! The kernel boots as in stage 3, but its objects are now managed: each
//! has a strong count and a list of the weak pointers (capabilities) that
//! name it, and is destroyed the moment its untyped lets it go. The kernel
//! builds the root capability pool that stage 5 hands to the first task,
//! and demonstrates nested pools, copy, move, delete and revoke.
//!
//! Crashes on request (`crash=NAME` on the command line, see `common/src/crash.rs`)
//! work as in stage 2.

#![no_std]
#![no_main]
#![deny(unsafe_op_in_unsafe_fn)]

mod demo;

use abi::root;
use common::crash::Crash;
use common::memory::{BOOT_WINDOW_SIZE, KERNEL_VMA};
use common::qemu::{self, ExitCode};
use common::{bootinfo, console, exceptions, gdt, println, trap};
use runtime::layout;
use stage4_cpool::kernel_space::{self, KernelImage};
use stage4_cpool::memory_plan::{MAX_RANGES, MemoryPlan, Reason};
use stage4_cpool::objects::table::KernelTables;
use stage4_cpool::objects::untyped::root_region_size;
use stage4_cpool::objects::{self, CPool, KINDS, ManagedArc, Untyped, cpool};
use stage4_cpool::paging::PhysicalWindow;
use stage4_cpool::paging::window::DIRECT_MAP_BASE;
use x86_64::PhysAddr;
use x86_64::registers::control::{Cr3, Cr3Flags};

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
    println!("Stage 4: capability pools");
    layout::print_summary();

    let selectors = gdt::init();
    trap::init(selectors.kernel_code, exceptions::handle_kernel_exception);
    exceptions::watch_stack_guard(layout::stack_guard());
    println!("GDT, TSS and IDT loaded; exceptions are caught");

    let boot = read_boot_information(multiboot_magic, boot_info_address);

    x86_64::instructions::interrupts::int3();
    println!("back from the breakpoint");

    let mut plan = boot.plan;
    let kernel_untyped = switch_to_kernel_tables(&mut plan, boot.memory_end);
    plan.trim_to_pages();
    let untypeds = untyped_capabilities(&plan);
    print_object_kinds();
    print_untyped_memory(&untypeds, &plan);

    let root_pool = root_cpool(&kernel_untyped, &untypeds);
    print_root_pool(&root_pool);
    demo::capability_pools(&root_pool);
    demo::deep_derivation_chain(&root_pool);
    demo::kernel_tables_stay(&kernel_untyped);

    if let Some(crash) = boot.crash {
        crash.trigger();
    }
    println!("stage 4 complete");
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

// ANCHOR: switch
/// Builds the kernel's own page tables from an untyped set aside for them,
/// switches CR3 to them, and moves the window onto object memory to the
/// direct map. Returns the kernel's untyped.
fn switch_to_kernel_tables(plan: &mut MemoryPlan, memory_end: u64) -> ManagedArc<Untyped> {
    let image = KernelImage {
        text: layout::text(),
        rodata: layout::rodata(),
        data: layout::data(),
        stack: layout::stack(),
    };
    // A page for each table the build needs, and one more page, whose
    // header slot the VGA page's header takes. The tables are pinned: a
    // revoke of this untyped is refused while the kernel runs.
    let tables = kernel_space::tables_needed(&image, memory_end);
    let size = root_region_size(tables + 1).next_multiple_of(PAGE);
    let span = plan
        .take(Reason::KernelPageTables, size)
        .filter(|span| span.end <= BOOT_WINDOW_SIZE)
        .expect("room for the kernel's page tables in the first GiB");
    // SAFETY: the boot tables map physical 0..1 GiB at KERNEL_VMA, and the
    // kernel's untyped lies below 1 GiB (checked above).
    let boot_window = unsafe { PhysicalWindow::new(KERNEL_VMA) };
    // SAFETY: no object exists yet; the boot window reaches the span.
    unsafe { objects::set_window(&boot_window) };
    // SAFETY: the plan just took this span out of free memory: it is ours.
    let kernel_untyped = unsafe { ManagedArc::new_root(span) }.expect("room for the untyped's pages");
    let mut source = KernelTables { untyped: &kernel_untyped };
    let space = kernel_space::build(&boot_window, &mut source, &image, memory_end)
        .unwrap_or_else(|error| panic!("cannot build the kernel's page tables: {error:?}"));

    // SAFETY: the new tables map everything the kernel touches from here on
    // (its code, data, stacks and, through the direct map, all RAM) at the
    // addresses it already uses; the VGA buffer is moved right after,
    // before anything is printed.
    unsafe { Cr3::write(space.pml4, Cr3Flags::empty()) };
    // SAFETY: the direct map now covers all RAM, the VGA buffer included.
    let window = unsafe { PhysicalWindow::new(DIRECT_MAP_BASE) };
    // SAFETY: the direct map reaches every object, at the same physical
    // address as the boot window did.
    unsafe { objects::set_window(&window) };
    // SAFETY: the direct map maps physical 0xB8000 writable.
    unsafe { console::move_vga_buffer(window.virtual_address(PhysAddr::new(0xB8000))) };

    println!("switched to the kernel's own page tables: PML4 at {:#x}", space.pml4.start_address().as_u64());
    println!(
        "  {} page tables retyped from the kernel's untyped {span}, {} children, pinned",
        space.table_frames,
        kernel_untyped.children().count()
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
    kernel_untyped
}
// ANCHOR_END: switch

/// One untyped object for each free range of the plan (each with its own
/// header and header slots at its end). The kernel holds them: they have
/// no parent.
fn untyped_capabilities(plan: &MemoryPlan) -> [Option<ManagedArc<Untyped>>; MAX_RANGES] {
    let ranges = plan.free_ranges();
    // SAFETY: the plan's free ranges are disjoint and used by nothing else;
    // each becomes one untyped; the direct map reaches them.
    core::array::from_fn(|index| ranges.get(index).and_then(|&span| unsafe { ManagedArc::new_root(span) }))
}

// ANCHOR: root_cpool
/// The root capability pool, laid out as `abi::root` says: itself, the VGA
/// page, the untyped memory. It is retyped from the first untyped.
fn root_cpool(
    kernel_untyped: &ManagedArc<Untyped>,
    untypeds: &[Option<ManagedArc<Untyped>>],
) -> ManagedArc<CPool> {
    let first = untypeds[0].as_ref().expect("at least one untyped region");
    let pool = first.retype::<CPool>().expect("room for the root pool");
    pool.slot(root::CPOOL).downgrade(&pool).expect("an empty slot");
    let vga = kernel_untyped.adopt_device_page(0xB8000).expect("room in the kernel's untyped");
    pool.slot(root::VGA).downgrade(&vga).expect("an empty slot");
    let slots = root::FIRST_UNTYPED..root::FIRST_FREE;
    for (slot, untyped) in slots.zip(untypeds.iter().flatten()) {
        pool.slot(slot).downgrade(untyped).expect("an empty slot");
    }
    if untypeds.iter().flatten().count() > usize::from(root::MAX_UNTYPED) {
        println!("warning: more untyped regions than the root pool has slots for");
    }
    pool
}
// ANCHOR_END: root_cpool

/// Prints the root pool's layout and what it holds.
fn print_root_pool(pool: &ManagedArc<CPool>) {
    println!("root capability pool layout (abi::root):");
    for (first, last, what) in root::LAYOUT {
        match first == last {
            true => println!("  {first:>3}      {what}"),
            false => println!("  {first:>3}-{last:<3}  {what}"),
        }
    }
    println!("root capability pool:");
    for (index, slot) in cpool::list(pool) {
        println!("  {index:>3}: {}", cpool::describe(slot));
    }
}

// ANCHOR: kinds_table
/// Prints the size and alignment of every kind of object this stage makes.
fn print_object_kinds() {
    println!("object kinds:        size    align");
    for ops in KINDS {
        let name = ops.kind.name();
        match ops.layout(0) {
            Ok(layout) => println!("  {name:<14} {:>8} {:>8}", layout.size, layout.align),
            Err(objects::RetypeError::InvalidSize { .. }) => {
                println!("  {name:<14} any multiple of 4096, aligned to 4096")
            }
            Err(_) => println!("  {name:<14} (not made by retype)"),
        }
    }
    println!("  every object takes a header slot; an Untyped one per page more");
}
// ANCHOR_END: kinds_table

// ANCHOR: accounting
/// Prints every untyped region, and the accounting of all usable RAM.
fn print_untyped_memory(untypeds: &[Option<ManagedArc<Untyped>>], plan: &MemoryPlan) {
    let regions = plan.free_ranges();
    for (index, (region, untyped)) in regions.iter().zip(untypeds.iter().flatten()).enumerate() {
        println!(
            "untyped {index}: {region} ({} KiB: {} KiB of memory, the rest its header slots)",
            region.len() / 1024,
            untyped.size() / 1024
        );
    }
    let total = plan.total_free();
    println!("untyped: {} KiB in {} capabilities", total / 1024, untypeds.iter().flatten().count());
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
