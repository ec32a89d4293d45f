//! Boot tests of stage 6, the full system: boot `build/stage-6.iso` and
//! drive the shell as a person would, typing on the serial line (and on
//! the keyboard), then check what it printed. Run by `make test` (they
//! need `make images` first). `../shared/SHELL.md` is the contract these
//! tests hold the shell to.

use qemu_test::{Boot, check_and_report_image};

const STAGE: u32 = 6;
const PROMPT: &str = "rinit> ";

#[test]
fn image_is_a_multiboot2_kernel() {
    check_and_report_image(STAGE);
}

/// A boot that types each of `lines` at a prompt, then `shutdown`.
fn session(lines: &[&str]) -> Boot {
    let mut boot = Boot::stage(STAGE).timeout_secs(90);
    for line in lines.iter().chain(&["shutdown"]) {
        boot = boot.type_after(PROMPT, &format!("{line}\r"));
    }
    boot
}

/// The hex number printed after `label` (as `0x<hex> (<decimal>)`), as
/// the shell accepts it.
fn printed_hex(output: &str, label: &str) -> String {
    let line = output.lines().find_map(|line| line.strip_prefix(label)).expect("the line was printed");
    let hex = line.split_whitespace().next().expect("a number after the label");
    let decimal = line.split(['(', ')']).nth(1).expect("the decimal in parentheses");
    let value = u64::from_str_radix(hex.trim_start_matches("0x"), 16).expect("hex");
    assert_eq!(decimal.parse::<u64>(), Ok(value), "hex and decimal agree");
    hex.to_string()
}

#[test]
fn boots_to_the_shell_with_the_child_addresses() {
    session(&[]).run().expect_success().expect_lines(&[
        "Stage 6: channels",
        "Child entry should be at: 0x",
        "Child stack pointer should be at: 0x",
        PROMPT,
        "shutting down",
        "the first task exited with code 0: stopping",
    ]);
}

// ANCHOR: walkthrough_test
/// The walkthrough of `SHELL.md`, typed word for word, with the two values
/// the shell printed at boot typed back in.
#[test]
fn the_walkthrough_typed_word_for_word() {
    let run = Boot::stage(STAGE)
        .timeout_secs(90)
        .type_after(PROMPT, "retype task 2 249\r")
        .type_after_from(PROMPT, |output| {
            format!("set stack 249 {}\r", printed_hex(output, "Child stack pointer should be at: "))
        })
        .type_after_from(PROMPT, |output| {
            format!("set instruction 249 {}\r", printed_hex(output, "Child entry should be at: "))
        })
        .type_after(PROMPT, "set cpool 249 0\r")
        .type_after(PROMPT, "set table 249 3\r")
        .type_after(PROMPT, "set buffer 249 250\r")
        .type_after(PROMPT, "set active 249 1\r")
        .type_after(PROMPT, "send raw 5\r")
        .type_after("Received from master: 5", "shutdown\r")
        .run();
    run.expect_success().expect_lines(&[
        "retype task 2 249",
        "slot 249: a Task made from untyped slot 2",
        "task 249: stack pointer 0x",
        "task 249: instruction pointer 0x",
        "task 249: root CPool from slot 0",
        "task 249: page table from slot 3",
        "task 249: task buffer from slot 250",
        "task 249: started",
        "Received from master: 5",
    ]);
}
// ANCHOR_END: walkthrough_test

#[test]
fn start_child_then_send_raw_5() {
    session(&["start child", "send raw 5", "echo done"])
        .run()
        .expect_success()
        .expect_lines(&["task 249: started", "Received from master: 5"])
        .expect_lines(&["echo done", "done"]);
}

#[test]
fn send_cap_0_moves_the_root_pool_capability_to_the_child() {
    session(&["start child", "send cap 0", "echo sent", "list"]).run().expect_success().expect_lines(&[
        "Received from master: a capability, put in slot 248",
        "list",
        "  0: CPool",
        "248: CPool",
        "255: Channel",
    ]);
}

// ANCHOR: burst_test
/// Messages sent before any child takes them wait in the channel, in
/// order; the seventeenth finds it full and is refused; the child then
/// receives the sixteen in the order they were sent.
#[test]
fn a_burst_of_messages_arrives_in_order_and_a_full_channel_is_an_error() {
    let sends: Vec<String> = (1..=17).map(|n| format!("send raw {n}")).collect();
    let mut lines: Vec<&str> = sends.iter().map(String::as_str).collect();
    lines.extend(["start child", "echo after"]);
    let run = session(&lines).run();
    run.expect_success().expect_lines(&["send raw 17", "send raw: the channel is full"]);
    let received: Vec<String> = (1..=16).map(|n| format!("Received from master: {n}")).collect();
    run.expect_lines(&received.iter().map(String::as_str).collect::<Vec<_>>());
    run.expect_absent(&["Received from master: 17"]);
}
// ANCHOR_END: burst_test

// ANCHOR: bad_input_test
/// Everything `SHELL.md` says users will also try: each gets one line of
/// error, and the next command still works.
#[test]
fn every_bad_input_gets_an_error_and_the_shell_goes_on() {
    let long = "x".repeat(200);
    let bad: [(&str, &str); 16] = [
        ("lsit", "unknown command \"lsit\""),
        ("frobnicate", "unknown command \"frobnicate\""),
        ("retype", "retype: expected cpool or task"),
        ("retype task 2", "retype task: missing <dst>"),
        ("send raw five", "not a number"),
        ("set stack 249 0x", "0x must be followed by hex digits"),
        ("send raw 18446744073709551616", "too large"),
        ("retype task 2 256", "slots are numbered 0 to 255"),
        ("send raw -1", "numbers cannot be negative"),
        ("retype task 77 249", "retype task: the capability slot is empty"),
        ("retype cpool 3 240", "retype cpool: the capability is of the wrong kind"),
        ("retype task 2 249", "slot 249: a Task made from untyped slot 2"),
        ("set active 249 1", "set active: the task is not fully configured"),
        ("start child", "start child: slot 249 is not empty"),
        (&long, "line too long"),
        ("set active 249 2", "is neither 1 (start) nor 0 (stop)"),
    ];
    let mut lines = Vec::new();
    for (index, (line, _)) in bad.iter().enumerate() {
        lines.push(line.to_string());
        lines.push(format!("echo still here {index}"));
    }
    let run = session(&lines.iter().map(String::as_str).collect::<Vec<_>>()).run();
    run.expect_success();
    for (index, (line, error)) in bad.iter().enumerate() {
        let still = format!("still here {index}");
        run.expect_lines(&[&line[..line.len().min(60)], error, &still]);
    }
}
// ANCHOR_END: bad_input_test

#[test]
fn send_before_any_child_waits_in_the_channel() {
    session(&["send raw 42", "start child", "echo after"]).run().expect_success().expect_lines(&[
        "send raw 42",
        "task 249: started",
        "Received from master: 42",
    ]);
}

// ANCHOR: keyboard_test
/// Typed on the PS/2 keyboard (through QEMU's monitor), a command runs
/// and its echo and output appear on the VGA screen; backspace erases.
#[test]
fn the_keyboard_types_into_the_shell_on_the_screen() {
    let run = Boot::stage(STAGE)
        .timeout_secs(90)
        .keys_after(PROMPT, "echo typed on the keyboarx\x08d\n")
        .screen_after("typed on the keyboard\r\nrinit> ")
        .type_after(PROMPT, "shutdown\r")
        .run();
    run.expect_success().expect_lines(&["typed on the keyboard"]);
    let screen = run.screen().expect("the screen was captured");
    let typed = screen.iter().position(|line| line == "rinit> echo typed on the keyboard");
    let Some(typed) = typed else { run.fail(&format!("the typed line is not on the screen: {screen:#?}")) };
    assert_eq!(screen[typed + 1], "typed on the keyboard", "{screen:#?}");
    assert!(screen[typed + 2].starts_with("rinit>"), "{screen:#?}");
}
// ANCHOR_END: keyboard_test

// ANCHOR: run_hello_test
/// A second program (`programs/hello`, a GRUB module beside rinit):
/// `run hello` starts it in its own address space; it prints its lines and
/// its own root pool, exits, and runs again; an unknown name is refused;
/// the shell goes on.
#[test]
fn run_hello_starts_the_second_program_again_and_again() {
    // The shell's "run: started hello (task in slot N)" is checked apart:
    // a timer tick between the start and the shell's print can let hello
    // print first, so its place among hello's lines is not fixed.
    let started = "run: started hello (task in slot ";
    let hello = [
        "hello: a second program, in its own address space",
        "hello: slot 0: CPool",
        "hello: slot 3: PML4",
        "hello: slot 4: Task",
        "hello: slot 5: CPool",
        "hello: slot 6: RawPage",
    ];
    let last = hello[hello.len() - 1];
    let run = Boot::stage(STAGE)
        .timeout_secs(90)
        .type_after(PROMPT, "run hello\r")
        .type_after(last, "run hello\r")
        .type_after(last, "run nope\r")
        .type_after("no program named", "echo still here\r")
        .type_after("\nstill here", "shutdown\r")
        .run();
    run.expect_success().expect_lines(&[&hello[..], &hello[..]].concat());
    if run.text().matches(started).count() != 2 {
        run.fail("the shell did not say twice that it started hello");
    }
    run.expect_lines(&[
        "run nope",
        "run: no program named \"nope\" (programs: ",
        "echo still here",
        "still here",
        "shutting down",
    ]);
}
// ANCHOR_END: run_hello_test

/// Stopping the child while it waits cancels its take; started again, it
/// takes again and still receives.
#[test]
fn a_child_stopped_and_started_again_still_receives() {
    session(&["start child", "set active 249 0", "set active 249 1", "send raw 6", "echo after"])
        .run()
        .expect_success()
        .expect_lines(&["task 249: stopped", "task 249: started", "Received from master: 6"])
        .expect_absent(&["child: taking from channel"]);
}

// ANCHOR: budget_test
/// `make bench` in short: each figure, counted in instructions under
/// `-icount shift=0` (the same on every run), must stay within its budget
/// (`qemu_test::bench::BUDGETS`, where the budgets and how to update them
/// are).
#[test]
fn bench_figures_stay_within_their_budgets() {
    let run = Boot::stage(STAGE)
        .icount()
        .command_line(&qemu_test::bench::command_line(100))
        .timeout_secs(300)
        .run();
    run.expect_success();
    let report = qemu_test::bench::Report::parse(run.text());
    println!("{}", report.markdown(None));
    let problems = report.over_budget();
    if !problems.is_empty() {
        run.fail(&format!("over budget:\n  {}", problems.join("\n  ")));
    }
    // The book's table must show what the kernel costs now.
    let table = std::fs::read_to_string(qemu_test::repository_root().join("book/src/costs-table.md"))
        .expect("book/src/costs-table.md (written by make bench)");
    let stale = report.differences_from_table(&table);
    if !stale.is_empty() {
        run.fail(&format!("book/src/costs-table.md is stale: run make bench\n  {}", stale.join("\n  ")));
    }
}
// ANCHOR_END: budget_test

// ANCHOR: fuzz_test
/// A short run of the system-call fuzzer (`programs/fuzz`, started by
/// rinit for `fuzz=SEED,COUNT`) with a fixed seed: about 10^4 random calls
/// from several tasks, audits between them, and the kernel's own audit at
/// shutdown. A kernel panic, a kernel exception report or a failed audit
/// fails it (`expect_success` forbids them); `make fuzz SEED=... COUNT=...`
/// runs longer ones.
#[test]
fn a_short_fuzz_run_leaves_the_kernel_standing_and_its_audit_clean() {
    Boot::stage(STAGE)
        .command_line("fuzz=4,10000")
        .timeout_secs(240)
        .run()
        .expect_success()
        .expect_absent(&["FUZZ FAILED", "cannot run the fuzzer"])
        .expect_lines(&[
            "rinit: fuzzing with seed 4, 10000 calls",
            "fuzz: seed 4, 10000 calls",
            "fuzz:   Retype: ",
            " calls, seed 4, audit ok",
            "the first task exited with code 0: stopping",
            "audit: ",
        ]);
}
// ANCHOR_END: fuzz_test

/// A revoke unmaps at once: `programs/revoke` maps a page made from the
/// untyped the shell sends it, touches it, revokes the untyped and touches
/// it again, which must fault (a translation left in the TLB, for want of
/// a flush after the entry was cleared, would let the write through). The
/// kernel stops the task with a report, and the shell goes on.
#[test]
fn a_page_touched_then_revoked_faults_when_touched_again() {
    let run = Boot::stage(STAGE)
        .timeout_secs(90)
        .type_after(PROMPT, "run revoke\r")
        .type_after("revoke: waiting for an untyped", "send cap 2\r")
        .type_after("stopped by a fault", "echo still here\r")
        .type_after("\nstill here", "shutdown\r")
        .run();
    run.expect_success()
        .expect_lines(&[
            "revoke: waiting for an untyped on channel 255",
            "revoke: wrote and read back 0x5eed at 0x100000000000",
            "revoke: untyped revoked; touching the page again must fault",
        ])
        .expect_absent(&["STILL MAPPED"])
        .expect_lines(&["still here", "shutting down"]);
    let fault = run.text().lines().find(|line| line.contains("stopped by a fault"));
    if !fault.is_some_and(|line| line.contains("0x100000000000")) {
        run.fail("the kernel did not report the touch of the revoked page as a fault at its address");
    }
}
