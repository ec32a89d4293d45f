//! `lazy`: a program whose large buffer is not mapped when it starts. Each
//! first touch of one of its pages faults; the kernel suspends the task and
//! tells its fault channel, where the pager (`programs/pager`) maps a fresh
//! page and resumes it. `run lazy` sets the two up (`ulib::pager`).
//!
//! It touches every page of the buffer, checks that each arrived zeroed and
//! keeps what it wrote, then asks the pager how many pages it mapped and
//! prints exactly
//!
//! ```text
//! lazy: touched 80 pages, the pager mapped 80
//! ```

#![no_std]
#![no_main]
#![deny(unsafe_op_in_unsafe_fn)]

use ulib::abi::PAGE_SIZE;
use ulib::abi::syscall::MessageKind;
use ulib::abi::task_root::{CHANNEL, PML4};
use ulib::pager::{FAULTS, LAZY_BUFFER, LAZY_PAGES, REPLIES};
use ulib::syscall::{channel_put, channel_take, delete};
use ulib::{CAddr, Error, println};

ulib::entry!(main);

// ANCHOR: lazy_main
/// Takes its two channels, sends its address space to the pager, touches
/// every page, and prints both counts.
fn main(_args: &str) -> Result<(), Error> {
    for slot in [FAULTS, REPLIES] {
        if channel_take(CAddr::root(CHANNEL), CAddr::root(slot))?.0 != MessageKind::Capability {
            println!("lazy: start me with `run lazy` (it sets up the pager)");
            return Err(Error::NotConfigured);
        }
    }
    let (faults, replies) = (CAddr::root(FAULTS), CAddr::root(REPLIES));
    channel_put(faults, MessageKind::Capability, CAddr::root(PML4).to_raw())?;
    let touched = touch_every_page()?;
    channel_put(faults, MessageKind::Raw, touched)?;
    let (_, mapped) = channel_take(replies, CAddr::root(CHANNEL))?;
    println!("lazy: touched {touched} pages, the pager mapped {mapped}");
    delete(faults)?;
    delete(replies)?;
    Ok(())
}
// ANCHOR_END: lazy_main

/// Reads then writes one word of each page (the read faults, the write
/// then finds the page mapped), and reads them all back: the count of
/// pages touched, or an error if one did not arrive zeroed or lost what
/// was written to it.
fn touch_every_page() -> Result<u64, Error> {
    let word =
        |page: u64| core::ptr::with_exposed_provenance_mut::<u64>((LAZY_BUFFER + page * PAGE_SIZE) as usize);
    let mark = |page: u64| 0x1a2e_0000_0000 | page;
    let mut touched = 0;
    for page in 0..LAZY_PAGES {
        // SAFETY: the buffer is this program's own: no Rust object lives
        // there; until the pager maps a page the access faults, and the
        // kernel runs it again once the page is mapped.
        let before = unsafe { word(page).read_volatile() };
        if before != 0 {
            println!("lazy: page {page} was not zeroed ({before:#x})");
            return Err(Error::OutOfRange);
        }
        // SAFETY: as above; the page is mapped writable now.
        unsafe { word(page).write_volatile(mark(page)) };
        touched += 1;
    }
    for page in 0..LAZY_PAGES {
        // SAFETY: as above.
        let after = unsafe { word(page).read_volatile() };
        if after != mark(page) {
            println!("lazy: page {page} lost what was written to it ({after:#x})");
            return Err(Error::OutOfRange);
        }
    }
    Ok(touched)
}
