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

/// The root slot of the COM2 driver's task, from rinit's boot line.
fn com2_slot(output: &str) -> String {
    let prefix = "driver com2: started (task in slot ";
    let line = output.lines().find_map(|line| line.split(prefix).nth(1)).unwrap_or("?)");
    line.split(')').next().unwrap_or("?").to_string()
}

/// `com2`: the console (COM1) works beside COM2, and stopping the COM2
/// driver stops COM2's input only: what is typed there meanwhile waits,
/// and `run com2` starts the driver again, which reads it.
#[test]
fn com2_stops_alone_and_what_waited_arrives_after_run() {
    let run = Boot::stage(STAGE)
        .timeout_secs(90)
        .type_com2_after(PROMPT, "echo first from com2\r")
        .type_after("\nfirst from com2", "echo from com1\r")
        .type_after_from("\nfrom com1", |output| format!("set active {} 0\r", com2_slot(output)))
        .type_com2_after(": stopped", "echo held\r")
        .type_after(PROMPT, "echo com1 still\r")
        .type_after("\ncom1 still", "run com2\r")
        .type_after("\nheld", "shutdown\r")
        .run();
    run.expect_success()
        .expect_lines(&[
            "first from com2",
            "from com1",
            ": stopped",
            "com1 still",
            "driver com2: started",
            "held",
        ])
        .expect_absent(&["stopped by a fault"]);
    let text = run.text();
    let stopped = text.find(": stopped").unwrap_or(0);
    let still = text[stopped..].find("\ncom1 still").map_or(text.len(), |at| stopped + at);
    assert!(!text[stopped..still].contains("held"), "COM2's line ran while its driver was stopped:\n{text}");
}
