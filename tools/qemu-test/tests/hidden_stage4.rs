#![cfg(feature = "exercises")]
//! Chapter 4's hidden exercise tests (see `hidden_stage1.rs`).

use qemu_test::Boot;

const STAGE: u32 = 4;

/// `read-only`: the rights belong to the capability, not the object: the
/// original keeps its own, and nothing else in the stage changes.
#[test]
fn read_only_leaves_the_original_whole() {
    Boot::stage(STAGE)
        .memory_mib(1024)
        .run()
        .expect_success()
        .expect_lines(&[
            "copy 8 to 93, read-only: ok",
            "retype a RawPage from 8 into 94: ok",
            "stage 4 complete",
        ])
        .expect_absent(&["NOT REFUSED"]);
}
