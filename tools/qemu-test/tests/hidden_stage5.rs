#![cfg(feature = "exercises")]
//! Chapter 5's hidden exercise tests (see `hidden_stage1.rs`).

use qemu_test::{Boot, Transcript};

const STAGE: u32 = 5;

fn position(run: &Transcript, text: &str) -> usize {
    run.text().lines().position(|line| line == text).unwrap_or_else(|| run.fail(&format!("no line {text:?}")))
}

/// `priority`: tasks of the same priority still take turns (without
/// `priority` on the command line, the parent and the child interleave).
#[test]
fn equal_priorities_take_turns() {
    let run = Boot::stage(STAGE).run();
    run.expect_success().expect_lines(&["rinit: done"]).expect_absent(&["MISMATCH", "runs at priority"]);
    assert!(
        position(&run, "child: 1") < position(&run, "parent: 5"),
        "the child ran while the parent counted"
    );
    assert!(
        position(&run, "parent: 1") < position(&run, "child: 5"),
        "the parent ran while the child counted"
    );
}
