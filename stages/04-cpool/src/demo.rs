//! The chapter's demonstration: nested capability pools, copy, move and
//! delete, every lookup error, and a revoke that empties every slot naming
//! what it destroyed, after which the same memory is retyped again; what a
//! small untyped holds; a revoke of a derivation chain 10000 untypeds deep;
//! and the kernel's own page tables, which no revoke can take away.

use abi::{CAddr, root};
use common::println;
use stage4_cpool::objects::cpool::{self, CapError};
use stage4_cpool::objects::{AnyObject, CPool, ManagedArc, ObjectKind, PAGE, Untyped};

/// The capability address `path` (which has 1 to 8 levels).
fn at(path: &[u8]) -> CAddr {
    CAddr::new(path).expect("the demonstration's addresses are well formed")
}

// The messages below name slots by number.
const _: () = assert!(root::FIRST_UNTYPED == 8 && root::FIRST_FREE == 64);

/// Where the demonstration puts things in the root pool.
const POOL: u8 = root::FIRST_FREE;
const SMALL_UNTYPED: u8 = root::FIRST_FREE + 1;
const PAGE_SLOT: u8 = root::FIRST_FREE + 2;
const TINY_UNTYPED: u8 = root::FIRST_FREE + 3;
const CHAIN: u8 = 80;

// ANCHOR: demo
/// Runs the demonstration on the root pool `root_pool`.
pub fn capability_pools(root_pool: &ManagedArc<CPool>) {
    let first_untyped = at(&[root::FIRST_UNTYPED]);
    println!("-- capability pools --");
    step(
        "retype a CPool from 8 into 64",
        cpool::retype(root_pool, first_untyped, ObjectKind::CPool, 0, at(&[POOL])),
    );
    step(
        "retype a 64 KiB untyped from 8 into 65",
        cpool::retype(root_pool, first_untyped, ObjectKind::Untyped, 64 * 1024, at(&[SMALL_UNTYPED])),
    );
    let small = at(&[SMALL_UNTYPED]);
    step(
        "retype a CPool from 65 into 64.0",
        cpool::retype(root_pool, small, ObjectKind::CPool, 0, at(&[POOL, 0])),
    );
    step(
        "retype a RawPage from 65 into 64.1",
        cpool::retype(root_pool, small, ObjectKind::RawPage, 0, at(&[POOL, 1])),
    );
    step(
        "retype a RawPage from 65 into 66",
        cpool::retype(root_pool, small, ObjectKind::RawPage, 0, at(&[PAGE_SLOT])),
    );
    step("copy 66 to 64.2", cpool::copy(root_pool, at(&[PAGE_SLOT]), at(&[POOL, 2])));
    step("move 64.2 to 64.3", cpool::move_cap(root_pool, at(&[POOL, 2]), at(&[POOL, 3])));
    step("delete 66", cpool::delete(root_pool, at(&[PAGE_SLOT])));
    list("pool 64", root_pool, at(&[POOL]));

    println!("-- every lookup error --");
    refused("copy 70 to 71", cpool::copy(root_pool, at(&[70]), at(&[71])));
    refused("copy 1.0 to 71", cpool::copy(root_pool, at(&[root::VGA, 0]), at(&[71])));
    refused("copy 64.9.0 to 71", cpool::copy(root_pool, at(&[POOL, 9, 0]), at(&[71])));
    refused(
        "retype from 64 into 71",
        cpool::retype(root_pool, at(&[POOL]), ObjectKind::RawPage, 0, at(&[71])),
    );
    refused("copy 64.1 to 64.3", cpool::copy(root_pool, at(&[POOL, 1]), at(&[POOL, 3])));
    refused(
        "retype a 5000-byte untyped from 8 into 71",
        cpool::retype(root_pool, first_untyped, ObjectKind::Untyped, 5000, at(&[71])),
    );
    refused(
        "retype a DevicePage from 8 into 71",
        cpool::retype(root_pool, first_untyped, ObjectKind::DevicePage, 0, at(&[71])),
    );
    match CAddr::new(&[1; 9]) {
        Ok(_) => println!("a 9-level address: NOT REFUSED"),
        Err(error) => println!("a 9-level address: refused: {error}"),
    }

    println!("-- revoke --");
    let first_object = object_address(root_pool, at(&[POOL, 0]));
    step("revoke 65", cpool::revoke(root_pool, small));
    for slot in [0, 1, 3] {
        let address = at(&[POOL, slot]);
        let state = cpool::lookup(root_pool, address).map(|found| found.slot().is_empty());
        println!(
            "slot {address} after the revoke: {}",
            if state == Ok(true) { "empty" } else { "NOT EMPTY" }
        );
    }
    list("pool 64", root_pool, at(&[POOL]));
    step(
        "retype a RawPage from 65 into 64.1 again",
        cpool::retype(root_pool, small, ObjectKind::RawPage, 0, at(&[POOL, 1])),
    );
    let again = object_address(root_pool, at(&[POOL, 1]));
    let reused = if again == first_object { "the memory of the destroyed pool 64.0" } else { "NEW MEMORY" };
    println!("the new page is at {again:#x}: {reused}");
    refused("revoke 8, which holds the root pool", cpool::revoke(root_pool, first_untyped));

    println!("-- what an untyped holds --");
    let tiny = at(&[TINY_UNTYPED]);
    step(
        "retype a 4 KiB untyped from 8 into 67",
        cpool::retype(root_pool, first_untyped, ObjectKind::Untyped, PAGE, tiny),
    );
    step(
        "retype a RawPage from 67 into 68",
        cpool::retype(root_pool, tiny, ObjectKind::RawPage, 0, at(&[68])),
    );
    refused(
        "retype a second RawPage from 67 into 69",
        cpool::retype(root_pool, tiny, ObjectKind::RawPage, 0, at(&[69])),
    );
}
// ANCHOR_END: demo

// ANCHOR: deep_chain
/// Builds a chain of untypeds 10000 deep, each made from the one before
/// (with three slots: the first, the last so far, and the next), and
/// revokes the first: destroying the chain takes no stack per level.
pub fn deep_derivation_chain(root_pool: &ManagedArc<CPool>) {
    const LEVELS: u64 = 10000;
    println!("-- a deep derivation chain --");
    let (first, last, next) = (at(&[CHAIN]), at(&[CHAIN + 1]), at(&[CHAIN + 2]));
    let slot = roomiest_untyped(root_pool);
    step(
        format_args!("retype a 10000-page untyped from {slot} into 80"),
        cpool::retype(root_pool, at(&[slot]), ObjectKind::Untyped, LEVELS * PAGE, first),
    );
    step("copy 80 to 81", cpool::copy(root_pool, first, last));
    for level in 1..LEVELS {
        // Each is a page smaller than its parent: it takes a header slot
        // more than its pages.
        let size = (LEVELS - level) * PAGE;
        let made = cpool::retype(root_pool, last, ObjectKind::Untyped, size, next)
            .and_then(|()| cpool::delete(root_pool, last))
            .and_then(|()| cpool::move_cap(root_pool, next, last));
        if let Err(error) = made {
            panic!("level {level} of the chain: {error}");
        }
    }
    let deepest = cpool::lookup_object::<Untyped>(root_pool, last).map_or(0, |untyped| untyped.size());
    println!("built {LEVELS} untypeds, each made from the one before; the last is {} KiB", deepest / 1024);
    step("revoke 80, the first of them", cpool::revoke(root_pool, first));
    let emptied = cpool::lookup(root_pool, last).map(|found| found.slot().is_empty());
    println!(
        "slot 81, the last of them, after the revoke: {}",
        if emptied == Ok(true) { "empty" } else { "NOT EMPTY" }
    );
    let whole =
        cpool::lookup_object::<Untyped>(root_pool, first).map(|untyped| untyped.free() == untyped.size());
    println!("80 after the revoke: {}", if whole == Ok(true) { "all free" } else { "NOT ALL FREE" });
}
// ANCHOR_END: deep_chain

/// The slot of the root pool's untyped with the most free memory. The
/// firmware decides how RAM is split into regions: under the BIOS the
/// first untyped (slot 8) holds nearly all of it, under UEFI the first is
/// a few MiB and a later one is the large one.
fn roomiest_untyped(root_pool: &ManagedArc<CPool>) -> u8 {
    let free = |slot: u8| {
        cpool::lookup_object::<Untyped>(root_pool, at(&[slot])).map_or(0, |untyped| untyped.free())
    };
    (root::FIRST_UNTYPED..root::FIRST_FREE)
        .rev()
        .max_by_key(|&slot| free(slot))
        .unwrap_or(root::FIRST_UNTYPED)
}

// ANCHOR: kernel_tables
/// Tries to revoke the untyped the kernel's own page tables were retyped
/// from: refused, because the kernel pins them.
pub fn kernel_tables_stay(kernel_untyped: &ManagedArc<Untyped>) {
    println!("-- the kernel's own page tables --");
    refused("revoke the kernel's untyped", kernel_untyped.revoke().map_err(CapError::Revoke));
}
// ANCHOR_END: kernel_tables

/// Prints the non-empty slots of the pool at `address`.
fn list(name: &str, root_pool: &ManagedArc<CPool>, address: CAddr) {
    let pool = cpool::lookup_object::<CPool>(root_pool, address).expect("the demonstration's pool exists");
    println!("{name}:");
    let mut any = false;
    for (index, slot) in cpool::list(&pool) {
        println!("  {index:>3}: {}", cpool::describe(slot));
        any = true;
    }
    if !any {
        println!("  (no capabilities)");
    }
}

/// The physical address of the object at `address`.
fn object_address(root_pool: &ManagedArc<CPool>, address: CAddr) -> u64 {
    let object = cpool::lookup_object::<AnyObject>(root_pool, address).expect("the object exists");
    object.address()
}

/// Prints the outcome of a step that must succeed.
fn step(what: impl core::fmt::Display, result: Result<(), CapError>) {
    match result {
        Ok(()) => println!("{what}: ok"),
        Err(error) => panic!("{what}: {error}"),
    }
}

/// Prints the outcome of a step that must be refused.
fn refused(what: &str, result: Result<(), CapError>) {
    match result {
        Err(error) => println!("{what}: refused: {error}"),
        Ok(()) => println!("{what}: NOT REFUSED"),
    }
}
