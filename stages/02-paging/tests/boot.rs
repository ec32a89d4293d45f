//! Boot tests of stage 2: boot `build/stage-2.iso` in QEMU and check what
//! the kernel prints. Run by `make test` (they need `make images` first).

use qemu_test::{Boot, check_and_report_image};

const STAGE: u32 = 2;

#[test]
fn image_is_a_multiboot2_kernel() {
    check_and_report_image(STAGE);
}

#[test]
fn switches_to_its_own_tables_and_demonstrates_capabilities() {
    // Through the BIOS and GRUB, as `make run` boots; the other tests boot
    // fast, by QEMU's own loader (see qemu_test::Boot).
    Boot::stage(STAGE)
        .through_grub()
        .run()
        .expect_success()
        .expect_lines(&[
            "Stage 2: paging capabilities",
            "breakpoint (vector 3)",
            "switched to the kernel's own page tables: PML4 at 0x",
            "read+execute, rodata 0xffffffff80",
            "guard page unmapped; no identity map",
            "direct map: 128 MiB of physical memory at 0xffff800000000000",
            "new address space: PML4 at 0x",
            "map a PDPT at PML4[0]: ok",
            "map a PD at PDPT[1] (1 GiB): ok",
            "map a PT at PD[0]: ok",
            "map a page at 0x40000000, rights rw-u: ok",
            "read it back through 0x40000000 in the new address space: 512 of 512 words match",
            "map the VGA text buffer at 0x40001000, rights rw-u: ok",
            "the direct map's view of 0xb8000 reads \"written through a page capability\"",
            "stage 2 complete",
        ])
        .expect_absent(&["NOT REFUSED"]);
}

// ANCHOR: rules_test
#[test]
fn every_broken_rule_is_refused_with_its_error() {
    Boot::stage(STAGE).run().expect_success().expect_lines(&[
        "map a second PDPT at PML4[0]: refused: PML4 slot 0 is already in use",
        "map the mapped page again at 0x40002000: refused: the capability is already mapped",
        "map a page over the one at 0x40000000: refused: PT slot 0 is already in use",
        "map a page at 0x80000000: refused: no PD on the way to this address",
        "map a page at 0x40200000: refused: no PT on the way to this address",
        "map a page at 0xffff800000001000: refused: 0xffff800000001000 is in the kernel half",
        "map a PDPT at PML4[256]: refused: 0xffff800000000000 is in the kernel half",
        "map a page at 0x40000123: refused: 0x40000123 is not 4 KiB aligned",
        "map a page at 0x900000000000: refused: 0x900000000000 is not a canonical address",
        "map a page at PT index 512: refused: index 512 is out of range (0..512)",
        "map a PT into an unmapped PD: refused: this PD is not mapped yet",
        "unmap a page that is not mapped: refused: the capability is not mapped",
        "unmap the page at 0x40000000: ok",
        "map another page there: ok",
    ]);
}
// ANCHOR_END: rules_test

/// The direct map covers the machine's RAM, whatever its size.
#[test]
fn direct_map_follows_the_machine_size() {
    for mib in [128, 512] {
        let run = Boot::stage(STAGE).memory_mib(mib).run();
        run.expect_success();
        assert_eq!(run.number_after("direct map: "), u64::from(mib), "{mib} MiB machine");
    }
}

#[test]
fn writing_a_read_only_kernel_page_faults() {
    Boot::stage(STAGE)
        .command_line("crash=write-read-only")
        .run()
        .expect_failure()
        .expect_lines(&[
            "crashing on purpose: WriteReadOnly",
            "writing to the constant at 0xffffffff80",
            "EXCEPTION: page fault (vector 14)",
            "page fault: protection violation, write, kernel mode",
            "faulting address (cr2) 0xffffffff80",
        ])
        .expect_absent(&["the crash did not stop the kernel"]);
}

#[test]
fn executing_a_data_page_faults() {
    Boot::stage(STAGE)
        .command_line("crash=execute-data")
        .run()
        .expect_failure()
        .expect_lines(&[
            "calling the data at 0xffffffff80",
            "EXCEPTION: page fault (vector 14)",
            "page fault: protection violation, instruction fetch, kernel mode",
        ])
        .expect_absent(&["the crash did not stop the kernel"]);
}

#[test]
fn stack_overflow_still_runs_into_the_guard_page() {
    Boot::stage(STAGE).command_line("crash=stack-overflow").run().expect_failure().expect_lines(&[
        "switched to the kernel's own page tables",
        "EXCEPTION: page fault (vector 14)",
        "the address is in the stack guard page: kernel stack overflow",
    ]);
}

#[test]
fn an_unknown_crash_name_is_an_error_not_a_crash() {
    Boot::stage(STAGE)
        .command_line("crash=write-rodata")
        .run()
        .expect_success()
        .expect_lines(&["unknown crash 'write-rodata'; known: page-fault", "stage 2 complete"]);
}
