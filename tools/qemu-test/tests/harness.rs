//! Boot tests of the runner itself: reading the VGA text screen and pressing
//! keys on the PS/2 keyboard, on stage 1's unchanged kernel (`make image-1`
//! first). Stage 1 ignores the keyboard, so the keys can only be shown to
//! reach QEMU; what a guest makes of them is tested with stage 6's shell.

use qemu_test::{Boot, FAILURE_MARKERS, Transcript, screen};

const STAGE: u32 = 1;

/// The line stage 1 prints last before it halts, when booted without the
/// exit device.
const HALTED: &str = "halted. To quit QEMU: Ctrl-A, then X (or close its window)";

/// What the screen must show after stage 1 halted: every line the kernel
/// printed on the serial console (it fits on one screen), wrapped at 80
/// columns, then blank rows.
fn expected_screen(run: &Transcript) -> Vec<String> {
    let mut rows: Vec<String> = Vec::new();
    for line in run.text().lines() {
        let characters: Vec<char> = line.chars().collect();
        if characters.is_empty() {
            rows.push(String::new());
        }
        for chunk in characters.chunks(screen::WIDTH) {
            rows.push(chunk.iter().collect::<String>().trim_end().to_string());
        }
    }
    assert!(rows.len() < screen::HEIGHT, "stage 1 now prints more than a screen: {rows:?}");
    rows.resize(screen::HEIGHT, String::new());
    rows
}

fn halted_boot() -> Boot {
    Boot::stage(STAGE).without_exit_device().timeout_secs(30)
}

#[test]
fn the_screen_shows_what_the_kernel_printed() {
    let run = halted_boot().screen_after(HALTED).stop_at(HALTED).run();
    run.expect_absent(&FAILURE_MARKERS).expect_screen_lines(&[
        "Stage 1: boot",
        "GDT, TSS and IDT loaded",
        "memory map: ",
        "usable memory: ",
        "stage 1 complete",
        HALTED,
    ]);
    let screen = run.screen().expect("a screen was captured");
    for (row, line) in screen.iter().enumerate() {
        println!("{row:2} |{line}");
    }
    assert_eq!(screen, expected_screen(&run));
    assert_eq!(run.screens().len(), 1);
    // Halted, the kernel changes nothing: the screen as QEMU is stopped is
    // the same.
    assert_eq!(run.final_screen(), Some(screen));
}

/// Every key the runner maps is accepted by QEMU's `sendkey`; stage 1 does
/// not read the keyboard, so neither the serial console nor the screen
/// changes, and the run ends as without keys.
#[test]
fn every_mapped_key_reaches_qemu_and_a_guest_that_ignores_them_runs_on() {
    let every_key: String = (' '..='~').chain(['\t', '\x08', '\x1b', '\n']).collect();
    let run =
        halted_boot().keys_after("stage 1 complete", &every_key).screen_after(HALTED).stop_at(HALTED).run();
    run.expect_absent(&FAILURE_MARKERS).expect_lines(&["stage 1 complete", HALTED]);
    assert_eq!(run.text().lines().last(), Some(HALTED));
    assert_eq!(run.screen(), Some(expected_screen(&run)));
    println!("pressed {} keys in a run of {:.2} s", every_key.len(), run.elapsed.as_secs_f64());
}

/// A guest that exits (through the exit device) while keys are being
/// pressed ends the keys quietly: the run passes on what it printed.
#[test]
fn a_guest_that_exits_during_the_keys_is_no_failure() {
    let run = Boot::stage(STAGE).keys_after("Stage 1: boot", &"typing on ".repeat(20)).run();
    run.expect_success().expect_lines(&["stage 1 complete"]);
    assert_eq!(run.screen(), None);
    assert_eq!(run.final_screen(), None);
}

/// Without keys or screens, QEMU has no monitor and the transcript no
/// screens.
#[test]
fn a_plain_boot_captures_no_screen() {
    let run = Boot::stage(STAGE).run();
    run.expect_success();
    assert_eq!(run.screen(), None);
    assert!(run.screens().is_empty());
}

/// `mkiso` makes an ISO again exactly when what goes on it changed: the
/// command line, a file's bytes; the same inputs leave the file as it was
/// (the same inode: not rewritten).
#[test]
fn an_iso_is_made_again_only_when_its_inputs_change() {
    use qemu_test::iso::{IsoSpec, build_iso_if_changed};
    use std::os::unix::fs::MetadataExt;
    let folder = std::env::temp_dir().join(format!("mkiso-test-{}", std::process::id()));
    std::fs::create_dir_all(&folder).unwrap();
    let kernel = folder.join("kernel.elf");
    std::fs::copy(qemu_test::repository_root().join("build/stage-1/kernel.elf"), &kernel).unwrap();
    let iso = folder.join("stage-1.iso");
    let mut spec = IsoSpec { title: "Stage 1".into(), kernel: kernel.clone(), ..IsoSpec::default() };
    let inode = |path: &std::path::Path| std::fs::metadata(path).unwrap().ino();

    assert!(build_iso_if_changed(&spec, &iso).unwrap(), "the first time it is made");
    let first = inode(&iso);
    assert!(!build_iso_if_changed(&spec, &iso).unwrap(), "the same inputs: not made again");
    assert_eq!(inode(&iso), first, "the same inputs: the file is left as it was");

    spec.command_line = "crash=panic".into();
    assert!(build_iso_if_changed(&spec, &iso).unwrap(), "another command line: made again");
    assert_ne!(inode(&iso), first);
    // The new one holds the new GRUB configuration.
    let holds =
        |text: &str| std::fs::read(&iso).unwrap().windows(text.len()).any(|bytes| bytes == text.as_bytes());
    assert!(holds("multiboot2 /boot/kernel.elf crash=panic\n"), "the new configuration is on the ISO");

    let second = inode(&iso);
    let mut bytes = std::fs::read(&kernel).unwrap();
    bytes.push(0);
    std::fs::write(&kernel, bytes).unwrap();
    assert!(build_iso_if_changed(&spec, &iso).unwrap(), "the kernel's bytes changed: made again");
    assert_ne!(inode(&iso), second);
    let _ = std::fs::remove_dir_all(&folder);
}
