//! Boot tests of the drivers in user space (`programs/serial`,
//! `programs/keyboard`): rinit starts them at boot and `tasks` shows them;
//! each input source stops alone and starts again with `run`; a pasted
//! line arrives whole; a revoked interrupt capability delivers nothing; a
//! hostile serial driver cannot silence the kernel, and its fault stops it
//! alone while the shell goes on.

use super::{PROMPT, STAGE};
use qemu_test::{Boot, Transcript, repository_root};

/// The root slot of driver `name`'s task, from rinit's boot line
/// `driver NAME: started (task in slot N): ...`.
fn driver_slot(output: &str, name: &str) -> u8 {
    let prefix = format!("driver {name}: started (task in slot ");
    let line = output.lines().find_map(|line| line.strip_prefix(prefix.as_str()));
    let slot = line.and_then(|rest| rest.split(')').next()).unwrap_or_else(|| panic!("no line {prefix:?}"));
    slot.parse().unwrap_or_else(|_| panic!("{prefix}{slot}: not a slot"))
}

fn stop_serial(output: &str) -> String {
    format!("set active {} 0\r", driver_slot(output, "serial"))
}

fn stop_keyboard(output: &str) -> String {
    format!("set active {} 0\r", driver_slot(output, "keyboard"))
}

/// The transcript between the first `from` and the next `to` after it.
fn between<'t>(run: &'t Transcript, from: &str, to: &str) -> &'t str {
    let text = run.text();
    let start = text.find(from).unwrap_or_else(|| run.fail(&format!("no {from:?}")));
    let rest = &text[start..];
    &rest[..rest.find(to).unwrap_or_else(|| run.fail(&format!("no {to:?} after {from:?}")))]
}

// ANCHOR: boot_test
/// At boot rinit starts both drivers, `tasks` shows them running, and a
/// line typed on either source runs.
#[test]
fn the_drivers_start_at_boot_and_tasks_shows_them() {
    let run = Boot::stage(STAGE)
        .timeout_secs(90)
        .type_after(PROMPT, "tasks\r")
        .type_after(PROMPT, "echo over serial\r")
        .keys_after(PROMPT, "echo on the keyboard\n")
        .type_after("\non the keyboard", "shutdown\r")
        .run();
    run.expect_success().expect_lines(&[
        "driver serial: started (task in slot ",
        "driver keyboard: started (task in slot ",
        "Type help for the commands.",
        "rinit> tasks",
        "4: rinit running",
        "rinit> echo over serial",
        "over serial",
        "rinit> echo on the keyboard",
        "on the keyboard",
    ]);
    let text = run.text();
    for name in ["serial", "keyboard"] {
        let line = format!("{}: {name} running", driver_slot(text, name));
        assert!(text.lines().any(|printed| printed == line), "no {line:?} in:\n{text}");
    }
    assert!(text.contains(": hello inactive"), "{text}");
}
// ANCHOR_END: boot_test

// ANCHOR: stop_serial_test
/// `set active <serial> 0` stops the serial source only: what is typed
/// there waits in the chip, the keyboard goes on, `tasks` says
/// `stopped`; `run serial` starts the driver again, with fresh
/// capabilities, and it reads what waited.
#[test]
fn stopping_the_serial_driver_leaves_the_keyboard_working_and_run_starts_it_again() {
    let run = Boot::stage(STAGE)
        .timeout_secs(120)
        .type_after_from(PROMPT, stop_serial)
        .type_after(": stopped", "echo held\r")
        .keys_after(PROMPT, "echo the keyboard works\n")
        .keys_after("\nthe keyboard works", "tasks\n")
        .keys_after(" serial stopped", "run serial\n")
        .type_after("driver serial: started", "echo serial is back\r")
        .type_after("\nserial is back", "shutdown\r")
        .run();
    run.expect_success().expect_lines(&[
        ": stopped",
        "rinit> echo the keyboard works",
        "the keyboard works",
        "rinit> tasks",
        " keyboard running",
        " serial stopped",
        "rinit> run serial",
        "driver serial: started",
        "held",
        "serial is back",
    ]);
    let stopped = between(&run, ": stopped", "rinit> run serial");
    assert!(!stopped.contains("held"), "serial input arrived while its driver was stopped:\n{stopped}");
}
// ANCHOR_END: stop_serial_test

/// `set active <keyboard> 0` stops the keyboard only: keys pressed then
/// arrive nowhere, serial goes on; `run keyboard` starts it again.
#[test]
fn stopping_the_keyboard_driver_leaves_serial_working_and_run_starts_it_again() {
    let run = Boot::stage(STAGE)
        .timeout_secs(120)
        .type_after_from(PROMPT, stop_keyboard)
        .keys_after(": stopped", "qqq")
        .type_after(PROMPT, "echo serial works\r")
        .type_after("\nserial works", "tasks\r")
        .type_after(" keyboard stopped", "run keyboard\r")
        // Backspaces first: whatever of the q's the keyboard still held.
        .keys_after("driver keyboard: started", "\x08\x08\x08echo the keyboard is back\n")
        .type_after("\nthe keyboard is back", "shutdown\r")
        .run();
    run.expect_success().expect_lines(&[
        ": stopped",
        "rinit> echo serial works",
        "serial works",
        " keyboard stopped",
        " serial running",
        "driver keyboard: started",
        "the keyboard is back",
    ]);
    let stopped = between(&run, ": stopped", "driver keyboard: started");
    assert!(!stopped.contains('q'), "keys arrived while the keyboard driver was stopped:\n{stopped}");
}

// ANCHOR: paste_test
/// A 200-character line pasted in one write, far more than the input
/// channel's 16 messages and the chip's 16 bytes: the serial driver keeps
/// what the channel cannot take yet, and every byte arrives, in order:
/// the shell counts exactly the 80 past its 120-character limit. A line
/// of 120 pasted the same way runs whole.
#[test]
fn a_pasted_200_character_line_arrives_whole() {
    let long = format!("echo {}", "0123456789".repeat(20).chars().take(195).collect::<String>());
    let fits = format!("echo {}", "abcdefghij".repeat(12).chars().take(115).collect::<String>());
    assert_eq!((long.len(), fits.len()), (200, 120));
    let run = Boot::stage(STAGE)
        .timeout_secs(90)
        .paste_after(PROMPT, &format!("{long}\r"))
        .paste_after("nothing ran\r\nrinit> ", &format!("{fits}\r"))
        .type_after(&format!("\n{}", &fits[5..]), "shutdown\r")
        .run();
    run.expect_success().expect_lines(&[
        "line too long: 120 characters at most; 80 more were dropped; nothing ran",
        &format!("rinit> {fits}"),
        &fits[5..],
    ]);
}
// ANCHOR_END: paste_test

// ANCHOR: revoke_test
/// `revoke 208` destroys what the shell made for the serial driver out of
/// its untyped (`rinit::drivers`): its IrqLine, its ports, its channels,
/// the driver's copies with them. The driver's next call is refused and it
/// ends; what is typed on serial then reaches no one (it waits in the
/// chip) until `run serial` makes a new driver, which reads it.
#[test]
fn a_revoked_interrupt_capability_delivers_nothing() {
    let run = Boot::stage(STAGE)
        .timeout_secs(120)
        .type_after(PROMPT, "revoke 208\r")
        .type_after("my capabilities are gone", "echo after\r")
        .keys_after(PROMPT, "tasks\n")
        .keys_after(" serial ended", "run serial\n")
        .type_after("driver serial: started", "echo new driver\r")
        .type_after("\nnew driver", "shutdown\r")
        .run();
    // The shell's line and the driver's come in either order.
    run.expect_success()
        .expect_lines(&["rinit> revoke 208", "slot 208: everything made from it is destroyed"])
        .expect_lines(&["rinit> revoke 208", "serial: the kernel refused a call ("])
        .expect_lines(&[" serial ended", "driver serial: started", "after", "new driver"]);
    let revoked = between(&run, "rinit> revoke 208", "driver serial: started");
    assert!(!revoked.contains("after"), "serial input arrived after the revoke:\n{revoked}");
}
// ANCHOR_END: revoke_test

// ANCHOR: hostile_driver_test
/// `hostile-serial` (`programs/hostile/src/serial.rs`) loaded as the
/// serial driver, typed at on the keyboard: every write to COM1 and every
/// access to a kernel port is refused; the interrupt it never acknowledges
/// and its fault stop only it; the kernel's reports still reach the serial
/// console (`run hostile` twice: its x87 fault), `tasks` shows the driver
/// ended, and the machine shuts down cleanly.
#[test]
fn a_hostile_serial_driver_cannot_silence_the_kernel_and_its_fault_stops_only_it() {
    let hostile = repository_root().join("target/release/hostile-serial");
    assert!(hostile.exists(), "{} is built with the image (make image-6)", hostile.display());
    let run = Boot::stage(STAGE)
        .timeout_secs(120)
        .only_modules(&["rinit", "keyboard", "hostile"])
        .extra_module(&hostile, "serial")
        .type_after("waiting for an interrupt I will never acknowledge", "x")
        .keys_after("reading address 0", "run hostile\n")
        .keys_after("hostile: left", "run hostile\n")
        .keys_after("stopped by a fault", "tasks\n")
        .keys_after(" serial ended", "shutdown\n")
        .run();
    run.expect_success().expect_absent(&["MISMATCH"]).expect_lines(&[
        "hostile-serial: write COM1's LCR: refused",
        "hostile-serial: write COM1's IER: refused",
        "hostile-serial: write COM1's THR: refused",
        "hostile-serial: read port 0x20: refused",
        "hostile-serial: write port 0xf4: refused",
        "hostile-serial: bind the line again: refused",
        "hostile-serial: acknowledge before it fired: refused",
        "hostile-serial: took an interrupt; not acknowledging it; reading address 0",
        "stopped by a fault: page fault",
        "hostile: committing an x87 divide by zero",
        "stopped by a fault",
        " serial ended",
        " keyboard running",
        "shutting down",
        "the first task exited with code 0: stopping",
    ]);
    // The kernel's own lines, on its debug console, are the same as on
    // COM1: the driver silenced none.
    for line in ["stopped by a fault: page fault", "the first task exited with code 0: stopping"] {
        assert!(run.kernel_text().contains(line), "{line:?} not on the kernel's channel");
    }
}
// ANCHOR_END: hostile_driver_test
