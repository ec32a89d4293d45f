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
// this one: they change stage 6 too. Each adds a line of its own (a shell
// command, or the pager's own line), so that their solutions combine.

/// `resume` (easy): a shell command `resume <task>` makes the system call
/// `TaskResume`. The child, configured by hand to start where nothing is
/// mapped and with channel 255 as its fault channel, is suspended at once;
/// each resume runs the faulting instruction again, which faults again,
/// until the kernel calls it a storm and stops it.
#[test]
fn resume_runs_a_suspended_task_again_until_the_storm() {
    let mut lines = vec![
        "retype task 2 249",
        "set instruction 249 0x10",
        "set cpool 249 0",
        "set table 249 3",
        "resume 249",
    ];
    lines.extend(["set fault 249 255", "set active 249 1"]);
    // The storm is the eighth fault in a row: seven resumes, and a few more
    // that find the task stopped.
    lines.extend(["resume 249"; 10]);
    lines.push("echo still here");
    session(&lines)
        .run()
        .expect_success()
        .expect_lines(&[
            "resume: the task is not suspended by a fault",
            "task 249: fault channel from slot 255",
            "task 249: resumed",
            "task 249: resumed",
            "the fault was not sent to a handler: a fault storm",
            "resume: the task is not suspended by a fault",
            "still here",
        ])
        .expect_absent(&["unknown command"]);
}

/// `supervise` (moderate): `supervise <name>` starts a program with the
/// shell's input channel as its fault channel; the shell reports the
/// program's fault in a line of its own, instead of the kernel's report,
/// and stops it; `run` then starts it again from its beginning (the kernel
/// sets a task stopped while suspended back to its start), and its next
/// fault comes to the shell too. `hostile` faults (an x87 error, vector
/// 16) on every run but its first.
#[test]
fn supervise_reports_a_fault_and_run_starts_the_program_afresh() {
    let run = Boot::stage(STAGE)
        .timeout_secs(30)
        .type_after(PROMPT, "run hostile\r")
        .type_after("hostile: left 0x1b", "supervise hostile\r")
        .type_after("stopped it", "run hostile\r")
        .type_after("stopped it", "echo still here\r")
        .type_after("\nstill here", "shutdown\r")
        .run();
    run.expect_success()
        .expect_lines(&[
            "hostile: left 0x1b",
            "supervise: started hostile (task in slot ",
            "hostile: run 2: ",
            "hostile: committing an x87 divide by zero",
            "supervise: hostile faulted (vector 16 at rip 0x",
            "run: started hostile",
            "hostile: run 3: ",
            "hostile: committing an x87 divide by zero",
            "supervise: hostile faulted (vector 16 at rip 0x",
            "still here",
        ])
        .expect_absent(&["stopped by a fault", "MISMATCH", "unknown command"]);
}

/// `run lazy`, then `shutdown` once lazy has printed its line.
fn run_lazy() -> qemu_test::Transcript {
    Boot::stage(STAGE)
        .timeout_secs(60)
        .type_after(PROMPT, "run lazy\r")
        .type_after("lazy: touched", "shutdown\r")
        .run()
}

/// `read-only-first` (hard): a pager that, with `UnmapPage`, maps each
/// page read-only at the first read and writable at the first write (the
/// same page, unmapped and mapped again), and says so in a line of its own
/// before lazy prints its counts.
#[test]
fn the_pager_maps_read_only_first_and_writable_at_the_first_write() {
    run_lazy()
        .expect_success()
        .expect_lines(&[
            "pager: mapped 80 pages read-only, then 80 of them writable",
            "lazy: touched 80 pages, the pager mapped 80",
        ])
        .expect_absent(&["pager: task", "stopped by a fault"]);
}

// The exercises of "Drivers in user space": stage 6 too. Each adds a line
// of its own (a driver's, a command's, or a driver of its own), so that
// their solutions combine with each other and with the ones above.

/// The counts in the serial driver's line `serial: N interrupts, M bytes`
/// that ends with `bytes` (the `n`th such line), or `None`.
fn serial_counts(output: &str, n: usize) -> Option<(u64, u64)> {
    let line = output
        .lines()
        .filter_map(|line| line.split("serial: ").nth(1))
        .filter(|rest| rest.contains(" interrupts, "))
        .nth(n)?;
    let (interrupts, rest) = line.split_once(" interrupts, ")?;
    let bytes = rest.strip_suffix(" bytes")?;
    Some((interrupts.trim().parse().ok()?, bytes.trim().parse().ok()?))
}

/// `status-key` (easy): the serial driver counts the interrupts it has
/// served and the bytes it has read; Ctrl-T (0x14, the status key of the
/// BSDs' terminals) makes it print both, `serial: N interrupts, M bytes`
/// (the Ctrl-T among the bytes), instead of passing the key on.
#[test]
fn ctrl_t_makes_the_serial_driver_print_its_counts() {
    let run = Boot::stage(STAGE)
        .timeout_secs(30)
        .type_after(PROMPT, "echo one\r")
        .type_after("\none", "\x14")
        .type_after(" bytes", "echo two\r")
        .type_after("\ntwo", "\x14")
        .type_after(" bytes", "shutdown\r")
        .run();
    run.expect_success().expect_lines(&["one", "serial: ", "two", "serial: "]);
    let (Some(first), Some(second)) = (serial_counts(run.text(), 0), serial_counts(run.text(), 1)) else {
        run.fail("two lines `serial: N interrupts, M bytes`");
    };
    // `echo one\r` and the Ctrl-T, then `echo two\r` and the Ctrl-T.
    assert_eq!((first.1, second.1), (10, 20), "the bytes read, exactly");
    assert!(first.0 >= 1 && second.0 > first.0, "each line typed raised interrupts: {first:?}, {second:?}");
}

/// Days from 1970-01-01 to the date (the proleptic Gregorian calendar).
fn days_since_1970(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// `time` (moderate): the shell reads the CMOS clock itself, through a
/// port range derived from the kernel's (ports 0x70 and 0x71), and prints
/// `time: YYYY-MM-DD HH:MM:SS UTC`: QEMU's clock is the host's, in UTC.
#[test]
fn time_reads_the_cmos_clock() {
    let run = session(&["time", "echo after"]).run();
    run.expect_success().expect_lines(&["time: ", "after"]).expect_absent(&["unknown command"]);
    let line = run.text().lines().find_map(|line| line.split("time: ").nth(1)).unwrap_or_default();
    let fields: Vec<i64> =
        line.trim_end_matches(" UTC").split(['-', ' ', ':']).filter_map(|field| field.parse().ok()).collect();
    let [year, month, day, hour, minute, second] = fields[..] else {
        run.fail(&format!("`time: YYYY-MM-DD HH:MM:SS UTC`, not {line:?}"));
    };
    assert!(line.ends_with(" UTC") && (1..=12).contains(&month) && (1..=31).contains(&day), "{line}");
    assert!(hour < 24 && minute < 60 && second < 60, "{line}");
    let printed = days_since_1970(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    assert!(
        (now - printed).abs() < 300,
        "the guest's clock says {line}, {} s from the host's",
        now - printed
    );
}

/// `com2` (hard): a driver for the second serial port (IRQ 3, ports 0x2f8
/// to 0x2ff, which a driver may write): rinit starts it at boot like the
/// others; it sets the chip up, puts what is typed there on the input
/// channel, as a second terminal, and echoes it back on COM2.
#[test]
fn a_com2_driver_is_a_second_terminal() {
    let run = Boot::stage(STAGE)
        .timeout_secs(30)
        .type_com2_after(PROMPT, "echo over com2\r")
        .type_after("\nover com2", "tasks\r")
        .type_after(" com2 running", "shutdown\r")
        .run();
    run.expect_success()
        .expect_lines(&["driver com2: started (task in slot ", "Type help", "over com2", ": com2 running"])
        .expect_absent(&["stopped by a fault"]);
    assert!(
        run.com2_text().contains("echo over com2"),
        "COM2 shows what was typed there: {:?}",
        run.com2_text()
    );
}
