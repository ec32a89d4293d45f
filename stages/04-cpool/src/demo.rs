//! The chapter's demonstration: nested capability pools, copy, move and
//! delete, every lookup error, and a revoke that empties every slot naming
//! what it destroyed, after which the same memory is retyped again.

use abi::{CAddr, root};
use common::println;
use stage4_cpool::objects::cpool::{self, CapError};
use stage4_cpool::objects::{AnyObject, CPool, ManagedArc, ObjectKind};

/// The capability address `path` (which has 1 to 8 levels).
fn at(path: &[u8]) -> CAddr {
    CAddr::new(path).expect("the demonstration's addresses are well formed")
}

// The messages below name slots by number.
const _: () = assert!(root::FIRST_UNTYPED == 8 && root::FIRST_FREE == 64);

/// Where the demonstration puts things in the root pool.
const POOL: u8 = root::FIRST_FREE;
const SMALL_UNTYPED: u8 = root::FIRST_FREE + 1;
const PAGE: u8 = root::FIRST_FREE + 2;

// ANCHOR: demo
/// Runs the demonstration on the root pool `root_pool`.
pub fn capability_pools(root_pool: &ManagedArc<CPool>) {
    let first_untyped = at(&[root::FIRST_UNTYPED]);
    println!("-- capability pools --");
    step(
        "retype a CPool from 8 into 64",
        cpool::retype(root_pool, first_untyped, ObjectKind::CPool, at(&[POOL])),
    );
    let untyped = ObjectKind::Untyped { size: 64 * 1024 };
    step(
        "retype a 64 KiB untyped from 8 into 65",
        cpool::retype(root_pool, first_untyped, untyped, at(&[SMALL_UNTYPED])),
    );
    let small = at(&[SMALL_UNTYPED]);
    step(
        "retype a CPool from 65 into 64.0",
        cpool::retype(root_pool, small, ObjectKind::CPool, at(&[POOL, 0])),
    );
    step(
        "retype a RawPage from 65 into 64.1",
        cpool::retype(root_pool, small, ObjectKind::RawPage, at(&[POOL, 1])),
    );
    step(
        "retype a RawPage from 65 into 66",
        cpool::retype(root_pool, small, ObjectKind::RawPage, at(&[PAGE])),
    );
    step("copy 66 to 64.2", cpool::copy(root_pool, at(&[PAGE]), at(&[POOL, 2])));
    step("move 64.2 to 64.3", cpool::move_cap(root_pool, at(&[POOL, 2]), at(&[POOL, 3])));
    step("delete 66", cpool::delete(root_pool, at(&[PAGE])));
    list("pool 64", root_pool, at(&[POOL]));

    println!("-- every lookup error --");
    refused("copy 70 to 71", cpool::copy(root_pool, at(&[70]), at(&[71])));
    refused("copy 1.0 to 71", cpool::copy(root_pool, at(&[root::VGA, 0]), at(&[71])));
    refused("copy 64.9.0 to 71", cpool::copy(root_pool, at(&[POOL, 9, 0]), at(&[71])));
    refused("retype from 64 into 71", cpool::retype(root_pool, at(&[POOL]), ObjectKind::RawPage, at(&[71])));
    refused("copy 64.1 to 64.3", cpool::copy(root_pool, at(&[POOL, 1]), at(&[POOL, 3])));
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
        cpool::retype(root_pool, small, ObjectKind::RawPage, at(&[POOL, 1])),
    );
    let again = object_address(root_pool, at(&[POOL, 1]));
    let reused = if again == first_object { "the memory of the destroyed pool 64.0" } else { "NEW MEMORY" };
    println!("the new page is at {again:#x}: {reused}");
    refused("revoke 8, which holds the root pool", cpool::revoke(root_pool, first_untyped));
}
// ANCHOR_END: demo

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
    object.header().body()
}

/// Prints the outcome of a step that must succeed.
fn step(what: &str, result: Result<(), CapError>) {
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
