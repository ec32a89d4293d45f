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
    Boot::stage(STAGE).run().expect_success().expect_lines(&[
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

#[test]
fn every_lookup_error_is_reported() {
    Boot::stage(STAGE).run().expect_success().expect_lines(&[
        "copy 70 to 71: refused: 70: the slot is empty",
        "copy 1.0 to 71: refused: 1.0: the slot at level 1 of the address holds a DevicePage, not a CPool",
        "copy 64.9.0 to 71: refused: 64.9.0: the slot at level 2 of the address is empty",
        "retype from 64 into 71: refused: 64: the slot holds a CPool of another type",
        "copy 64.1 to 64.3: refused: 64.3: the slot is not empty",
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
