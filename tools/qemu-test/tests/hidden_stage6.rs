#![cfg(feature = "exercises")]
//! Chapter 6's hidden exercise tests (see `hidden_stage1.rs`).

use qemu_test::Boot;

const STAGE: u32 = 6;
const PROMPT: &str = "rinit> ";

/// `timer-input`: the timer's messages are counted, never shown, and the
/// shell goes on answering between them.
#[test]
fn timer_messages_stay_quiet() {
    let mut boot = Boot::stage(STAGE).timeout_secs(90);
    for line in ["uptime", "echo between", "uptime", "shutdown"] {
        boot = boot.type_after(PROMPT, &format!("{line}\r"));
    }
    let run = boot.run();
    run.expect_success()
        .expect_lines(&["up ", "between", "up "])
        .expect_absent(&["unknown command", "Received from master"]);
}

/// `read-only-first`: the pager's two-step mapping holds up when `lazy`
/// runs twice (the pager gives its pages back between runs, so the second
/// run faults afresh, read then write, on every page), and the shell goes
/// on answering.
#[test]
fn read_only_first_works_twice_in_a_row() {
    let pager = "pager: mapped 80 pages read-only, then 80 of them writable";
    let lazy = "lazy: touched 80 pages, the pager mapped 80";
    let run = Boot::stage(STAGE)
        .timeout_secs(120)
        .type_after(PROMPT, "run lazy\r")
        .type_after(lazy, "run lazy\r")
        .type_after(PROMPT, "echo after\r")
        .type_after("\nafter", "shutdown\r")
        .run();
    run.expect_success()
        .expect_lines(&[pager, lazy, pager, lazy, "after"])
        .expect_absent(&["stopped by a fault", "pager: task"]);
}
