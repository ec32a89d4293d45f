#![cfg(feature = "exercises")]
//! Chapter 1's hidden exercise tests: the teacher's tree has them, the
//! hand-out does not (`make handout`); `make grade` and `make
//! grade-handin` run them beside the visible ones (`exercises/hidden/`).

use qemu_test::Boot;

const STAGE: u32 = 1;

/// `bad-selector`: only an error code that names a selector is decoded as
/// one: an invalid opcode has no error code, a double fault's is 0.
#[test]
fn a_fault_without_a_selector_is_not_decoded() {
    for crash in ["crash=invalid-opcode", "crash=stack-overflow"] {
        Boot::stage(STAGE)
            .command_line(crash)
            .run()
            .expect_failure()
            .expect_lines(&["EXCEPTION: "])
            .expect_absent(&["names a selector"]);
    }
}
