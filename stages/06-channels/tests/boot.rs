//! Boot tests of stage 6, the full system: boot `build/stage-6.iso` and
//! drive the shell as a person would, typing on the serial line (and on
//! the keyboard), then check what it printed. Run by `make test` (they
//! need `make images` first). The shell's reference, the book's appendix
//! "The shell" (`book/src/shell.md`), is the contract these tests hold the
//! shell to.

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
    // Through the BIOS and GRUB, as `make run` boots; the other tests boot
    // fast, by QEMU's own loader (see qemu_test::Boot).
    session(&[]).through_grub().run().expect_success().expect_lines(&[
        "Stage 6: channels",
        "Child entry should be at: 0x",
        "Child stack pointer should be at: 0x",
        PROMPT,
        "shutting down",
        "the first task exited with code 0: stopping",
    ]);
}

// ANCHOR: walkthrough_test
/// The walkthrough of the shell's reference (`book/src/shell.md`), typed word for word, with the two values
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
/// Everything the shell's reference says users will also try: each gets one line of
/// error, and the next command still works.
#[test]
fn every_bad_input_gets_an_error_and_the_shell_goes_on() {
    let long = "x".repeat(200);
    let long_name = format!("run {}", "y".repeat(100));
    let bad: [(&str, &str); 17] = [
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
        // Shortened inside its quotes, not cut at the end of the line.
        (&long_name, "yyy...\" (programs: "),
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
    let run = session(&["send raw 42", "start child", "echo after"]).run();
    // The child may print before or after the shell says it started it
    // (it runs as soon as it is started, and the message waits): each
    // line is checked after the send on its own.
    run.expect_success().expect_lines(&["send raw 42", "task 249: started"]);
    run.expect_lines(&["send raw 42", "Received from master: 42"]);
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
    // The maintainers' check (make bench-check, CI) adds: the book's table
    // shows what the kernel costs now. Without it, a student's changed
    // kernel passes as long as it stays within the budgets.
    let table = std::env::var_os(qemu_test::bench::TABLE_CHECK).map(|_| {
        std::fs::read_to_string(qemu_test::repository_root().join("book/src/costs-table.md"))
            .expect("book/src/costs-table.md (written by make bench)")
    });
    let problems = report.problems(table.as_deref());
    if !problems.is_empty() {
        run.fail(&format!("over budget or stale:\n  {}", problems.join("\n  ")));
    }
}
// ANCHOR_END: budget_test

// ANCHOR: fuzz_test
/// A short run of the system-call fuzzer (`programs/fuzz`, started by
/// rinit for `fuzz=SEED,COUNT`) with a fixed seed: about 10^4 random calls
/// from several tasks, each with random RFLAGS and random values in the
/// registers it does not take, audits between them, and the kernel's own
/// audit at shutdown. A kernel panic, a kernel exception report or a failed audit
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
            // Every call had random RFLAGS and registers; some had TF set.
            "fuzz:   calls made with TF set: ",
            " calls, seed 4, audit ok",
            "the first task exited with code 0: stopping",
            "audit: ",
        ]);
}
// ANCHOR_END: fuzz_test

/// `shutdown` under `make run` ends QEMU, as in the tests (the exit
/// device is there), and make reports no error for it: `make boot-6`
/// (what `make run` does once the image is built) exits with 0.
#[test]
fn shutdown_under_make_run_ends_qemu() {
    use std::io::{Read, Write};
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};
    let mut make = Command::new("make")
        .current_dir(qemu_test::repository_root())
        .args(["-s", "--no-print-directory", "boot-6"])
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("make runs");
    let mut stdout = make.stdout.take().expect("piped");
    let (sender, seen) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut text = Vec::new();
        let mut byte = [0];
        while stdout.read(&mut byte).unwrap_or(0) == 1 {
            text.push(byte[0]);
            if text.ends_with(b"rinit> ") {
                let _ = sender.send(());
            }
        }
        String::from_utf8_lossy(&text).into_owned()
    });
    let started = Instant::now();
    seen.recv_timeout(Duration::from_secs(60)).expect("the shell's prompt under make boot-6");
    let mut stdin = make.stdin.take().expect("piped");
    for byte in b"shutdown\r" {
        let _ = stdin.write_all(&[*byte]).and_then(|()| stdin.flush());
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = loop {
        if let Some(status) = make.try_wait().expect("make's status") {
            break status;
        }
        if started.elapsed() > Duration::from_secs(90) {
            let _ = make.kill();
            panic!("make boot-6 still runs 90 s after shutdown: QEMU did not exit");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let output = reader.join().expect("the reader");
    let mut errors = String::new();
    let _ = make.stderr.take().map(|mut stderr| stderr.read_to_string(&mut errors));
    assert!(output.contains("shutting down"), "{output}");
    assert!(status.success(), "make boot-6 ended with {status}: {errors}\n{output}");
    assert!(!errors.contains("Error"), "make reported an error: {errors}");
}

/// What another task prints (a program's lines, the kernel's report of a
/// task's fault) gets lines of its own, and a fresh prompt below it, so
/// the next command is typed at a prompt. The kernel's report names the
/// task by its number, which the shell showed when it started it.
#[test]
fn other_tasks_output_is_followed_by_a_prompt() {
    let mut boot = Boot::stage(STAGE).timeout_secs(90).type_after(PROMPT, "run hello\r");
    boot = boot.type_after("hello: slot 255: Channel", "list\r");
    for line in [
        "retype task 2 248",
        "set stack 248 0x437ff0",
        "set instruction 248 0x10",
        "set cpool 248 0",
        "set table 248 3",
        "set active 248 1",
    ] {
        boot = boot.type_after(PROMPT, &format!("{line}\r"));
    }
    let run = boot.type_after("stopped by a fault", "echo next\r").type_after(PROMPT, "shutdown\r").run();
    run.expect_success()
        .expect_lines(&["the program hello (run hello)", "task 248: started (the kernel's task "]);
    let lines: Vec<&str> = run.text().lines().collect();
    // The line with `text`, and the next one but the shell's own answer to
    // the command that started the task: the shell prints that answer
    // after the start, so a timer tick in between lets the task print
    // first, and the answer then comes between its lines and the prompt.
    let after = |text: &str, answer: &str| {
        let at = lines
            .iter()
            .position(|line| line.contains(text))
            .unwrap_or_else(|| run.fail(&format!("no {text:?}")));
        let next = lines[at + 1..].iter().find(|line| !line.starts_with(answer));
        (lines[at], next.copied().unwrap_or(""))
    };
    let (hello, next) = after("hello: slot 255: Channel", "run: started hello ");
    assert_eq!(hello, "hello: slot 255: Channel", "hello's line starts a line");
    assert!(next.starts_with(PROMPT), "a prompt after hello's lines, not {next:?}");
    let (fault, next) = after("stopped by a fault", "task 248: started ");
    assert!(fault.starts_with("task "), "the report starts a line: {fault:?}");
    assert!(next.starts_with(PROMPT), "a prompt after the report, not {next:?}");
    let started = after("task 248: started (the kernel's task ", "").0;
    let number = started.trim_start_matches("task 248: started (the kernel's task ").trim_end_matches(')');
    assert!(fault.starts_with(&format!("task {number} ")), "the report names task {number}: {fault:?}");
}

/// Drivers in user space: the serial and keyboard drivers.
#[path = "drivers.rs"]
mod drivers;
/// Faults handled in user space: the pager, and fault channels.
#[path = "faults.rs"]
mod faults;

#[path = "calls.rs"]
mod calls;
// ANCHOR: hostile_test
/// `programs/hostile`, run twice: every system call, made with every
/// general and SSE register full of patterns (`rsp` a kernel-half
/// address), must give back each register the ABI keeps bit for bit and
/// no kernel value in the others; a system call with RFLAGS.NT set must
/// come back (the kernel's `iretq` used to fault on it, stopping the
/// machine); what the first run leaves in the segment registers and the
/// SSE and x87 control registers must not reach the second, which starts
/// with the null selectors and the default controls; the second run's x87
/// error must be a fault of its own (#MF), not ignored.
#[test]
fn a_hostile_program_cannot_crash_the_kernel_or_reach_the_next_task() {
    let clean = "ds 0x0 es 0x0 fs 0x0 gs 0x0, mxcsr 0x1f80, x87 control 0x37f";
    let run = Boot::stage(STAGE)
        .timeout_secs(90)
        .type_after(PROMPT, "run hostile\r")
        .type_after("hostile: left 0x1b", "run hostile\r")
        .type_after("hostile: committing", "echo still here\r")
        .type_after("\nstill here", "shutdown\r")
        .run();
    run.expect_success().expect_lines(&[
        &format!("hostile: run 1: {clean}"),
        // On the serial console, from a task: no kernel report.
        "hostile: EXCEPTION: forged; AUDIT FAILED: forged; KERNEL PANIC: forged",
        "hostile: registers: 41 calls, every register the ABI keeps came back bit for bit, none with a kernel value",
        "hostile: a system call with NT set came back",
        "hostile: left 0x1b in ds, es, fs and gs",
        &format!("hostile: run 2: {clean}"),
        "hostile: committing an x87 divide by zero",
        "stopped by a fault: x87 floating-point error at rip 0x",
        "still here",
    ]);
    run.expect_absent(&["MISMATCH"]);
}
// ANCHOR_END: hostile_test

// ANCHOR: first_task_stopped_test
/// The shell refuses to stop itself, in one line, and goes on.
#[test]
fn the_shell_refuses_to_stop_itself() {
    session(&["set active 4 0", "echo still here"]).run().expect_success().expect_lines(&[
        "set active: the shell will not stop itself",
        "still here",
        "shutting down",
    ]);
}

/// When the first task is stopped all the same, by its own `TaskStop`
/// (rinit's `stop-self`) or by a fault (`fault-self`), the kernel says so
/// and stops the machine, with its audit, instead of idling for ever.
#[test]
fn the_machine_stops_when_the_first_task_is_stopped() {
    let cases: [(&str, &[&str]); 2] = [
        ("stop-self", &["rinit: stopping my own task", "was stopped (inactive): stopping"]),
        (
            "fault-self",
            &[
                "rinit: reading address 0",
                "stopped by a fault: page fault",
                "was stopped (faulted): stopping",
            ],
        ),
    ];
    for (word, lines) in cases {
        let run = Boot::stage(STAGE).command_line(word).timeout_secs(30).run();
        run.expect_no_kernel_report().expect_failure().expect_absent(&["MISMATCH"]).expect_lines(lines);
        let audit = run.text().lines().skip_while(|line| !line.contains("was stopped (")).nth(1);
        assert!(audit.is_some_and(|line| line.starts_with("audit: ") && line.ends_with(": ok")), "{audit:?}");
    }
}
// ANCHOR_END: first_task_stopped_test

// ANCHOR: umip_test
/// On a CPU with UMIP (QEMU's `max` has it), `sgdt` in ring 3 is a general
/// protection fault that stops the task: no kernel address comes out.
#[test]
fn ring_3_cannot_read_the_descriptor_tables_where_the_cpu_has_umip() {
    let run = Boot::stage(STAGE)
        .test_module("umip")
        .cpu("max")
        .timeout_secs(90)
        .type_after(PROMPT, "run umip\r")
        .type_after("umip: sgdt from ring 3", "echo after\r")
        .type_after("\nafter", "shutdown\r")
        .run();
    run.expect_success().expect_lines(&[
        "UMIP on: ring 3 cannot read the descriptor tables",
        "umip: sgdt from ring 3",
        "stopped by a fault: general protection fault at rip 0x",
    ]);
    run.expect_absent(&["umip: sgdt gave"]);
}
// ANCHOR_END: umip_test

// ANCHOR: busy_input_test
/// A line pasted in one write (40 bytes, more than the input channel
/// holds) while a task keeps the CPU busy for ever reaches the shell
/// whole: no byte lost, none stuck in the serial chip.
#[test]
fn input_typed_while_a_task_spins_all_arrives() {
    let line = format!("echo {}", "0123456789abcdefghijklmnopqrstuvwxy");
    assert_eq!(line.len(), 40);
    let run = Boot::stage(STAGE)
        .timeout_secs(60)
        .type_after(PROMPT, "run spinner\r")
        .paste_after("spinner: spinning for ever", &format!("{line}\r"))
        // The echo's output begins a line ("\r\n" before it on the wire).
        .type_after("\n0123456789abcdefghijklmnopqrstuvwxy", "shutdown\r")
        .run();
    run.expect_success().expect_lines(&[&line, "0123456789abcdefghijklmnopqrstuvwxy", "shutting down"]);
    run.expect_absent(&["bytes were lost"]);
}
// ANCHOR_END: busy_input_test

// ANCHOR: many_objects_test
/// With memory filled with pages (rinit's `fill-memory`: about 60,000
/// objects at 256 MiB, more than the audit's scratch space holds), the
/// audit says it could not run, which is no failure: the shell goes on and
/// the machine stops cleanly, with no `AUDIT FAILED`.
#[test]
fn an_audit_with_more_objects_than_its_room_is_not_a_failure() {
    Boot::stage(STAGE)
        .memory_mib(256)
        .command_line("fill-memory")
        .timeout_secs(120)
        .type_after(PROMPT, "shutdown\r")
        .run()
        .expect_success()
        .expect_lines(&[
            "rinit: retyped and deleted ",
            "rinit: audit: not audited: more objects than the audit has room for",
            "shutting down",
            "audit: not done: more objects than its room for 32768",
        ]);
}
// ANCHOR_END: many_objects_test
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

// ANCHOR: teardown_test
/// Tasks destroying the address space they run in (`programs/teardown`,
/// given an untyped by `send cap 2`): a task revoking the untyped its own
/// PML4, tables, code and task came from is refused (`InUse`: the kernel
/// holds what a running task runs with); a ready task whose space another
/// task revokes is stopped with a report when next picked, or destroyed
/// with it if its task came from there too; a task revoking the untyped of
/// the page it runs from and its tables faults on the return to it. The
/// kernel stays up, the shell goes on, and the audit at shutdown is clean.
#[test]
fn a_task_destroying_the_address_space_it_runs_in_leaves_the_kernel_up() {
    let run = Boot::stage(STAGE)
        .test_module("teardown")
        .timeout_secs(90)
        .type_after(PROMPT, "run teardown\r")
        .type_after("teardown: waiting for an untyped", "send cap 2\r")
        .type_after("stopped by a fault", "echo still here\r")
        .type_after("\nstill here", "shutdown\r")
        .run();
    run.expect_success()
        .expect_lines(&[
            "teardown: waiting for an untyped on channel 255",
            "teardown: a task revoking the untyped its own address space and task came from got Err(InUse)",
            "teardown: revoked that untyped from here, where none of it runs",
            "teardown: revoked the untyped of a ready task's address space (its task made elsewhere)",
            "teardown: starting that task again: Err(NotConfigured)",
            "teardown: revoked the untyped of a ready task's address space and task",
            "teardown: starting that task again: Err(EmptySlot)",
            "teardown: revoking, from code in a page made from it, the untyped of that page and its tables",
        ])
        // The kernel stops the task when it is next picked, which may be
        // before the program's own line, if the timer ends its turn first.
        .expect_lines_between(
            "teardown: revoked that untyped from here",
            "teardown: starting that task again: Err(NotConfigured)",
            &["stopped: its page table was destroyed"],
        )
        .expect_absent(&["STILL RUNNING"])
        .expect_lines(&["still here", "shutting down"]);
    assert_eq!(run.text().matches("stopped: its page table was destroyed").count(), 1, "one task stopped so");
    let fault = run.text().lines().find(|line| line.contains("stopped by a fault"));
    if !fault.is_some_and(|line| line.contains("page fault at rip 0x108000000002, address 0x108000000002")) {
        run.fail("the kernel did not report the return into the revoked code page as a fault at its address");
    }
}
// ANCHOR_END: teardown_test

// ANCHOR: malformed_modules_test
/// An x86-64 executable with one R+X segment at `address` of 11 file
/// bytes (`ret`s) and `memory` bytes, its entry at the segment's start.
fn one_segment_program(address: u64, memory: u64) -> Vec<u8> {
    let mut file = vec![0u8; 120];
    file[..8].copy_from_slice(&[0x7f, b'E', b'L', b'F', 2, 1, 1, 0]);
    let fields: [(usize, u64, usize); 13] = [
        (16, 2, 2),             // ET_EXEC
        (18, 0x3e, 2),          // x86-64
        (20, 1, 4),             // version
        (24, address, 8),       // entry
        (32, 64, 8),            // program headers follow
        (52, 64, 2),            // header size
        (54, 56, 2),            // program header size
        (56, 1, 2),             // one program header
        (64, 1 | (5 << 32), 8), // PT_LOAD, R+X
        (72, 120, 8),           // file offset
        (80, address, 8),       // address
        (96, 11, 8),            // file size
        (104, memory, 8),       // memory size
    ];
    for (at, value, len) in fields {
        file[at..at + len].copy_from_slice(&value.to_le_bytes()[..len]);
    }
    file.extend([0xc3; 11]);
    file
}

/// Malformed modules beside the real programs: the kernel hands each over
/// without reading it (but for one too large for a module pool: one line
/// at boot, left out), and `run` refuses each in one line before it makes
/// anything: three too big for the image pool (300 pages each), one over
/// the stack, one over the task buffer, one not an ELF file at all. The
/// shell goes on, and `hello` and `peer` still load and run. (The kernel
/// used to load every module itself, and leaked what each failed build
/// had made, so that `hello` and `peer` then failed for want of memory.)
#[test]
fn malformed_modules_leave_the_other_programs_loadable() {
    // abi::PAGE_SIZE, abi::STACK_TOP and abi::TASK_BUFFER.
    let (page, stack_top, task_buffer) = (4096, 0x7fff_ffff_0000, 0x3000_0000);
    let folder =
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("malformed-{}", std::process::id()));
    std::fs::create_dir_all(&folder).unwrap();
    let modules = [
        ("too-big-1", one_segment_program(0x40_0000, 300 * page)),
        ("too-big-2", one_segment_program(0x40_0000, 300 * page)),
        ("too-big-3", one_segment_program(0x40_0000, 300 * page)),
        ("over-stack", one_segment_program(stack_top - page, page)),
        ("over-buffer", one_segment_program(task_buffer, page)),
        ("not-elf", b"#!/bin/sh\necho hello\n".to_vec()),
        // 241 pages: one more than a module pool holds.
        ("huge", vec![0; 241 * 4096]),
    ];
    // The serial driver too: the shell is typed at over serial.
    let mut boot = Boot::stage(STAGE).timeout_secs(90).only_modules(&["rinit", "hello", "peer", "serial"]);
    for (name, bytes) in &modules {
        let path = folder.join(name);
        std::fs::write(&path, bytes).unwrap();
        boot = boot.extra_module(&path, name);
    }
    boot = boot.type_after(PROMPT, "run nosuch\r");
    for (name, _) in &modules[..6] {
        boot = boot.type_after(PROMPT, &format!("run {name}\r"));
    }
    let run = boot
        .type_after(PROMPT, "run hello\r")
        // peer starts (and then finds none of the bench's channels it
        // serves in its pool, as ever outside the bench).
        .type_after("hello: slot 255: Channel", "run peer\r")
        .type_after(PROMPT, "echo still here\r")
        .type_after("\nstill here", "shutdown\r")
        .run();
    run.expect_success().expect_lines(&[
        "program huge: cannot hand it over: it has 241 pages, more than the 240 a module pool holds; left out",
        "no program named \"nosuch\" (programs: too-big-1, too-big-2, too-big-3, over-stack, over-buffer",
        "run: cannot load too-big-1: the program needs 323 pages and page tables, more than the image pool's 256 slots",
        "run: cannot load too-big-2: the program needs 323",
        "run: cannot load too-big-3: the program needs 323",
        "run: cannot load over-stack: not a loadable ELF file: segment 0 lies over the stack and its guard page",
        "run: cannot load over-buffer: not a loadable ELF file: segment 0 lies over the task buffer",
        "run: cannot load not-elf: not a loadable ELF file: not an ELF file",
        "hello: slot 255: Channel",
        "run: started peer",
        "still here",
    ]);
    for (name, _) in &modules[..6] {
        let reports =
            run.text().lines().filter(|line| line.contains(&format!("cannot load {name}:"))).count();
        assert_eq!(reports, 1, "one line for {name}");
    }
    run.expect_absent(&[
        "cannot load hello",
        "cannot load peer",
        "out of memory",
        "program hello:",
        "program peer:",
        "cannot load serial",
        "program serial:",
        "driver serial: not started",
    ]);
    let _ = std::fs::remove_dir_all(&folder);
}
// ANCHOR_END: malformed_modules_test
