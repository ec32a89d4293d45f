#![cfg(feature = "exercises")]
//! Chapter 2's hidden exercise tests (see `hidden_stage1.rs`).

use qemu_test::Boot;

const STAGE: u32 = 2;

/// `translate`: the walk is right with another amount of memory too (the
/// direct map's 2 MiB pages, and a hole that is not present).
#[test]
fn translate_with_a_gigabyte() {
    Boot::stage(STAGE).memory_mib(1024).run().expect_success().expect_lines(&[
        "translate 0x40200000: PML4[0] -> PDPT[1] -> PD[1] not present",
        "translate 0x80000000: PML4[0] -> PDPT[2] not present",
        "translate 0xffff800000201000: PML4[256] -> PDPT[0] -> PD[1] -> 2 MiB page at 0x200000, address 0x201000",
        "stage 2 complete",
    ]);
}
