//! Building a piece of address space out of capabilities: rinit retypes
//! page tables and a page out of its untyped memory and maps them into its
//! own top-level page table, then uses the page.

use abi::syscall::MapRights;
use abi::task_root::{PML4, UNTYPED};
use abi::{CAddr, ObjectKind};
use ulib::syscall::{map_page, map_table, retype};
use ulib::{Error, println};

/// Where the page goes: the first address of PML4 entry 2 (512 GiB to
/// 1 TiB), a part of the address space nothing uses yet, so that all three
/// lower table levels have to be made.
pub const DEMO_PAGE: u64 = 0x0000_0100_0000_0000;

/// The free slots rinit uses for the page and its tables.
const PDPT_SLOT: u8 = 64;
const PD_SLOT: u8 = 65;
const PT_SLOT: u8 = 66;
const PAGE_SLOT: u8 = 67;

// ANCHOR: map_a_page
/// Maps a fresh page at [`DEMO_PAGE`], writes to it and reads it back.
pub fn map_a_page() -> Result<(), Error> {
    let (untyped, pml4, page) = (CAddr::root(UNTYPED), CAddr::root(PML4), CAddr::root(PAGE_SLOT));
    retype(untyped, ObjectKind::RawPage, page, 0)?;
    println!("rinit: retyped a RawPage into slot {PAGE_SLOT}");
    // Without the tables on the way, the kernel refuses the page.
    match map_page(page, pml4, DEMO_PAGE, MapRights::WRITABLE) {
        Err(Error::MissingTable) => {
            println!("rinit: mapping it at {DEMO_PAGE:#x} first: MissingTable, as expected")
        }
        other => println!("rinit: mapping it without tables gave {other:?}, not MissingTable"),
    }
    // One table per level, from the top: each goes into the one above.
    for (kind, slot) in [(ObjectKind::Pdpt, PDPT_SLOT), (ObjectKind::Pd, PD_SLOT), (ObjectKind::Pt, PT_SLOT)]
    {
        retype(untyped, kind, CAddr::root(slot), 0)?;
        map_table(CAddr::root(slot), pml4, DEMO_PAGE)?;
        println!("rinit: retyped a {kind} into slot {slot} and mapped it for {DEMO_PAGE:#x}");
    }
    map_page(page, pml4, DEMO_PAGE, MapRights::WRITABLE)?;
    println!("rinit: mapped the page at {DEMO_PAGE:#x}, writable");
    write_and_read_back(DEMO_PAGE);
    Ok(())
}
// ANCHOR_END: map_a_page

/// Fills the page at `address` with a pattern and checks it reads back.
fn write_and_read_back(address: u64) {
    let words = core::ptr::with_exposed_provenance_mut::<u64>(address as usize);
    let pattern = |index: usize| 0x5eed_0000_0000_0000 | index as u64;
    for index in 0..512 {
        // SAFETY: the page was just mapped writable at `address`, for rinit
        // alone; volatile, because nothing in Rust's view owns it.
        unsafe { words.add(index).write_volatile(pattern(index)) };
    }
    // SAFETY: as above.
    let matching =
        (0..512).filter(|&index| unsafe { words.add(index).read_volatile() } == pattern(index)).count();
    match matching {
        512 => println!("rinit: wrote 512 words to the page and read them back: ok"),
        _ => println!("rinit: only {matching} of 512 words read back: MISMATCH"),
    }
}
