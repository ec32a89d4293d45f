//! The two ways a kernel is loaded hand it the same information: GRUB
//! (Multiboot2, from the ISO) and QEMU's own loader (Multiboot 1, which
//! `common::multiboot1` rewrites as Multiboot2), on stage 6, the stage with
//! modules (`make image-6` first).

use qemu_test::{Boot, Transcript};

const COMMAND_LINE: &str = "crash=none x=1,2";

/// The lines of the boot report that do not depend on where the loader
/// put things: the command line and each module's size and name.
fn handed_over(run: &Transcript) -> Vec<String> {
    run.text()
        .lines()
        .filter_map(|line| match line {
            _ if line.starts_with("command line: ") || line.starts_with("modules: ") => {
                Some(line.to_string())
            }
            _ => line.strip_prefix("module: ").map(|rest| {
                // "0x19a000 - 0x333a60 (1677920 bytes) \"rinit\"": the size and name.
                rest.split_once(" (").map_or(rest, |(_, size_and_name)| size_and_name).to_string()
            }),
        })
        .collect()
}

fn boot_report(boot: Boot) -> Transcript {
    boot.command_line(COMMAND_LINE).type_after("rinit> ", "shutdown\r").timeout_secs(90).run()
}

#[test]
fn grub_and_qemus_loader_hand_over_the_same_command_line_and_modules() {
    let grub = boot_report(Boot::stage(6).through_grub());
    let fast = boot_report(Boot::stage(6));
    grub.expect_success().expect_lines(&["bootloader: GRUB"]);
    fast.expect_success().expect_lines(&["bootloader: qemu"]);
    let (from_grub, from_qemu) = (handed_over(&grub), handed_over(&fast));
    assert!(from_grub.contains(&format!("command line: \"{COMMAND_LINE}\"")), "{from_grub:?}");
    assert!(from_grub.iter().any(|line| line.ends_with("\"rinit\"")), "{from_grub:?}");
    assert_eq!(from_grub, from_qemu, "what GRUB passed, then what QEMU's loader passed");
    // Both memory maps come from the firmware's E820 table: nearly all of
    // the 128 MiB is usable either way.
    for run in [&grub, &fast] {
        let usable = run.number_after("usable memory: ");
        assert!((126 * 1024..128 * 1024).contains(&usable), "usable memory {usable} KiB");
    }
}
