//! Boot tests of stage 5: boot `build/stage-5.iso` (the kernel and `rinit`)
//! in QEMU and check what the kernel and the tasks print. Run by `make
//! test` (they need `make images` first).

use qemu_test::{Boot, Transcript, check_and_report_image};

const STAGE: u32 = 5;

#[test]
fn image_is_a_multiboot2_kernel() {
    check_and_report_image(STAGE);
}

// ANCHOR: first_task_test
#[test]
fn rinit_runs_in_user_mode_and_exits() {
    // Through the BIOS and GRUB, as `make run` boots; the other tests boot
    // fast, by QEMU's own loader (see qemu_test::Boot).
    Boot::stage(STAGE).through_grub().run().expect_success().expect_lines(&[
        "Stage 5: tasks",
        "first task: rinit (",
        "timer: 100 ticks a second; running the first task",
        "rinit: hello from user mode",
        "rinit: my root pool has 9 capabilities:",
        "  slot   0: CPool, 9 slots used",
        "  slot   2: Untyped, ",
        "  slot   3: PML4",
        "  slot   4: Task",
        "  slot   5: CPool, ",
        "  slot   6: RawPage",
        "  slot 250: RawPage",
        "rinit: mapping it at 0x10000000000 first: MissingTable, as expected",
        "rinit: mapped the page at 0x10000000000, writable",
        "rinit: wrote 512 words to the page and read them back: ok",
        "rinit: started the child task in slot",
        "rinit: the child has finished",
        "rinit: done",
        "the first task exited with code 0: stopping",
    ]);
}
// ANCHOR_END: first_task_test

/// The numbered lines `who: 1` to `who: 5`, in order, and where each is.
fn positions(run: &Transcript, who: &str) -> Vec<usize> {
    let lines: Vec<&str> = run.text().lines().collect();
    (1..=5)
        .map(|n| {
            let line = format!("{who}: {n}");
            lines.iter().position(|&l| l == line).unwrap_or_else(|| panic!("no line {line:?}"))
        })
        .collect()
}

// ANCHOR: preemption_test
/// Parent and child count in busy loops with no system call between their
/// lines for a long while: only the timer can make them take turns.
#[test]
fn two_tasks_progress_together_under_preemption() {
    let run = Boot::stage(STAGE).run();
    run.expect_success();
    let (parent, child) = (positions(&run, "parent"), positions(&run, "child"));
    assert!(parent.windows(2).all(|w| w[0] < w[1]) && child.windows(2).all(|w| w[0] < w[1]));
    assert!(child[0] < parent[4], "the child started counting before the parent finished");
    assert!(parent[0] < child[4], "the parent counted while the child was counting");
}
// ANCHOR_END: preemption_test

// ANCHOR: fault_tests
/// Each kind of fault a task can commit, and what the kernel's report says.
const FAULTS: [(&str, &str); 10] = [
    ("divide-error", "divide error at rip 0x"),
    ("invalid-opcode", "invalid opcode at rip 0x"),
    ("general-protection", "general protection fault at rip 0x"),
    ("null-pointer", "address 0x0 (page not present, read, user mode)"),
    ("write-read-only", "(protection violation, write, user mode)"),
    ("execute-nx", "(protection violation, instruction fetch, user mode)"),
    ("kernel-memory", "address 0xffff800000000000 (protection violation, read, user mode)"),
    ("breakpoint", "breakpoint at rip 0x"),
    ("stack-overflow", "(page not present, write, user mode)"),
    ("x87-error", "x87 floating-point error at rip 0x"),
];

/// A fault stops the task that made it, with one report; the other task
/// and the kernel go on, and the machine stops normally.
#[test]
fn a_fault_stops_only_the_task_that_made_it() {
    for (name, report) in FAULTS {
        let run = Boot::stage(STAGE).command_line(&format!("fault={name}")).run();
        run.expect_success().expect_absent(&["MISMATCH"]);
        let Some(line) = run.text().lines().find(|line| line.contains("stopped by a fault:")) else {
            run.fail(&format!("fault={name}: no fault report"));
        };
        assert!(line.starts_with("task 2 stopped by a fault: ") && line.contains(report), "{name}: {line}");
        run.expect_lines(&[line, "parent after the fault: 5", "rinit: done"]);
        assert_eq!(run.text().matches("stopped by a fault").count(), 1, "{name}: one report");
    }
}
// ANCHOR_END: fault_tests

// ANCHOR: hostile_test
/// rinit makes every system call with every general and SSE register
/// full of patterns (`rsp` a kernel-half address), and each register the
/// ABI keeps must come back bit for bit, with no kernel value in the
/// others; then a system call with RFLAGS.NT set, which must come back (the
/// kernel's `iretq` used to fault on it and stop the machine), and leaves
/// `0x1b` in its data segment registers, which must not reach the child.
#[test]
fn a_hostile_task_cannot_crash_the_kernel_or_reach_the_next_task() {
    Boot::stage(STAGE).command_line("hostile").run().expect_success().expect_lines(&[
        "rinit: registers: 40 calls, every register the ABI keeps came back bit for bit, none with a kernel value",
        // On the serial console, from a task: no kernel report.
        "rinit: EXCEPTION: forged; AUDIT FAILED: forged; KERNEL PANIC: forged",
        "rinit: a system call with NT set came back",
        "rinit: left 0x1b in ds, es, fs and gs",
        "child: I started with ds 0x0 es 0x0 fs 0x0 gs 0x0",
        "rinit: done",
    ]);
}
// ANCHOR_END: hostile_test

/// On a CPU with UMIP (QEMU's `max`), `sgdt` in ring 3 is a general
/// protection fault: no kernel address comes out.
#[test]
fn ring_3_cannot_read_the_descriptor_tables_where_the_cpu_has_umip() {
    let run = Boot::stage(STAGE).cpu("max").command_line("fault=umip").run();
    run.expect_success().expect_absent(&["MISMATCH"]).expect_lines(&[
        "UMIP on: ring 3 cannot read the descriptor tables",
        "child: committing the fault umip",
        "task 2 stopped by a fault: general protection fault at rip 0x",
        "rinit: done",
    ]);
}

#[test]
fn bad_system_calls_get_their_error_codes() {
    Boot::stage(STAGE)
        .command_line("syscalls")
        .run()
        .expect_success()
        .expect_lines(&[
            "bad call: ",
            "bad calls: 19 of 19 refused as expected",
            "bad calls: the root pool is unchanged: ok",
        ])
        .expect_absent(&["MISMATCH"]);
}

#[test]
fn runs_with_little_and_much_memory() {
    for mib in [128, 5 * 1024] {
        Boot::stage(STAGE).memory_mib(mib).run().expect_success().expect_lines(&["rinit: done"]);
    }
}
