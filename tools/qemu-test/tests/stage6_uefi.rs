//! Stage 6 booted with UEFI firmware (OVMF) instead of the BIOS
//! (`make image-6` first): the shell runs as under the BIOS, on the serial
//! console, with the timer (the PIT), the PS/2 keyboard and the exit device
//! of QEMU's PC, which OVMF leaves in place.

use qemu_test::Boot;

const STAGE: u32 = 6;
const PROMPT: &str = "rinit> ";

#[test]
fn the_shell_runs_under_uefi() {
    let run = Boot::stage(STAGE)
        .uefi()
        .timeout_secs(120)
        .type_after(PROMPT, "echo hello from UEFI\r")
        .type_after(PROMPT, "start child\r")
        .type_after(PROMPT, "send raw 5\r")
        .type_after("Received from master: 5", "shutdown\r")
        .run();
    run.expect_success().expect_lines(&[
        "BdsDxe: starting Boot",
        "console: no VGA text screen",
        "Stage 6: channels",
        "module: ",
        "timer: 100 ticks a second",
        "rinit> echo hello from UEFI",
        "hello from UEFI",
        "task 249: started",
        "Received from master: 5",
        "shutting down",
        "the first task exited with code 0: stopping",
    ]);
}

/// Keys pressed on the PS/2 keyboard reach the shell after UEFI (whose own
/// keyboard driver used the same controller before the kernel started).
#[test]
fn the_keyboard_types_into_the_shell_under_uefi() {
    Boot::stage(STAGE)
        .uefi()
        .timeout_secs(120)
        .keys_after(PROMPT, "echo typed on the keyboard\n")
        .type_after("typed on the keyboard\r\nrinit> ", "shutdown\r")
        .run()
        .expect_success()
        .expect_lines(&["echo typed on the keyboard", "typed on the keyboard", "shutting down"]);
}
