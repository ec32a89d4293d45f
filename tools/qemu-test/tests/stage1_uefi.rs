//! Stage 1 booted with UEFI firmware (OVMF) instead of the BIOS: the same
//! ISO, started through GRUB's EFI boot image (`make image-1` first). The
//! kernel prints what it prints under the BIOS, on the serial console; only
//! the memory map, which the firmware makes, differs, and the console says
//! first that it found no VGA text screen.

use qemu_test::Boot;

const STAGE: u32 = 1;

/// OVMF's line as it starts the boot loader from the CD: the boot went
/// through UEFI, not the BIOS.
const UEFI_STARTS_THE_CD: &str = "BdsDxe: starting Boot";

/// UEFI firmware takes several times as long as the BIOS to start (seconds
/// under emulation): more time than the BIOS tests' default.
const TIMEOUT_SECS: u64 = 120;

#[test]
fn boots_with_uefi_and_reports_the_machine() {
    let run = Boot::stage(STAGE).uefi().timeout_secs(TIMEOUT_SECS).run();
    run.expect_success().expect_lines(&[
        UEFI_STARTS_THE_CD,
        "UEFI: no VGA text screen; the kernel prints on the serial port (COM1) only",
        "console: no VGA text screen (as under UEFI): printing on the serial port only",
        "Stage 1: boot",
        "kernel image: 0x100000 - ",
        "guard page at 0xffffffff80",
        "GDT, TSS and IDT loaded",
        "bootloader: GRUB",
        "command line: \"\"",
        "memory map: ",
        "modules: 0",
        "usable memory: ",
        "breakpoint (vector 3) at rip 0xffffffff80",
        "back from the breakpoint",
        "stage 1 complete",
    ]);
    // UEFI's memory map keeps more for the firmware than the BIOS's (its
    // runtime services, ACPI tables, the flash), but most is usable.
    let usable_kib = run.number_after("usable memory: ");
    assert!((100 * 1024..128 * 1024).contains(&usable_kib), "usable memory {usable_kib} KiB of 128 MiB");
}

/// Exceptions are caught and reported as under the BIOS: the kernel's own
/// GDT and IDT replace whatever the firmware left.
#[test]
fn a_page_fault_is_reported_under_uefi() {
    Boot::stage(STAGE)
        .uefi()
        .timeout_secs(TIMEOUT_SECS)
        .command_line("crash=page-fault")
        .run()
        .expect_failure()
        .expect_lines(&[
            UEFI_STARTS_THE_CD,
            "crashing on purpose: PageFault",
            "EXCEPTION: page fault (vector 14)",
            "faulting address (cr2) 0x700000000000",
        ]);
}
