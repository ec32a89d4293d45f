//! Stage 6: channels, the full system.
//!
//! The kernel boots as in stage 5 and runs the first task, `rinit`, which
//! is now an interactive shell. Tasks send each other messages through
//! channels; a task taking from an empty channel waits, and the kernel
//! idles when no task is ready. What is typed on the serial line or the
//! PS/2 keyboard reaches the shell through the input channel.
//!
//! Crashes on request (`crash=NAME` on the command line, see
//! `common/src/crash.rs`) work as in stage 2; the rest of the command line
//! is handed to `rinit` as its arguments.

#![no_std]
#![no_main]
#![deny(unsafe_op_in_unsafe_fn)]

use common::crash::Crash;
use common::memory::{BOOT_WINDOW_SIZE, KERNEL_VMA, Span};
use common::qemu::{self, ExitCode};
use common::trap::TrapFrame;
use common::{bootinfo, console, exceptions, gdt, pic, pit, println, trap, user};
use runtime::layout;
use stage6_channels::first_task::{self, Grant, Program};
use stage6_channels::kernel_space::{self, KernelImage};
use stage6_channels::memory_plan::{MAX_RANGES, MemoryPlan, Reason};
use stage6_channels::objects::table::KernelTables;
use stage6_channels::objects::untyped::root_region_size;
use stage6_channels::objects::{self, ManagedArc, PAGE, Task, Untyped};
use stage6_channels::objects::{audit, mapping};
use stage6_channels::paging::PhysicalWindow;
use stage6_channels::paging::window::DIRECT_MAP_BASE;
use stage6_channels::{devices, scheduler};
use x86_64::PhysAddr;
use x86_64::registers::control::{Cr3, Cr3Flags};

// The runtime is not called from here, but it must be linked: it holds the
// boot stub, `memcpy` and friends, and the panic handler.
use runtime as _;

/// How often the timer takes the CPU back: every 10 ms.
const TICK_HZ: u32 = 100;
/// The name GRUB gives the first task's program (its module's command line).
const FIRST_TASK_MODULE: &str = "rinit";
/// The most other programs the first task's root pool has slots for.
const MAX_PROGRAMS: usize = abi::task_root::MAX_PROGRAMS as usize;

// ANCHOR: kmain
/// The first Rust code to run, called by the boot stub with the values GRUB
/// left in EAX and EBX.
#[unsafe(no_mangle)]
pub extern "C" fn kmain(multiboot_magic: u32, boot_info_address: u64) -> ! {
    console::init();
    println!("Stage 6: channels");
    layout::print_summary();

    let selectors = gdt::init();
    trap::init(selectors.kernel_code, handle_kernel_trap);
    user::init(&selectors);
    exceptions::watch_stack_guard(layout::stack_guard());
    println!("GDT, TSS and IDT loaded; system calls enter through syscall");

    let boot = read_boot_information(multiboot_magic, boot_info_address);
    let mut plan = boot.plan.clone();
    let kernel_untyped = switch_to_kernel_tables(&mut plan, boot.memory_end);
    plan.trim_to_pages();
    let untypeds = untyped_capabilities(&plan);
    for root in core::iter::once(&kernel_untyped).chain(untypeds.iter().flatten()) {
        audit::register_root(root);
    }
    println!(
        "untyped: {} KiB in {} capabilities",
        plan.total_free() / 1024,
        untypeds.iter().flatten().count()
    );

    let first = start_first_task(&boot, &kernel_untyped, &untypeds);
    if let Some(crash) = boot.crash {
        crash.trigger();
    }
    pic::init(&[pic::TIMER_IRQ, pic::KEYBOARD_IRQ, pic::COM1_IRQ]);
    pit::start_periodic(TICK_HZ);
    println!("timer: {TICK_HZ} ticks a second; running the first task");
    scheduler::run_forever(first)
}
// ANCHOR_END: kmain

// ANCHOR: kernel_trap
/// What the kernel does with a trap taken in ring 0 (traps from ring 3 go
/// back through `switch_to`): an interrupt, in the idle loop, is handled
/// like one from a task; an exception is a kernel bug, reported as in
/// every stage.
fn handle_kernel_trap(frame: &mut TrapFrame) {
    match frame.vector.checked_sub(user::FIRST_IRQ_VECTOR) {
        Some(line) if line < 16 => {
            devices::interrupt(line as u8);
        }
        _ => exceptions::handle_kernel_exception(frame),
    }
}
// ANCHOR_END: kernel_trap

// ANCHOR: first_task
/// Builds the first task from its module, and returns it.
fn start_first_task(
    boot: &BootFacts,
    kernel_untyped: &ManagedArc<Untyped>,
    untypeds: &[Option<ManagedArc<Untyped>>],
) -> ManagedArc<Task> {
    let Some(module) = boot.first_task_image else {
        println!("no module named \"{FIRST_TASK_MODULE}\": no first task to run");
        qemu::exit(ExitCode::Failure);
    };
    let image = module_bytes(module);
    let programs = boot.programs.each_ref().map(|program| {
        program.as_ref().map(|program| Program { name: program.name(), image: module_bytes(program.span) })
    });
    let vga = kernel_untyped.adopt_device_page(0xB8000).expect("room in the kernel's untyped").into_any();
    let devices = first_task::devices_pool(kernel_untyped).expect("room in the kernel's untyped");
    println!(
        "devices: {} objects (interrupt lines, port ranges) in the first task's slot {}",
        first_task::DEVICE_OBJECTS - 1,
        abi::task_root::DEVICES
    );
    let grant = Grant { untypeds, vga, image, programs: &programs, arguments: boot.arguments(), devices };
    match first_task::create(&grant) {
        Ok(task) => {
            println!("first task: {FIRST_TASK_MODULE} ({} KiB), task {}", module.len() / 1024, task.id());
            task
        }
        Err(error) => {
            println!("cannot start {FIRST_TASK_MODULE}: {error}");
            qemu::exit(ExitCode::Failure);
        }
    }
}
// ANCHOR_END: first_task

/// The bytes of the module GRUB loaded at `span`.
fn module_bytes(span: Span) -> &'static [u8] {
    let start = objects::window().virtual_address(PhysAddr::new(span.start)) as *const u8;
    // SAFETY: the module's memory was reserved from untyped memory at boot
    // and is reached through the direct map; nothing writes it.
    unsafe { core::slice::from_raw_parts(start, span.len() as usize) }
}

/// A module other than the first task's: another program.
struct ProgramModule {
    name: [u8; MAX_NAME],
    name_len: usize,
    span: Span,
}

/// The longest program name.
const MAX_NAME: usize = 16;

impl ProgramModule {
    fn name(&self) -> &str {
        core::str::from_utf8(&self.name[..self.name_len]).unwrap_or("?")
    }
}

/// Whether `name` can name a program: 1 to 16 of `a-z`, `0-9` and `-`
/// (the shell's `run` takes it as one word).
fn is_program_name(name: &str) -> bool {
    (1..=MAX_NAME).contains(&name.len())
        && name.bytes().all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-')
}

/// What the kernel needs from the boot information once the boot page
/// tables, through which it reads that information, are gone.
struct BootFacts {
    crash: Option<Crash>,
    plan: MemoryPlan,
    memory_end: u64,
    /// Where GRUB put the first task's program, and the other programs.
    first_task_image: Option<Span>,
    programs: [Option<ProgramModule>; MAX_PROGRAMS],
    /// The kernel command line, for the first task (cut at 256 bytes).
    command_line: [u8; 256],
    command_line_len: usize,
}

impl BootFacts {
    /// The first task's arguments: the kernel command line.
    fn arguments(&self) -> &str {
        core::str::from_utf8(&self.command_line[..self.command_line_len]).unwrap_or("")
    }
}

/// Reads and prints the boot information, and keeps what is needed later.
fn read_boot_information(magic: u32, address: u64) -> BootFacts {
    // SAFETY: these are the loader's EAX and EBX, passed on untouched by the
    // boot stub, and nothing has written to memory outside the kernel since.
    let info = unsafe { bootinfo::load(magic, address) }
        .unwrap_or_else(|error| panic!("cannot read the boot information: {error}"));
    bootinfo::write_report(&mut console::Printer, &info).expect("the console never fails");
    let command_line = info.command_line_tag().and_then(|tag| tag.cmdline().ok()).unwrap_or("");
    let mut copy = [0; 256];
    let mut len = command_line.len().min(copy.len());
    while !command_line.is_char_boundary(len) {
        len -= 1;
    }
    copy[..len].copy_from_slice(&command_line.as_bytes()[..len]);
    let span = |module: &multiboot2::ModuleTag| {
        Span::new(module.start_address().into(), module.end_address().into())
    };
    let first_task_image =
        info.module_tags().find(|module| module.cmdline() == Ok(FIRST_TASK_MODULE)).map(span);
    let mut programs = [const { None }; MAX_PROGRAMS];
    let mut count = 0;
    for module in info.module_tags().filter(|module| module.cmdline() != Ok(FIRST_TASK_MODULE)) {
        let name = module.cmdline().unwrap_or("");
        if !is_program_name(name) || count == MAX_PROGRAMS {
            println!(
                "module \"{name}\": not a program name (1 to 16 of a-z, 0-9, -) or no slot left: left out"
            );
            continue;
        }
        let mut copy = [0; MAX_NAME];
        copy[..name.len()].copy_from_slice(name.as_bytes());
        programs[count] = Some(ProgramModule { name: copy, name_len: name.len(), span: span(module) });
        count += 1;
    }
    BootFacts {
        crash: Crash::from_command_line(command_line),
        plan: MemoryPlan::from_boot_information(&info, address, layout::kernel_image_physical()),
        memory_end: bootinfo::available_ram_end(&info),
        first_task_image,
        programs,
        command_line: copy,
        command_line_len: len,
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
    // Two pages for each table the build needs (its entries and their
    // shadow), and one more page, whose header slot the VGA page's header
    // takes; then a header slot for each of the devices the first task is
    // handed and the pages they take (`first_task::devices_pool`). The
    // tables and the devices are pinned: a revoke of this untyped is
    // refused while the kernel runs.
    let tables = kernel_space::tables_needed(&image, memory_end);
    let devices = first_task::DEVICE_OBJECTS + first_task::DEVICE_PAGES;
    let size = root_region_size(2 * tables + 1 + devices).next_multiple_of(PAGE);
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
    // SAFETY: the kernel's PML4, live for ever: every address space shares
    // its kernel half.
    unsafe { mapping::set_kernel_pml4(space.pml4) };
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
/// header at its end). The kernel holds them: they have no parent.
fn untyped_capabilities(plan: &MemoryPlan) -> [Option<ManagedArc<Untyped>>; MAX_RANGES] {
    let ranges = plan.free_ranges();
    // SAFETY: the plan's free ranges are disjoint and used by nothing else;
    // each becomes one untyped; the direct map reaches them.
    core::array::from_fn(|index| ranges.get(index).and_then(|&span| unsafe { ManagedArc::new_root(span) }))
}
