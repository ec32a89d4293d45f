//! Boot tests of stage 1: boot `build/stage-1.iso` in QEMU and check what
//! the kernel prints. Run by `make test` (they need `make images` first).

use qemu_test::{Boot, FAILURE_MARKERS, check_and_report_image};

const STAGE: u32 = 1;

#[test]
fn image_is_a_multiboot2_kernel() {
    check_and_report_image(STAGE);
}

#[test]
fn boots_and_reports_the_machine() {
    // Through the BIOS and GRUB, as `make run` boots; the other tests boot
    // fast, by QEMU's own loader (see qemu_test::Boot).
    Boot::stage(STAGE).through_grub().run().expect_success().expect_lines(&[
        "Stage 1: boot",
        "kernel image: 0x100000 - ",
        "guard page at 0xffffffff80",
        "GDT, TSS and IDT loaded",
        "bootloader: GRUB",
        "command line: \"\"",
        "memory map: ",
        "  0x000000000000 - 0x00000009fc00  available",
        "modules: 0",
        "usable memory: ",
        "breakpoint (vector 3) at rip 0xffffffff80",
        "back from the breakpoint",
        "stage 1 complete",
    ]);
}

// ANCHOR: memory_test
/// The usable total must come from the memory map GRUB passes: it follows
/// the memory QEMU is given. (Each size loses the 384 KiB hole below 1 MiB
/// and a little firmware-reserved memory.)
#[test]
fn usable_memory_follows_the_machine_size() {
    for mib in [128, 512] {
        let run = Boot::stage(STAGE).memory_mib(mib).run();
        run.expect_success();
        let usable_kib = run.number_after("usable memory: ");
        let installed_kib = u64::from(mib) * 1024;
        assert!(
            (installed_kib - 2048..=installed_kib - 384).contains(&usable_kib),
            "{mib} MiB machine: usable memory {usable_kib} KiB is not just under {installed_kib} KiB"
        );
    }
}
// ANCHOR_END: memory_test

#[test]
fn page_fault_is_reported_with_the_faulting_address() {
    Boot::stage(STAGE).command_line("crash=page-fault").run().expect_failure().expect_lines(&[
        "crashing on purpose: PageFault",
        "EXCEPTION: page fault (vector 14)",
        "page fault: page not present, write, kernel mode",
        "faulting address (cr2) 0x700000000000",
        "rip 0xffffffff80",
        "rax ",
    ]);
}

#[test]
fn stack_overflow_runs_into_the_guard_page() {
    Boot::stage(STAGE)
        .command_line("crash=stack-overflow")
        .run()
        .expect_failure()
        .expect_lines(&[
            "EXCEPTION: page fault (vector 14)",
            "faulting address (cr2) 0xffffffff80",
            "the address is in the stack guard page: kernel stack overflow",
        ])
        .expect_absent(&["recursed"]);
}

#[test]
fn invalid_opcode_is_reported() {
    Boot::stage(STAGE)
        .command_line("crash=invalid-opcode")
        .run()
        .expect_failure()
        .expect_lines(&["EXCEPTION: invalid opcode (vector 6)", "rip 0xffffffff80"])
        .expect_absent(&["the crash did not stop the kernel"]);
}

#[test]
fn panic_reports_file_and_line() {
    let run = Boot::stage(STAGE).command_line("crash=panic").run();
    run.expect_failure().expect_lines(&["crashing on purpose: Panic", "KERNEL PANIC at "]);
    let report = run.text().lines().find(|line| line.starts_with("KERNEL PANIC at ")).unwrap();
    let (location, message) = report.trim_start_matches("KERNEL PANIC at ").split_once(": ").unwrap();
    let mut parts = location.split(':');
    assert_eq!(parts.next(), Some("common/src/crash.rs"), "{report}");
    assert!(parts.all(|number| number.parse::<u32>().is_ok()), "line and column in {report:?}");
    assert_eq!(message, "crash requested on the command line");
}

#[test]
fn an_unknown_crash_name_is_an_error_not_a_crash() {
    Boot::stage(STAGE)
        .command_line("crash=bogus")
        .run()
        .expect_success()
        .expect_lines(&["unknown crash 'bogus'; known: page-fault stack-overflow", "stage 1 complete"]);
}

/// The boot page tables map everything writable and executable: the two
/// crashes that fault from stage 2 on do not fault here.
#[test]
fn the_boot_tables_protect_nothing() {
    for crash in ["write-read-only", "execute-data"] {
        Boot::stage(STAGE).command_line(&format!("crash={crash}")).run().expect_success().expect_lines(&[
            "crashing on purpose: ",
            "the crash did not stop the kernel",
            "stage 1 complete",
        ]);
    }
}

/// Booted as `make stage-1` boots it, without the exit device, the kernel
/// halts, and its last line says how to quit QEMU, after a panic too.
#[test]
fn without_the_exit_device_the_kernel_halts_and_says_how_to_quit() {
    let quit = "halted. To quit QEMU: Ctrl-A, then X (or close its window)";
    let run = Boot::stage(STAGE).without_exit_device().stop_at(quit).timeout_secs(30).run();
    run.expect_absent(&FAILURE_MARKERS).expect_lines(&["stage 1 complete", quit]);
    assert_eq!(run.text().lines().last(), Some(quit));
    let crash = Boot::stage(STAGE).command_line("crash=panic").without_exit_device();
    crash.stop_at(quit).timeout_secs(30).run().expect_lines(&["KERNEL PANIC", quit]);
}
