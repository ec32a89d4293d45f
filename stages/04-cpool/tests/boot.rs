//! Boot tests of stage 4: boot `build/stage-4.iso` in QEMU and check what
//! the kernel prints. Run by `make test` (they need `make images` first).

use qemu_test::{Boot, check_and_report_image};

const STAGE: u32 = 4;

#[test]
fn image_is_a_multiboot2_kernel() {
    check_and_report_image(STAGE);
}

#[test]
fn builds_the_root_pool_as_the_abi_lays_it_out() {
    // Through the BIOS and GRUB, as `make run` boots; the other tests boot
    // fast, by QEMU's own loader (see qemu_test::Boot).
    Boot::stage(STAGE).through_grub().run().expect_success().expect_lines(&[
        "Stage 4: capability pools",
        "page tables retyped from the kernel's untyped",
        "  CPool              6144        8",
        "untyped: ",
        "root capability pool layout (abi::root):",
        "    0      this root capability pool",
        "    1      the VGA text buffer page",
        "    8-63   untyped memory, one capability per region",
        "   64-255  free",
        "root capability pool:",
        "    0: CPool at 0x",
        "    1: DevicePage at 0xb8000 (1 capability to it)",
        "    8: Untyped at 0x",
        "stage 4 complete",
    ]);
}

// ANCHOR: demo_test
#[test]
fn nested_pools_copy_move_delete_and_revoke() {
    Boot::stage(STAGE)
        .run()
        .expect_success()
        .expect_lines(&[
            "retype a CPool from 8 into 64: ok",
            "retype a 64 KiB untyped from 8 into 65: ok",
            "retype a CPool from 65 into 64.0: ok",
            "retype a RawPage from 65 into 64.1: ok",
            "retype a RawPage from 65 into 66: ok",
            "copy 66 to 64.2: ok",
            "move 64.2 to 64.3: ok",
            "delete 66: ok",
            "pool 64:",
            "    0: CPool at 0x",
            "    1: RawPage at 0x",
            "    3: RawPage at 0x",
            "revoke 65: ok",
            "slot 64.0 after the revoke: empty",
            "slot 64.1 after the revoke: empty",
            "slot 64.3 after the revoke: empty",
            "pool 64:",
            "  (no capabilities)",
            "retype a RawPage from 65 into 64.1 again: ok",
            "the memory of the destroyed pool 64.0",
            "revoke 8, which holds the root pool: refused: the CPool at 0x",
        ])
        .expect_absent(&["NOT REFUSED", "NOT EMPTY", "NEW MEMORY"]);
}
// ANCHOR_END: demo_test

/// The rule of what an untyped holds: a 4 KiB untyped holds one page.
#[test]
fn a_4_kib_untyped_holds_one_page() {
    Boot::stage(STAGE).run().expect_success().expect_lines(&[
        "retype a 4 KiB untyped from 8 into 67: ok",
        "retype a RawPage from 67 into 68: ok",
        "retype a second RawPage from 67 into 69: refused: out of memory: needs 4096 bytes, 0 are free",
    ]);
}

// ANCHOR: deep_chain_test
/// Revoking a chain of 10000 untypeds, each made from the one before, needs
/// no kernel stack per level: with recursion, the 128 KiB stack overflows.
#[test]
fn a_derivation_chain_10000_deep_is_revoked() {
    Boot::stage(STAGE)
        .run()
        .expect_success()
        .expect_lines(&[
            "-- a deep derivation chain --",
            "built 10000 untypeds, each made from the one before; the last is 4 KiB",
            "revoke 80, the first of them: ok",
            "slot 81, the last of them, after the revoke: empty",
            "80 after the revoke: all free",
        ])
        .expect_absent(&["NOT EMPTY", "NOT ALL FREE"]);
}
// ANCHOR_END: deep_chain_test

/// The kernel's page tables are pinned: the untyped they came from cannot
/// be revoked while the kernel runs on them.
#[test]
fn the_kernels_untyped_cannot_be_revoked() {
    Boot::stage(STAGE)
        .run()
        .expect_success()
        .expect_lines(&[
            "children, pinned",
            "-- the kernel's own page tables --",
            "revoke the kernel's untyped: refused: the P",
            "stage 4 complete",
        ])
        .expect_absent(&["revoke the kernel's untyped: NOT REFUSED"]);
}

#[test]
fn every_lookup_error_is_reported() {
    Boot::stage(STAGE).run().expect_success().expect_lines(&[
        "copy 70 to 71: refused: 70: level 1: the slot is empty",
        "copy 1.0 to 71: refused: 1.0: level 1: expected a CPool, found a DevicePage",
        "copy 64.9.0 to 71: refused: 64.9.0: level 2: the slot is empty",
        "retype from 64 into 71: refused: 64: level 1: expected an Untyped, found a CPool",
        "copy 64.1 to 64.3: refused: 64.3: the slot is not empty",
        "retype a 5000-byte untyped from 8 into 71: refused: an Untyped of 5000 bytes cannot be made",
        "retype a DevicePage from 8 into 71: refused: a DevicePage cannot be made by retype",
        "a 9-level address: refused: a capability address has 1 to 7 levels, not 9",
    ]);
}

/// The pool's own view of the moved page: one capability in 64.3 after the
/// copy, the move and the delete.
#[test]
fn copies_and_moves_are_counted_on_the_object() {
    let run = Boot::stage(STAGE).run();
    run.expect_success();
    let page_line = run.text().lines().find(|line| line.starts_with("    3: RawPage at 0x")).unwrap();
    assert!(page_line.ends_with("(1 capability to it)"), "{page_line}");
}

#[test]
fn accounting_still_adds_up_on_a_bigger_machine() {
    let run = Boot::stage(STAGE).memory_mib(512).run();
    run.expect_success();
    let usable = run.number_after("usable memory: ");
    let untyped = run.number_after("untyped: ");
    let reserved = run.number_after("reserved: ");
    assert_eq!(untyped + reserved, usable);
    assert!(untyped > 500 * 1024);
}
