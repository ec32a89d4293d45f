//! Boot tests of stage 3: boot `build/stage-3.iso` in QEMU and check what
//! the kernel prints. Run by `make test` (they need `make images` first).

use qemu_test::{Boot, Transcript, check_and_report_image};

const STAGE: u32 = 3;

#[test]
fn image_is_a_multiboot2_kernel() {
    check_and_report_image(STAGE);
}

#[test]
fn builds_the_address_space_from_retyped_objects() {
    // Through the BIOS and GRUB, as `make run` boots; the other tests boot
    // fast, by QEMU's own loader (see qemu_test::Boot).
    Boot::stage(STAGE)
        .through_grub()
        .run()
        .expect_success()
        .expect_lines(&[
            "Stage 3: untyped memory",
            "switched to the kernel's own page tables",
            "page tables retyped from the kernel's untyped 0x",
            "object kinds:        size    align",
            "  PML4               4096     4096",
            "  RawPage            4096     4096",
            "  DevicePage     (not made by retype)",
            "untyped 0: 0x",
            "untyped: ",
            "-- stage 2's address space, retyped from untyped",
            "retype PML4: object at 0x",
            "retype PDPT: object at 0x",
            "retype PD: object at 0x",
            "retype PT: object at 0x",
            "retype RawPage: object at 0x",
            "map the page at 0x40000000, rights rw-u: ok",
            "512 of 512 words match",
            "reads \"written through a page capability\"",
            "derivation list of untyped",
            "  RawPage at 0x",
            "  PT at 0x",
            "  PD at 0x",
            "  PDPT at 0x",
            "  PML4 at 0x",
            "stage 3 complete",
        ])
        .expect_absent(&["NOT REFUSED"]);
}

/// The hexadecimal number that follows `prefix` in `line`.
fn hex_after(line: &str, prefix: &str) -> u64 {
    let rest = line.split_once(prefix).unwrap_or_else(|| panic!("no {prefix:?} in {line:?}")).1;
    let digits: String = rest.trim_start_matches("0x").chars().take_while(char::is_ascii_hexdigit).collect();
    u64::from_str_radix(&digits, 16).unwrap()
}

// ANCHOR: run_out_test
#[test]
fn running_out_is_an_error_that_changes_nothing() {
    let run = Boot::stage(STAGE).run();
    run.expect_success().expect_lines(&[
        "-- running an untyped dry on purpose --",
        "small untyped 0x",
        "retype RawPage: object at 0x",
        "retype RawPage: object at 0x",
        "retype RawPage: refused: out of memory: needs 4128 bytes, 4032 are free; watermark stays 0x",
        "retype DevicePage: refused: a DevicePage cannot be made by retype; watermark stays 0x",
        "retype Untyped: refused: an untyped of 1000 bytes cannot be made",
        "small untyped: 2 children, 4032 bytes free",
    ]);
    let lines: Vec<&str> = run.text().lines().collect();
    let refusal = lines.iter().position(|line| line.contains("refused: out of memory")).unwrap();
    let last_success = lines[refusal - 1];
    let watermark = hex_after(last_success, "-> ");
    for line in &lines[refusal..refusal + 3] {
        assert_eq!(
            hex_after(line, "watermark stays "),
            watermark,
            "a refused retype moved the watermark: {line}"
        );
    }
}
// ANCHOR_END: run_out_test

/// The accounting in one boot: (usable, untyped, reserved, kernel page
/// tables), in bytes, checked to add up.
fn accounting(run: &Transcript) -> (u64, u64, u64, u64) {
    let usable = run.number_after("usable memory: ") * 1024;
    let untyped = run.number_after("untyped: ") * 1024;
    let reserved = run.number_after("reserved: ") * 1024;
    assert_eq!(untyped + reserved, usable, "untyped + reserved must be the usable memory");
    let reasons =
        ["below 1 MiB", "kernel image", "boot information", "modules", "kernel page tables", "partial pages"];
    let by_reason: u64 = reasons.iter().map(|reason| run.number_after(&format!("  {reason}: "))).sum();
    assert_eq!(by_reason, reserved, "the reasons must add up to the reserved total");
    let listed: u64 = run
        .text()
        .lines()
        .filter(|line| line.starts_with("untyped ") && line.contains(": 0x"))
        .map(|line| {
            let range = line.split_once(": ").unwrap().1.split_whitespace().next().unwrap();
            let (start, end) = range.split_once('-').unwrap();
            hex_after(end, "") - hex_after(start, "")
        })
        .sum();
    assert_eq!(listed, untyped, "the listed untyped capabilities must add up to the total");
    (usable, untyped, reserved, run.number_after("  kernel page tables: "))
}

#[test]
fn untyped_memory_follows_the_machine_and_adds_up() {
    let small = Boot::stage(STAGE).memory_mib(128).run();
    small.expect_success();
    let large = Boot::stage(STAGE).memory_mib(512).run();
    large.expect_success();
    let (usable_small, untyped_small, _, tables_small) = accounting(&small);
    let (usable_large, untyped_large, _, tables_large) = accounting(&large);
    assert!(usable_large > usable_small + (300 << 20));
    assert_eq!(
        untyped_large - untyped_small,
        (usable_large - usable_small) - (tables_large - tables_small),
        "every extra byte of RAM becomes untyped, but for extra kernel page tables"
    );
}

/// With 4 GiB, RAM lies on both sides of the PCI hole below 4 GiB: two
/// untyped regions, and a direct map reaching past 4 GiB.
#[test]
fn ram_above_four_gibibytes_becomes_a_second_untyped() {
    let run = Boot::stage(STAGE).memory_mib(4096).run();
    run.expect_success().expect_lines(&["untyped 0: 0x", "untyped 1: 0x100000000-", "in 2 capabilities"]);
    let (usable, untyped, _, _) = accounting(&run);
    assert!(usable > (4u64 << 30) - (8 << 20), "nearly all of 4 GiB is usable");
    assert!(untyped > (4u64 << 30) - (16 << 20));
    assert!(run.number_after("direct map: ") > 4096, "the direct map reaches past 4 GiB");
}

#[test]
fn writing_a_read_only_kernel_page_still_faults() {
    Boot::stage(STAGE).command_line("crash=write-read-only").run().expect_failure().expect_lines(&[
        "EXCEPTION: page fault (vector 14)",
        "page fault: protection violation, write, kernel mode",
    ]);
}
