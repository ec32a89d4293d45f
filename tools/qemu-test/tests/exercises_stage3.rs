//! The graded exercises of chapter 3 (`exercises/stage-3.txt`): each test
//! fails on the stage as shipped and passes once its exercise is solved.
//! Run them with `make grade STAGE=3`; see `exercises/README.md`.

#![cfg(feature = "exercises")]

use qemu_test::Boot;

const STAGE: u32 = 3;

/// The hexadecimal number that follows `prefix` in `line`.
fn hex_after(line: &str, prefix: &str) -> u64 {
    let rest = line.split_once(prefix).unwrap_or_else(|| panic!("no {prefix:?} in {line:?}")).1;
    let digits: String = rest.trim_start_matches("0x").chars().take_while(char::is_ascii_hexdigit).collect();
    u64::from_str_radix(&digits, 16).unwrap_or_else(|_| panic!("no number after {prefix:?} in {line:?}"))
}

/// The decimal number that follows `prefix` in `line`.
fn number_after(line: &str, prefix: &str) -> u64 {
    let rest = line.split_once(prefix).unwrap_or_else(|| panic!("no {prefix:?} in {line:?}")).1;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().unwrap_or_else(|_| panic!("no number after {prefix:?} in {line:?}"))
}

/// largest-untyped: after the list of untyped capabilities, the kernel
/// names the largest. With 4 GiB there are two, on both sides of the PCI
/// hole; the test finds the largest itself from the list.
#[test]
fn largest_untyped() {
    let run = Boot::stage(STAGE).memory_mib(4096).run();
    run.expect_success().expect_lines(&["untyped 0: 0x", "untyped 1: 0x", "largest untyped: untyped "]);
    let (index, kib) = run
        .text()
        .lines()
        .filter_map(|line| line.strip_prefix("untyped "))
        .filter_map(|rest| rest.split_once(": 0x"))
        .map(|(index, rest)| (index.parse::<u64>().unwrap(), number_after(rest, "(")))
        .max_by_key(|&(_, kib)| kib)
        .unwrap();
    run.expect_lines(&[&format!("largest untyped: untyped {index}, {kib} KiB"), "stage 3 complete"]);
}

/// large-page: a new kind of object, a 2 MiB page, is in the kinds table,
/// and one is retyped at a 2 MiB boundary.
#[test]
fn large_page() {
    let run = Boot::stage(STAGE).run();
    run.expect_success().expect_lines(&[
        "object kinds:",
        "LargePage",
        "retype LargePage: object at 0x",
        "stage 3 complete",
    ]);
    let kinds = run.text().lines().find(|line| line.trim_start().starts_with("LargePage")).unwrap();
    assert_eq!(
        kinds.split_whitespace().collect::<Vec<_>>(),
        ["LargePage", "2097152", "2097152"],
        "{kinds:?}"
    );
    let retype = run.text().lines().find(|line| line.starts_with("retype LargePage: object at ")).unwrap();
    let object = hex_after(retype, "object at ");
    assert_eq!(object % 0x20_0000, 0, "a large page is 2 MiB aligned: {retype:?}");
    assert_eq!(hex_after(retype, "-> "), object + 0x20_0000, "the watermark ends after the page: {retype:?}");
}

/// retype-many: retype makes several objects at once, all or none: a
/// request that does not fit whole changes nothing.
#[test]
fn retype_many() {
    let run = Boot::stage(STAGE).run();
    run.expect_success().expect_lines(&[
        "retype 3 RawPage at once: refused: out of memory",
        "retype 2 RawPage at once: objects at 0x",
        "stage 3 complete",
    ]);
    let lines: Vec<&str> = run.text().lines().collect();
    let refused = lines.iter().find(|line| line.starts_with("retype 3 RawPage at once: ")).unwrap();
    let made = lines.iter().find(|line| line.starts_with("retype 2 RawPage at once: ")).unwrap();
    assert!(refused.ends_with("; 0 children"), "the refused request made no object: {refused:?}");
    assert!(made.ends_with("; 2 children"), "{made:?}");
    let before = hex_after(refused, "watermark stays ");
    assert_eq!(hex_after(made, "watermark "), before, "the refused request moved the watermark");
    assert_eq!(hex_after(made, "objects at "), before, "{made:?}");
    assert_eq!(hex_after(made, "-> "), before + 2 * 4096, "{made:?}");
}
