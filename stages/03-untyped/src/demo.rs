//! The chapter's demonstration: build stage 2's address space again, this
//! time entirely from retyped objects, then run an untyped dry on purpose.

use common::println;
use stage3_untyped::paging::caps::{TableCap, TableLevel};
use stage3_untyped::paging::{PML4Cap, PagingError, PhysicalWindow, RawPageCap, Rights};
use stage3_untyped::untyped::{ObjectKind, RetypeError, UntypedCap};
use x86_64::PhysAddr;
use x86_64::registers::control::{Cr3, Cr3Flags};
use x86_64::structures::paging::PhysFrame;

/// Where the demonstration maps its page of RAM.
const USER_PAGE: u64 = 0x4000_0000;
/// Where it maps the VGA text buffer.
const USER_VGA: u64 = 0x4000_1000;
/// The value of word `i` of the page is `PATTERN ^ i`.
const PATTERN: u64 = 0x5AFE_C0DE_0000_0000;
/// What the demonstration writes on the screen through its VGA mapping.
const GREETING: &[u8] = b"written through a page capability";

// ANCHOR: demo
/// Builds an address space from objects retyped out of `untyped`, sharing
/// the kernel half of `kernel_pml4`, and uses it.
pub fn address_space_from_untyped(window: &PhysicalWindow, untyped: &mut UntypedCap, kernel_pml4: PhysFrame) {
    println!("-- stage 2's address space, retyped from untyped {} --", untyped.span());
    let pml4_frame = logged(untyped, ObjectKind::Pml4, |u| u.retype(window, ObjectKind::Pml4));
    // SAFETY: retype just made this zeroed frame, and nothing else has it.
    let mut space = unsafe {
        PML4Cap::new_address_space(
            window,
            PhysFrame::containing_address(PhysAddr::new(pml4_frame)),
            kernel_pml4,
        )
    };
    let mut pdpt = table(window, untyped);
    let mut pd = table(window, untyped);
    let mut pt = table(window, untyped);
    let mut page = logged(untyped, ObjectKind::RawPage, |u| u.retype_page(window));
    step("map the PDPT at PML4[0]", space.map_pdpt(window, 0, &mut pdpt));
    step("map the PD at PDPT[1] (1 GiB)", pdpt.map_pd(window, 1, &mut pd));
    step("map the PT at PD[0]", pd.map_pt(window, 0, &mut pt));
    let rights = Rights::WRITE | Rights::USER;
    step("map the page at 0x40000000, rights rw-u", space.map(window, USER_PAGE, &mut page, rights));

    // Write through the kernel's view (the direct map) of the page's frame...
    // SAFETY: the page's frame is ours; this is its only reference now.
    let words = unsafe { window.bytes(page.frame()) }.as_mut_ptr().cast::<u64>();
    for i in 0..512 {
        // SAFETY: 512 words fill the 4096-byte frame.
        unsafe { words.add(i).write_volatile(PATTERN ^ i as u64) };
    }
    // ...and read it back through the new mapping, in the new space.
    let matching = in_address_space(&space, || {
        (0..512)
            .filter(|&i| {
                // SAFETY: the page is mapped at USER_PAGE in the active space.
                unsafe { (USER_PAGE as *const u64).add(i).read_volatile() == PATTERN ^ i as u64 }
            })
            .count()
    });
    println!(
        "read the pattern back through {USER_PAGE:#x} in the new address space: {matching} of 512 words match"
    );

    // SAFETY: physical 0xB8000 is the VGA text buffer, device memory.
    let mut vga = unsafe { RawPageCap::device(PhysFrame::containing_address(PhysAddr::new(0xB8000))) };
    step("map the VGA text buffer at 0x40001000, rights rw-u", space.map(window, USER_VGA, &mut vga, rights));
    let screen_row = 24 * 80;
    in_address_space(&space, || {
        for (column, &byte) in GREETING.iter().enumerate() {
            let cell = (USER_VGA as *mut u16).wrapping_add(screen_row + column);
            // SAFETY: the VGA page is mapped at USER_VGA in the active space,
            // and the row lies inside it.
            unsafe { cell.write_volatile(0x2f00 | u16::from(byte)) };
        }
    });
    let on_screen = read_screen(window, screen_row);
    let on_screen = core::str::from_utf8(&on_screen).unwrap_or("(not text)");
    println!(
        "wrote to the screen through {USER_VGA:#x}; the direct map's view of 0xb8000 reads \"{on_screen}\""
    );

    println!("derivation list of untyped {} (newest first):", untyped.span());
    for child in untyped.children(window) {
        println!("  {} at {:#x}, {} bytes", child.kind.name(), child.address, child.size);
    }
}
// ANCHOR_END: demo

// ANCHOR: run_out
/// Carves a small untyped and retypes from it until it is full, then shows
/// that the failures changed nothing.
pub fn run_out_on_purpose(window: &PhysicalWindow, untyped: &mut UntypedCap) {
    println!("-- running an untyped dry on purpose --");
    let size = 3 * 4096;
    let mut small = logged(untyped, ObjectKind::Untyped { size }, |u| u.retype_untyped(window, size));
    println!("small untyped {}: {} bytes free", small.span(), small.free());
    for _ in 0..3 {
        let _ = try_logged(&mut small, ObjectKind::RawPage, |u| u.retype_page(window));
    }
    let _ = try_logged(&mut small, ObjectKind::DevicePage, |u| u.retype(window, ObjectKind::DevicePage));
    let _ = try_logged(&mut small, ObjectKind::Untyped { size: 1000 }, |u| u.retype_untyped(window, 1000));
    println!("small untyped: {} children, {} bytes free", small.child_count(), small.free());
}
// ANCHOR_END: run_out

/// Runs `retype` on `untyped` and prints the object's address and how the
/// watermark moved, or the error and that it did not move.
fn try_logged<T>(
    untyped: &mut UntypedCap,
    kind: ObjectKind,
    retype: impl FnOnce(&mut UntypedCap) -> Result<T, RetypeError>,
) -> Result<T, RetypeError> {
    let before = untyped.watermark();
    let result = retype(untyped);
    let after = untyped.watermark();
    match (&result, kind.layout()) {
        (Ok(_), Ok((size, _))) => {
            println!(
                "retype {}: object at {:#x}, watermark {before:#x} -> {after:#x}",
                kind.name(),
                after - size
            )
        }
        (Ok(_), Err(_)) => println!("retype {}: NOT REFUSED", kind.name()),
        (Err(error), _) => println!("retype {}: refused: {error}; watermark stays {after:#x}", kind.name()),
    }
    result
}

/// As [`try_logged`], for a retype that must succeed.
fn logged<T>(
    untyped: &mut UntypedCap,
    kind: ObjectKind,
    retype: impl FnOnce(&mut UntypedCap) -> Result<T, RetypeError>,
) -> T {
    try_logged(untyped, kind, retype).unwrap_or_else(|error| panic!("retype {}: {error}", kind.name()))
}

/// A capability to a page table retyped from `untyped`.
fn table<L: TableLevel>(window: &PhysicalWindow, untyped: &mut UntypedCap) -> TableCap<L> {
    logged(untyped, ObjectKind::table(L::LEVEL), |u| u.retype_table(window))
}

/// Runs `work` with `space` as the active address space, then switches back.
fn in_address_space<T>(space: &PML4Cap, work: impl FnOnce() -> T) -> T {
    let (kernel, flags) = Cr3::read();
    // SAFETY: `space` shares the kernel half, so the kernel's code, data and
    // stack stay mapped across the switch.
    unsafe { Cr3::write(space.frame(), Cr3Flags::empty()) };
    let result = work();
    // SAFETY: back to the tables that were active before.
    unsafe { Cr3::write(kernel, flags) };
    result
}

/// The characters of `GREETING.len()` screen cells from cell `first`
/// (row-major), read through the direct map.
fn read_screen(window: &PhysicalWindow, first: usize) -> [u8; GREETING.len()] {
    let cells = window.virtual_address(PhysAddr::new(0xB8000)) as *const u16;
    core::array::from_fn(|i| {
        // SAFETY: the direct map reaches the VGA buffer; the cell is on screen.
        unsafe { cells.add(first + i).read_volatile() as u8 }
    })
}

/// Prints the outcome of a step that must succeed.
fn step(what: &str, result: Result<(), PagingError>) {
    match result {
        Ok(()) => println!("{what}: ok"),
        Err(error) => panic!("{what}: {error}"),
    }
}
