#![cfg(feature = "exercises")]
//! The exercises of chapter 6 (channels and the shell), as boot tests:
//! each boots `build/stage-6.iso`, types commands into the shell over the
//! serial line and checks what it printed. Each fails on the stage as
//! shipped and passes once the exercise is solved (`make grade STAGE=6`;
//! the exercises are in `exercises/stage-6.txt` and at the end of the
//! chapter).

use qemu_test::Boot;
use std::time::Duration;

const STAGE: u32 = 6;
const PROMPT: &str = "rinit> ";

/// A boot that types each of `lines` at a prompt, then `shutdown`.
fn session(lines: &[&str]) -> Boot {
    let mut boot = Boot::stage(STAGE).timeout_secs(90);
    for line in lines.iter().chain(&["shutdown"]) {
        boot = boot.type_after(PROMPT, &format!("{line}\r"));
    }
    boot
}

/// `waiting-count` (easy): `list` shows, for each channel, how many
/// messages wait in it.
#[test]
fn list_shows_the_messages_waiting() {
    session(&["list", "send raw 1", "send raw 2", "list", "start child", "echo started", "list"])
        .run()
        .expect_success()
        .expect_lines(&[
            "255: Channel, 0 messages waiting",
            "send raw 2",
            "255: Channel, 2 messages waiting",
            "Received from master: 2",
            "echo started",
            "255: Channel, 0 messages waiting",
        ]);
}

/// `take` (moderate): a system call `ChannelPoll` takes a message without
/// waiting, and the shell's `take` command uses it on channel 255.
#[test]
fn take_does_not_wait() {
    session(&["take", "echo still here", "send raw 7", "send text hi", "take", "take", "take", "echo done"])
        .run()
        .expect_success()
        .expect_lines(&[
            "take: the channel is empty",
            "still here",
            "taken: 7",
            "taken: 2 bytes: \"hi\"",
            "take: the channel is empty",
            "done",
        ])
        .expect_absent(&["unknown command"]);
}

/// The number of seconds in the `up N s` line after `after` in `output`.
fn uptime_after(output: &str, after: &str) -> u64 {
    let rest = &output[output.find(after).expect("the marker was printed")..];
    let line = rest.lines().find_map(|line| line.strip_prefix("up ")).expect("an `up N s` line");
    line.split_whitespace().next().and_then(|n| n.parse().ok()).expect("a number of seconds")
}

/// `timer-input` (hard): the kernel puts a timer message on the input
/// channel once a second; the shell counts them, and `uptime` prints the
/// count.
#[test]
fn uptime_counts_timer_messages() {
    let run = Boot::stage(STAGE)
        .timeout_secs(90)
        .type_after(PROMPT, "echo first\r")
        .type_after(PROMPT, "uptime\r")
        .type_after_from(PROMPT, |_| {
            // Three seconds pass before the next command.
            std::thread::sleep(Duration::from_secs(3));
            "echo second\r".to_string()
        })
        .type_after(PROMPT, "uptime\r")
        .type_after(PROMPT, "shutdown\r")
        .run();
    run.expect_success().expect_lines(&["echo first", "up ", "echo second", "up "]);
    let (first, second) = (uptime_after(run.text(), "echo first"), uptime_after(run.text(), "echo second"));
    assert!(second >= first + 2, "3 s later, uptime went from {first} to {second} s");
    assert!(second < 90, "{second} s is longer than the whole test");
}

// The exercises of "Faults and programs in user space", the chapter after
// this one: they change stage 6 too.

/// `run lazy`, then `shutdown` once lazy has printed its line.
fn run_lazy() -> qemu_test::Transcript {
    Boot::stage(STAGE)
        .timeout_secs(60)
        .type_after(PROMPT, "run lazy\r")
        .type_after("lazy: touched", "shutdown\r")
        .run()
}

/// `bigger-buffer` (easy): lazy's buffer is 128 pages, and the pager has
/// the memory to serve them all.
#[test]
fn lazy_touches_128_pages() {
    run_lazy()
        .expect_success()
        .expect_lines(&["lazy: touched 128 pages, the pager mapped 128"])
        .expect_absent(&["pager: task", "stopped by a fault"]);
}

/// `prefetch` (moderate): the pager maps the page after the one that
/// faulted too, so lazy takes half the faults, and lazy prints both
/// counts.
#[test]
fn the_pager_maps_two_pages_per_fault() {
    run_lazy()
        .expect_success()
        .expect_lines(&["lazy: touched 80 pages, the pager mapped 80 in 40 faults"])
        .expect_absent(&["pager: task", "stopped by a fault"]);
}

/// `read-only-first` (hard): a pager that, with `UnmapPage`,
/// maps each page read-only at the first read and writable at the first
/// write (the same page, unmapped and mapped again).
#[test]
fn the_pager_maps_read_only_first_and_writable_at_the_first_write() {
    run_lazy()
        .expect_success()
        .expect_lines(&["lazy: touched 80 pages, the pager mapped 80 read-only and made 80 writable"])
        .expect_absent(&["pager: task", "stopped by a fault"]);
}
