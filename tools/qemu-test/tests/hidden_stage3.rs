#![cfg(feature = "exercises")]
//! Chapter 3's hidden exercise tests (see `hidden_stage1.rs`).

use qemu_test::Boot;

const STAGE: u32 = 3;

/// `retype-many`: all or nothing with another memory size too.
#[test]
fn retype_many_with_half_a_gigabyte() {
    let run = Boot::stage(STAGE).memory_mib(512).run();
    run.expect_success().expect_lines(&[
        "retype 3 RawPage at once: refused: out of memory",
        "retype 2 RawPage at once: objects at 0x",
        "stage 3 complete",
    ]);
    let refused = run.text().lines().find(|line| line.starts_with("retype 3 RawPage at once: ")).unwrap();
    assert!(refused.ends_with("; 0 children"), "the refused request made no object: {refused:?}");
}
