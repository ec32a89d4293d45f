//! Boot tests of faults handled in user space: `run lazy` with its pager,
//! twice (the pager unmaps what it mapped when it is done, so the second
//! run faults afresh), and the shell's child with and without a fault
//! channel.

use super::{PROMPT, STAGE, printed_hex};
use qemu_test::Boot;

const LAZY: &str = "lazy: touched 80 pages, the pager mapped 80";

// ANCHOR: lazy_test
/// `run lazy`: every first touch of its 80-page buffer faults to the pager,
/// which maps a page and resumes it; lazy prints both counts, exactly; it
/// runs again; the shell goes on.
#[test]
fn run_lazy_is_served_by_the_pager_and_the_shell_goes_on() {
    let run = Boot::stage(STAGE)
        .timeout_secs(90)
        .type_after(PROMPT, "run lazy\r")
        .type_after(LAZY, "run lazy\r")
        .type_after(LAZY, "echo still here\r")
        .type_after("\nstill here", "shutdown\r")
        .run();
    run.expect_success()
        .expect_lines(&[LAZY, LAZY, "echo still here", "still here", "shutting down"])
        .expect_absent(&["stopped by a fault", "pager: task", "AUDIT FAILED"]);
    // Exactly the line (after the shell's prompt, if the shell printed it
    // first: lazy runs beside the shell).
    let exact = |line: &&str| line.trim_end().strip_prefix(PROMPT).unwrap_or(line.trim_end()) == LAZY;
    if run.text().lines().filter(exact).count() != 2 {
        run.fail("lazy's line is not exactly what it should be, twice");
    }
}
// ANCHOR_END: lazy_test

// ANCHOR: lazy_beside_child_test
/// `run lazy` beside the shell's child: the pager and lazy get their
/// capabilities over a channel of their own (the loader fills their slot
/// 255), not over channel 255, where the child takes. So lazy is served
/// while the child waits on 255, and the child still receives what the
/// shell sends it afterwards. (When the pager met lazy over channel 255,
/// the shell had to refuse `run lazy` once a child existed.)
#[test]
fn run_lazy_works_beside_the_child_which_still_receives() {
    let run = Boot::stage(STAGE)
        .timeout_secs(90)
        .type_after(PROMPT, "start child\r")
        .type_after(PROMPT, "run lazy\r")
        .type_after(LAZY, "send raw 5\r")
        .type_after("Received from master: 5", "shutdown\r")
        .run();
    run.expect_success()
        .expect_lines(&["task 249: started", LAZY, "Received from master: 5", "shutting down"])
        .expect_absent(&["stopped by a fault", "pager: task", "Received from master: a capability"]);
}
// ANCHOR_END: lazy_beside_child_test

/// The shell's child, configured by hand with an instruction pointer where
/// nothing is mapped. Without a fault channel it is stopped with stage 5's
/// report; with one, it is suspended instead (nobody takes the fault from
/// channel 255), and `set active 249 0` stops it.
#[test]
fn a_task_without_a_fault_channel_is_stopped_with_its_report_and_one_with_is_suspended() {
    let configure = |boot: Boot| {
        boot.type_after(PROMPT, "retype task 2 249\r")
            .type_after_from(PROMPT, |output| {
                format!("set stack 249 {}\r", printed_hex(output, "Child stack pointer should be at: "))
            })
            .type_after(PROMPT, "set instruction 249 0x10\r")
            .type_after(PROMPT, "set cpool 249 0\r")
            .type_after(PROMPT, "set table 249 3\r")
            .type_after(PROMPT, "set buffer 249 250\r")
    };
    let run = configure(Boot::stage(STAGE).timeout_secs(90))
        .type_after(PROMPT, "set active 249 1\r")
        .type_after("stopped by a fault", "echo still here\r")
        .type_after("\nstill here", "shutdown\r")
        .run();
    run.expect_success().expect_lines(&[
        "set active 249 1",
        "stopped by a fault: page fault at rip 0x10, address 0x10",
        "still here",
        "shutting down",
    ]);

    let run = configure(Boot::stage(STAGE).timeout_secs(90))
        .type_after(PROMPT, "set fault 249 255\r")
        .type_after(PROMPT, "set active 249 1\r")
        .type_after(PROMPT, "set active 249 0\r")
        .type_after("task 249: stopped", "shutdown\r")
        .run();
    run.expect_success()
        .expect_lines(&["task 249: fault channel from slot 255", "set active 249 1", "task 249: stopped"])
        .expect_absent(&["stopped by a fault"]);
}
