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
