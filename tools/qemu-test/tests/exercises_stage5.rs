#![cfg(feature = "exercises")]
//! The exercises of chapter 5 (tasks and system calls), as boot tests:
//! each boots `build/stage-5.iso` (the kernel and stage 5's `rinit`) and
//! checks what the tasks print. Each fails on the stage as shipped and
//! passes once the exercise is solved (`make grade STAGE=5`; the exercises
//! are in `exercises/stage-5.txt` and at the end of the chapter).

use qemu_test::{Boot, Transcript};

const STAGE: u32 = 5;

/// Where the line `text` is in the transcript (the first such line).
fn position(run: &Transcript, text: &str) -> usize {
    run.text().lines().position(|line| line == text).unwrap_or_else(|| run.fail(&format!("no line {text:?}")))
}

/// `get-ticks` (easy): a system call `GetTicks` returns the timer ticks
/// since boot, and rinit prints them when its child has finished.
#[test]
fn rinit_reads_the_timer_ticks() {
    let run = Boot::stage(STAGE).run();
    run.expect_success().expect_lines(&[
        "rinit: the child has finished",
        "rinit: the timer has ticked ",
        "rinit: done",
    ]);
    let ticks = run.number_after("rinit: the timer has ticked ");
    // Ten numbered lines, each after a busy wait of several ticks, came
    // before; a minute of ticks would be far too many.
    assert!((5..6000).contains(&ticks), "{ticks} ticks");
}

/// `second-child` (moderate): rinit starts a second child, which counts
/// `second child: 1` to `5` while the parent and the first child count.
#[test]
fn three_tasks_take_turns() {
    let run = Boot::stage(STAGE).run();
    run.expect_success()
        .expect_lines(&["rinit: started the second child", "rinit: done"])
        .expect_absent(&["MISMATCH"]);
    let lines =
        |who: &str| -> Vec<usize> { (1..=5).map(|n| position(&run, &format!("{who}: {n}"))).collect() };
    let (parent, first, second) = (lines("parent"), lines("child"), lines("second child"));
    for counted in [&parent, &first, &second] {
        assert!(counted.windows(2).all(|pair| pair[0] < pair[1]), "each counts in order");
    }
    assert!(second[0] < parent[4] && second[0] < first[4], "the second child counted alongside the others");
    assert!(parent[0] < second[4] && first[0] < second[4], "the others counted alongside the second child");
    assert!(position(&run, "rinit: the second child has finished") > second[4]);
}

/// `priority` (hard): with `priority` on its command line, rinit gives its
/// child a higher priority than its own; the scheduler always runs the
/// highest-priority ready task, so the child counts to 5 before the parent
/// counts at all.
#[test]
fn a_higher_priority_child_runs_first() {
    let run = Boot::stage(STAGE).command_line("priority").run();
    run.expect_success()
        .expect_lines(&["rinit: the child runs at priority 1", "rinit: done"])
        .expect_absent(&["MISMATCH", "ignoring the argument"]);
    assert!(position(&run, "child: 5") < position(&run, "parent: 1"), "the child finished first");
}
