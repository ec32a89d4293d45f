//! Boot tests of `send` as a call (`rinit/src/call.rs`): the shell waits
//! for the answer of the child `start child` started, on its reply channel
//! (slot 216), so the child's line comes before the next prompt; it does
//! not wait for a stopped child; and a fault of the child, whose fault
//! channel is the reply channel, answers the wait with the shell's report.

use super::{PROMPT, STAGE, session};
use qemu_test::{Boot, Transcript};

/// The lines printed after the shell's echo of `command` (the first time
/// it was typed) up to the next prompt: `None` if there is no next prompt.
fn between_command_and_prompt<'t>(run: &'t Transcript, command: &str) -> Option<Vec<&'t str>> {
    let lines: Vec<&str> = run.text().lines().collect();
    let typed = format!("{PROMPT}{command}");
    let at = lines.iter().position(|line| *line == typed)?;
    let next = lines[at + 1..].iter().position(|line| line.starts_with(PROMPT))?;
    Some(lines[at + 1..at + 1 + next].to_vec())
}

/// Fails unless exactly `expected` came between `command` and the next
/// prompt.
fn expect_between(run: &Transcript, command: &str, expected: &[&str]) {
    match between_command_and_prompt(run, command) {
        Some(lines) if lines == expected => {}
        other => run.fail(&format!("after {command:?}, before the next prompt: {other:?}, not {expected:?}")),
    }
}

// ANCHOR: call_order_test
/// To the running child, each `send` is a call: the child's line comes
/// after the command and before the next prompt, every time, with nothing
/// else between (checked strictly, for numbers, capabilities and long
/// texts, which take the child longest to print).
#[test]
fn send_to_the_running_child_prints_its_line_before_the_next_prompt() {
    // 100 bytes: with `send text `, a line of 110 (the shell takes 120).
    let text = "a long message for the child, so that it prints for a while, and then some more words to"
        .to_string();
    let sends: Vec<(String, String)> = (1..=6)
        .map(|n| (format!("send raw {n}"), format!("Received from master: {n}")))
        .chain((1..=4).map(|n| {
            let message = format!("{n} {text}");
            let line = format!("Received from master: {} bytes: \"{message}\"", message.len());
            (format!("send text {message}"), line)
        }))
        .chain([
            ("send cap 0".to_string(), "Received from master: a capability, put in slot 248".to_string()),
            // 236 to 245 hold the ISO's ten programs: 247 is the highest empty slot below 248.
            ("send cap 2".to_string(), "Received from master: a capability, put in slot 247".to_string()),
        ])
        .collect();
    let mut lines = vec!["start child"];
    lines.extend(sends.iter().map(|(command, _)| command.as_str()));
    let run = session(&lines).run();
    run.expect_success();
    for (command, line) in &sends {
        expect_between(&run, command, &[line]);
    }
}
// ANCHOR_END: call_order_test

/// Stopped by `set active 249 0`, the child answers nothing: `send` only
/// puts, and the shell goes on. Started again, the child receives what
/// waited, and the next `send` waits for its own line again.
///
/// The child's 6 and the shell's "started" race: the child can run as soon
/// as the `TaskSet` makes it runnable, before the shell prints its answer,
/// so either may come first; both must come before the next command.
#[test]
fn send_to_the_stopped_child_does_not_hang() {
    let run = session(&[
        "start child",
        "set active 249 0",
        "send raw 6",
        "echo after",
        "set active 249 1",
        "send raw 7",
    ])
    .run();
    run.expect_success().expect_lines(&[
        "task 249: stopped",
        "send raw 6",
        "echo after",
        "after",
        "set active 249 1",
        "send raw 7",
    ]);
    run.expect_lines_between(
        "set active 249 1",
        "send raw 7",
        &["task 249: started", "Received from master: 6"],
    );
    expect_between(&run, "send raw 6", &[]);
    match between_command_and_prompt(&run, "send raw 7") {
        Some(lines) if lines.last() == Some(&"Received from master: 7") => {}
        other => run.fail(&format!("the child's 7 did not come before the prompt: {other:?}")),
    }
}

// ANCHOR: call_fault_test
/// The child made to fault for real: stopped, given a stack pointer where
/// nothing is mapped (`set stack`, a `TaskSet` on its capability), and
/// started again, it faults at its first push. The kernel suspends it and
/// puts the fault on its fault channel, the shell's reply channel; the
/// next `send` waits on that channel, and the fault answers it: the shell
/// prints the fault as the kernel's report would, stops the child and
/// goes on, and later `send`s do not wait.
#[test]
fn a_fault_of_the_child_answers_the_wait_and_the_shell_goes_on() {
    let run = Boot::stage(STAGE)
        .timeout_secs(90)
        .type_after(PROMPT, "start child\r")
        .type_after(PROMPT, "set active 249 0\r")
        .type_after(PROMPT, "set stack 249 0x1000\r")
        .type_after(PROMPT, "set active 249 1\r")
        .type_after(PROMPT, "send raw 5\r")
        .type_after(PROMPT, "send raw 6\r")
        .type_after(PROMPT, "echo still here\r")
        .type_after("\nstill here", "shutdown\r")
        .run();
    run.expect_success();
    let Some(report) = between_command_and_prompt(&run, "send raw 5") else {
        run.fail("no prompt after send raw 5");
    };
    let [report] = report[..] else { run.fail(&format!("not one line after send raw 5: {report:?}")) };
    let words = ["task 249 (the child, the kernel's task ", ") stopped by a fault: page fault at rip 0x"];
    let address = ", address 0xff8 (page not present, write, user mode)";
    if !(report.starts_with(words[0]) && report.contains(words[1]) && report.ends_with(address)) {
        run.fail(&format!("not the report of the child's fault: {report:?}"));
    }
    expect_between(&run, "send raw 6", &[]);
    run.expect_lines(&["echo still here", "still here", "shutting down"])
        .expect_absent(&["Received from master: 5", "Received from master: 6"]);
    if run.kernel_text().contains("stopped by a fault") {
        run.fail("the kernel reported the fault itself: it was not delivered to the reply channel");
    }
}
// ANCHOR_END: call_fault_test
