//! The graded exercises of chapter 1 (`exercises/stage-1.txt`): each test
//! fails on the stage as shipped and passes once its exercise is solved.
//! Run them with `make grade STAGE=1`; see `exercises/README.md`.

#![cfg(feature = "exercises")]

use qemu_test::Boot;

const STAGE: u32 = 1;

/// divide-error: `crash=divide-error` divides by zero, and the exception
/// report names the divide error (vector 0).
#[test]
fn divide_error() {
    Boot::stage(STAGE)
        .command_line("crash=divide-error")
        .run()
        .expect_lines(&[
            "crashing on purpose: DivideError",
            "EXCEPTION: divide error (vector 0)",
            "error code 0x0",
            "rip 0xffffffff80",
        ])
        .expect_failure()
        .expect_absent(&["the crash did not stop the kernel"]);
}

/// map-totals: after the memory map, one line adds up its regions by type,
/// in the order the types first appear. The test adds them up itself, to
/// the byte, from the regions the kernel lists, on two machine sizes.
#[test]
fn map_totals() {
    for mib in [128, 512] {
        let run = Boot::stage(STAGE).memory_mib(mib).run();
        run.expect_success();
        let mut totals: Vec<(String, u64)> = Vec::new();
        // "  0x000000000000 - 0x00000009fc00  available              639 KiB"
        for line in run.text().lines().filter(|line| line.starts_with("  0x") && line.ends_with(" KiB")) {
            let (start, rest) = line.trim_start().split_once(" - ").unwrap();
            let (end, rest) = rest.split_once(' ').unwrap();
            let kind = rest.trim().rsplitn(3, ' ').nth(2).unwrap().trim().to_string();
            let size = hex(end) - hex(start);
            match totals.iter_mut().find(|(known, _)| *known == kind) {
                Some((_, total)) => *total += size,
                None => totals.push((kind, size)),
            }
        }
        assert!(totals.len() >= 2, "the memory map lists available and reserved regions");
        let parts: Vec<String> =
            totals.iter().map(|(kind, bytes)| format!("{kind} {} KiB", bytes / 1024)).collect();
        run.expect_lines(&["memory map: ", &format!("memory map totals: {}", parts.join(", ")), "modules: "]);
    }
}

fn hex(text: &str) -> u64 {
    u64::from_str_radix(text.trim_start_matches("0x"), 16).unwrap()
}

/// invalid-opcode-bytes: the report of an invalid opcode shows the bytes
/// at rip, where `crash=invalid-opcode`'s `ud2` is `0f 0b`.
#[test]
fn invalid_opcode_bytes() {
    let run = Boot::stage(STAGE).command_line("crash=invalid-opcode").run();
    run.expect_lines(&["EXCEPTION: invalid opcode (vector 6)", "bytes at rip: 0f 0b"]).expect_failure();
    let bytes = run.text().lines().find_map(|line| line.split_once("bytes at rip: ")).unwrap().1;
    let count = bytes
        .split_whitespace()
        .filter(|byte| byte.len() == 2 && u8::from_str_radix(byte, 16).is_ok())
        .count();
    assert!((2..=16).contains(&count), "expected 2 to 16 two-digit hex bytes, got {bytes:?}");
    // Other exceptions do not show them.
    Boot::stage(STAGE)
        .command_line("crash=page-fault")
        .run()
        .expect_failure()
        .expect_absent(&["bytes at rip"]);
}

/// bad-selector: `crash=bad-selector` loads a segment selector past the end
/// of the GDT into DS: a general protection fault whose error code is that
/// selector, which the report decodes.
#[test]
fn bad_selector() {
    Boot::stage(STAGE)
        .command_line("crash=bad-selector")
        .run()
        .expect_lines(&[
            "crashing on purpose: BadSelector",
            "EXCEPTION: general protection fault (vector 13)",
            "error code 0x1000",
            "the error code names a selector: GDT index 512",
            "rip 0xffffffff80",
        ])
        .expect_failure();
    // A page fault's error code is not a selector.
    Boot::stage(STAGE)
        .command_line("crash=page-fault")
        .run()
        .expect_failure()
        .expect_absent(&["names a selector"]);
}
