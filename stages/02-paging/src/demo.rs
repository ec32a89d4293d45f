//! The chapter's demonstration: build an address space out of paging
//! capabilities, use it, and break every mapping rule once.

use common::println;
use stage2_paging::frames::{BootFrameAllocator, FrameSource};
use stage2_paging::paging::caps::{TableCap, TableLevel};
use stage2_paging::paging::{PML4Cap, PTCap, PagingError, PhysicalWindow, RawPageCap, Rights};
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
/// Runs the demonstration in a new address space that shares the kernel
/// half of `kernel_pml4`.
pub fn paging_capabilities(window: &PhysicalWindow, frames: &mut BootFrameAllocator, kernel_pml4: PhysFrame) {
    println!("-- paging capabilities --");
    // SAFETY: a fresh frame; the window reaches all RAM.
    let mut space = unsafe { PML4Cap::new_address_space(window, frame(frames), kernel_pml4) };
    println!("new address space: PML4 at {:#x}, kernel half shared", space.frame().start_address().as_u64());

    let mut pdpt = table(window, frames);
    let mut pd = table(window, frames);
    let mut pt = table(window, frames);
    step("map a PDPT at PML4[0]", space.map_pdpt(window, 0, &mut pdpt));
    step("map a PD at PDPT[1] (1 GiB)", pdpt.map_pd(window, 1, &mut pd));
    step("map a PT at PD[0]", pd.map_pt(window, 0, &mut pt));
    let mut page = page(window, frames);
    let rights = Rights::WRITE | Rights::USER;
    step("map a page at 0x40000000, rights rw-u", space.map(window, USER_PAGE, &mut page, rights));

    // Write through the kernel's view (the direct map) of the page's frame...
    // SAFETY: the page's frame is ours; this is its only reference now.
    let words = unsafe { window.bytes(page.frame()) }.as_mut_ptr().cast::<u64>();
    for i in 0..512 {
        // SAFETY: 512 words fill the 4096-byte frame.
        unsafe { words.add(i).write_volatile(PATTERN ^ i as u64) };
    }
    println!("wrote a pattern through the direct map at {words:p}");

    // ...and read it back through the new mapping, in the new space.
    let matching = in_address_space(&space, || {
        (0..512)
            .filter(|&i| {
                // SAFETY: the page is mapped at USER_PAGE in the active space.
                unsafe { (USER_PAGE as *const u64).add(i).read_volatile() == PATTERN ^ i as u64 }
            })
            .count()
    });
    println!("read it back through {USER_PAGE:#x} in the new address space: {matching} of 512 words match");

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

    break_every_rule(window, frames, &mut space, &mut pt, &mut page);
}
// ANCHOR_END: demo

// ANCHOR: rules
/// Tries each mapping the rules forbid, printing the error it returns.
fn break_every_rule(
    window: &PhysicalWindow,
    frames: &mut BootFrameAllocator,
    space: &mut PML4Cap,
    pt: &mut PTCap,
    page: &mut RawPageCap,
) {
    println!("-- every rule, broken on purpose --");
    let mut other = self::page(window, frames);
    let mut spare_pdpt = table(window, frames);
    let mut loose_pd = table(window, frames);
    let mut loose_pt = table(window, frames);
    let user = Rights::USER;

    refused("map a second PDPT at PML4[0]", space.map_pdpt(window, 0, &mut spare_pdpt));
    refused("map the mapped page again at 0x40002000", space.map(window, 0x4000_2000, page, user));
    refused("map a page over the one at 0x40000000", space.map(window, USER_PAGE, &mut other, user));
    refused("map a page at 0x80000000", space.map(window, 0x8000_0000, &mut other, user));
    refused("map a page at 0x40200000", space.map(window, 0x4020_0000, &mut other, user));
    refused("map a page at 0xffff800000001000", space.map(window, 0xFFFF_8000_0000_1000, &mut other, user));
    refused("map a PDPT at PML4[256]", space.map_pdpt(window, 256, &mut spare_pdpt));
    refused("map a page at 0x40000123", space.map(window, 0x4000_0123, &mut other, user));
    refused("map a page at 0x900000000000", space.map(window, 0x9000_0000_0000, &mut other, user));
    refused("map a page at PT index 512", pt.map_page(window, 512, &mut other, user));
    refused("map a PT into an unmapped PD", loose_pd.map_pt(window, 0, &mut loose_pt));
    refused("unmap a page that is not mapped", other.unmap(window));

    step("unmap the page at 0x40000000", page.unmap(window));
    step("map another page there", space.map(window, USER_PAGE, &mut other, user));
}
// ANCHOR_END: rules

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

/// A fresh frame from the boot allocator.
fn frame(frames: &mut BootFrameAllocator) -> PhysFrame {
    frames.allocate_frame().expect("the demonstration needs a few frames")
}

/// A capability to a fresh table of any level.
fn table<L: TableLevel>(window: &PhysicalWindow, frames: &mut BootFrameAllocator) -> TableCap<L> {
    // SAFETY: a fresh frame from the allocator, reached by the window.
    unsafe { TableCap::new(window, frame(frames)) }
}

/// A capability to a fresh page of RAM.
fn page(window: &PhysicalWindow, frames: &mut BootFrameAllocator) -> RawPageCap {
    // SAFETY: a fresh frame from the allocator, reached by the window.
    unsafe { RawPageCap::new(window, frame(frames)) }
}

/// Prints the outcome of a step that must succeed.
fn step(what: &str, result: Result<(), PagingError>) {
    match result {
        Ok(()) => println!("{what}: ok"),
        Err(error) => panic!("{what}: {error}"),
    }
}

/// Prints the outcome of a step that the rules must refuse.
fn refused(what: &str, result: Result<(), PagingError>) {
    match result {
        Err(error) => println!("{what}: refused: {error}"),
        Ok(()) => println!("{what}: NOT REFUSED"),
    }
}
