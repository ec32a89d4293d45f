//! The graded exercises of chapter 2 (`exercises/stage-2.txt`): each test
//! fails on the stage as shipped and passes once its exercise is solved.
//! Run them with `make grade STAGE=2`; see `exercises/README.md`.

#![cfg(feature = "exercises")]

use qemu_test::Boot;

const STAGE: u32 = 2;

/// Where the kernel's direct map shows physical address 0.
const DIRECT_MAP_BASE: u64 = 0xffff_8000_0000_0000;

/// The hexadecimal number that follows `prefix` in `line`.
fn hex_after(line: &str, prefix: &str) -> u64 {
    let rest = line.split_once(prefix).unwrap_or_else(|| panic!("no {prefix:?} in {line:?}")).1;
    let digits: String = rest.trim_start_matches("0x").chars().take_while(char::is_ascii_hexdigit).collect();
    u64::from_str_radix(&digits, 16).unwrap_or_else(|_| panic!("no number after {prefix:?} in {line:?}"))
}

/// vga-twice: a second capability to the VGA page, mapped at 0x40003000,
/// writes a second line; the direct map's view shows it arrived.
#[test]
fn vga_twice() {
    // SeaBIOS sets up the VGA text mode (qboot, the fast boot's firmware,
    // does not): the screen's memory must hold what is written to it.
    Boot::stage(STAGE).with_seabios().run().expect_success().expect_lines(&[
        "map the VGA text buffer at 0x40001000, rights rw-u: ok",
        "map the VGA text buffer again at 0x40003000, rights rw-u: ok",
        "wrote to the screen through 0x40003000; the direct map's view of 0xb8000 reads \"and through a second mapping\"",
        "stage 2 complete",
    ]);
}

/// no-write-execute: a mapping both writable and executable is refused,
/// with its own error, and changes nothing.
#[test]
fn no_write_execute() {
    let run = Boot::stage(STAGE).run();
    run.expect_success().expect_lines(&[
        "-- every rule, broken on purpose --",
        "map a page writable and executable at 0x40002000: refused: ",
        "unmap the page at 0x40000000: ok",
        "stage 2 complete",
    ]);
    let line =
        run.text().lines().find(|line| line.starts_with("map a page writable and executable")).unwrap();
    assert!(line.contains("rwx"), "the error names the rights it refuses (rwx...): {line:?}");
    // The refused mapping changed nothing: the same page maps there later.
    run.expect_lines(&[
        "map a page writable and executable at 0x40002000: refused: ",
        "map another page there: ok",
    ]);
}

/// translate: a page-table walk prints each level it passes, down to the
/// page, or to the first entry that is not present.
#[test]
fn translate() {
    let run = Boot::stage(STAGE).run();
    run.expect_success();
    let pattern = run
        .text()
        .lines()
        .find(|line| line.starts_with("wrote a pattern through the direct map at "))
        .unwrap();
    let page = hex_after(pattern, "direct map at ") - DIRECT_MAP_BASE;
    run.expect_lines(&[
        &format!("translate 0x40000000: PML4[0] -> PDPT[1] -> PD[0] -> PT[0] -> 4 KiB page at {page:#x}"),
        &format!("translate 0x40000abc: PML4[0] -> PDPT[1] -> PD[0] -> PT[0] -> 4 KiB page at {page:#x}, address {:#x}", page + 0xabc),
        "translate 0x40200000: PML4[0] -> PDPT[1] -> PD[1] not present",
        "translate 0x80000000: PML4[0] -> PDPT[2] not present",
        "translate 0xffff800000201000: PML4[256] -> PDPT[0] -> PD[1] -> 2 MiB page at 0x200000, address 0x201000",
        "stage 2 complete",
    ]);
}
