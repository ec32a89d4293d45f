//! Host-side tools for the kernels: build bootable ISOs ([`iso`]), boot a
//! stage's image in QEMU under a timeout ([`Boot`]), optionally type into
//! its serial console, and check what it printed ([`Transcript`]). A boot
//! can also leave out the exit device, as `make stage-N` does, and stop at
//! a line the kernel prints when it halts. The binaries: `mkiso` (used by
//! the Makefile) and `book-output` (records the book's output samples).
//!
//! A boot test reads like what a person would do:
//!
//! ```no_run
//! use qemu_test::Boot;
//! let run = Boot::stage(1).memory_mib(256).run();
//! run.expect_success();
//! run.expect_lines(&["Stage 1: boot", "usable memory:"]);
//! ```
//!
//! The images come from `make images`: `build/stage-N.iso`, with the kernel
//! also at `build/stage-N/kernel.elf` and any modules in
//! `build/stage-N/modules/`, from which variants with another kernel command
//! line are made.

pub mod image;
pub mod iso;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};
use std::{fs, thread};

/// QEMU's exit status when the kernel reports success through isa-debug-exit.
pub const EXIT_SUCCESS: i32 = 33;
/// QEMU's exit status when the kernel reports a failure.
pub const EXIT_FAILURE: i32 = 35;

/// Lines that must never appear in a run that is meant to succeed.
pub const FAILURE_MARKERS: [&str; 2] = ["KERNEL PANIC", "EXCEPTION:"];

/// The repository's root folder.
pub fn repository_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Where `make images` puts the files of stage `stage`.
pub fn stage_build_dir(stage: u32) -> PathBuf {
    repository_root().join(format!("build/stage-{stage}"))
}

/// Where `make images` puts the ISO of stage `stage`.
pub fn stage_iso(stage: u32) -> PathBuf {
    repository_root().join(format!("build/stage-{stage}.iso"))
}

/// Checks that stage `stage`'s kernel image carries a valid Multiboot2
/// header, and prints its sizes: loaded in memory, on disk, and the ISO.
pub fn check_and_report_image(stage: u32) {
    let kernel_path = stage_build_dir(stage).join("kernel.elf");
    let kernel = fs::read(&kernel_path)
        .unwrap_or_else(|_| panic!("{} is missing: run `make images`", kernel_path.display()));
    let offset =
        image::multiboot2_header_offset(&kernel).expect("no valid Multiboot2 header in the first 32 KiB");
    let loaded = image::loaded_size(&kernel).expect("the kernel is a valid ELF file");
    let iso = fs::metadata(stage_iso(stage)).expect("the ISO exists").len();
    println!(
        "stage {stage}: kernel image {} KiB loaded ({} KiB file with debug information), ISO {} KiB, Multiboot2 header at offset {offset:#x}",
        loaded / 1024,
        kernel.len() / 1024,
        iso / 1024
    );
}

/// One step of an interactive run.
#[derive(Clone, Debug)]
enum Step {
    /// Wait until the console has printed this text.
    WaitFor(String),
    /// Type this text into the serial console.
    Type(String),
    /// Type the text this function makes of everything printed so far.
    TypeFrom(fn(&str) -> String),
}

/// A boot of one stage's image in QEMU, set up step by step.
#[derive(Clone, Debug)]
pub struct Boot {
    stage: u32,
    memory_mib: u32,
    command_line: Option<String>,
    steps: Vec<Step>,
    exit_device: bool,
    stop_at: Option<String>,
    timeout: Duration,
}

impl Boot {
    /// Boots `build/stage-N.iso` with 128 MiB of memory.
    pub fn stage(stage: u32) -> Self {
        Self {
            stage,
            memory_mib: 128,
            command_line: None,
            steps: Vec::new(),
            exit_device: true,
            stop_at: None,
            timeout: Duration::from_secs(60),
        }
    }

    /// Gives the machine `mib` MiB of memory.
    pub fn memory_mib(mut self, mib: u32) -> Self {
        self.memory_mib = mib;
        self
    }

    /// Boots a variant of the image with this kernel command line.
    pub fn command_line(mut self, command_line: &str) -> Self {
        self.command_line = Some(command_line.to_string());
        self
    }

    /// Waits until the console has printed `prompt`, then types `text`
    /// into the serial console.
    pub fn type_after(mut self, prompt: &str, text: &str) -> Self {
        self.steps.push(Step::WaitFor(prompt.to_string()));
        self.steps.push(Step::Type(text.to_string()));
        self
    }

    /// Boots without the `isa-debug-exit` device, as `make stage-N` does:
    /// the kernel cannot end QEMU and halts instead. Use with
    /// [`Boot::stop_at`].
    pub fn without_exit_device(mut self) -> Self {
        self.exit_device = false;
        self
    }

    /// Stops QEMU as soon as the console has printed `text` (and fails if
    /// it never does): for a kernel that halts rather than exits.
    pub fn stop_at(mut self, text: &str) -> Self {
        self.stop_at = Some(text.to_string());
        self
    }

    /// Waits until the console has printed `prompt`, then types what
    /// `text` makes of everything printed so far: for answers that depend
    /// on what the guest printed (an address, a slot number).
    pub fn type_after_from(mut self, prompt: &str, text: fn(&str) -> String) -> Self {
        self.steps.push(Step::WaitFor(prompt.to_string()));
        self.steps.push(Step::TypeFrom(text));
        self
    }

    /// Gives up (and fails) after `seconds` seconds.
    pub fn timeout_secs(mut self, seconds: u64) -> Self {
        self.timeout = Duration::from_secs(seconds);
        self
    }

    fn label(&self) -> String {
        let mut label = format!("stage {} with {} MiB", self.stage, self.memory_mib);
        if let Some(command_line) = &self.command_line {
            label += &format!(", command line \"{command_line}\"");
        }
        if !self.exit_device {
            label += ", without the exit device";
        }
        label
    }

    /// The ISO to boot, made first when it is a command-line variant.
    fn iso(&self) -> PathBuf {
        let Some(command_line) = &self.command_line else {
            let iso = stage_iso(self.stage);
            assert!(iso.exists(), "{} is missing: run `make images` first", iso.display());
            return iso;
        };
        let dir = stage_build_dir(self.stage);
        let kernel = dir.join("kernel.elf");
        assert!(kernel.exists(), "{} is missing: run `make images` first", kernel.display());
        let mut modules: Vec<(PathBuf, String)> = fs::read_dir(dir.join("modules"))
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|entry| (entry.path(), entry.file_name().to_string_lossy().into_owned()))
                    .collect()
            })
            .unwrap_or_default();
        modules.sort();
        let name: String =
            command_line.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
        let variants = dir.join("variants");
        fs::create_dir_all(&variants).expect("cannot create the variants folder");
        // Each test makes its own copy, so tests running at once never
        // share a half-written image.
        let iso = variants.join(format!("{name}-{}.iso", unique_suffix()));
        let spec = iso::IsoSpec {
            title: format!("Stage {} ({command_line})", self.stage),
            kernel,
            modules,
            command_line: command_line.clone(),
        };
        iso::build_iso(&spec, &iso).unwrap_or_else(|error| panic!("cannot build {}: {error}", iso.display()));
        iso
    }

    // ANCHOR: run
    /// Boots, plays the typing steps, waits for QEMU to exit (or the
    /// timeout) and returns what the serial console printed.
    pub fn run(&self) -> Transcript {
        let label = self.label();
        let iso = self.iso();
        let started = Instant::now();
        let mut command = Command::new("qemu-system-x86_64");
        command.arg("-cdrom").arg(&iso).args(["-m", &format!("{}M", self.memory_mib)]).args([
            "-serial",
            "stdio",
            "-display",
            "none",
            "-monitor",
            "none",
            "-no-reboot",
        ]);
        if self.exit_device {
            command.args(["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"]);
        }
        let mut qemu = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot start qemu-system-x86_64 (is QEMU installed? `make test` installs it)");
        let output = Output::capture(&mut qemu);
        let deadline = started + self.timeout;

        let mut failure = None;
        let mut seen = 0;
        for step in &self.steps {
            match step {
                Step::WaitFor(text) => match output.wait_for(text, seen, deadline) {
                    Some(end) => seen = end,
                    None => {
                        failure = Some(format!("timed out waiting for {text:?} before typing"));
                        break;
                    }
                },
                Step::Type(text) => type_slowly(&mut qemu, text),
                Step::TypeFrom(make) => type_slowly(&mut qemu, &make(&output.text())),
            }
        }
        let deadline = match (&self.stop_at, &failure) {
            (Some(text), None) => {
                if output.wait_for(text, seen, deadline).is_none() {
                    failure = Some(format!("timed out waiting for {text:?}"));
                }
                Instant::now()
            }
            _ => deadline,
        };
        let status = wait_or_kill(&mut qemu, deadline);
        let elapsed = started.elapsed();
        if self.command_line.is_some() {
            let _ = fs::remove_file(&iso);
        }
        let transcript = Transcript { label, text: output.text(), status, elapsed };
        if let Some(message) = failure {
            transcript.fail(&message);
        }
        transcript
    }
    // ANCHOR_END: run
}

/// A suffix that differs between any two calls in this test run.
fn unique_suffix() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    format!("{}-{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// Types `text` a byte at a time, as a person would, so that the guest's
/// 16-byte receive FIFO never overflows.
fn type_slowly(qemu: &mut Child, text: &str) {
    let stdin = qemu.stdin.as_mut().expect("stdin is piped");
    for byte in text.bytes() {
        // A guest that has already stopped is reported by the checks.
        let _ = stdin.write_all(&[byte]).and_then(|()| stdin.flush());
        thread::sleep(Duration::from_millis(5));
    }
}

/// Waits for QEMU to exit until `deadline`, then kills it. Returns the exit
/// status, or `None` when it had to be killed.
fn wait_or_kill(qemu: &mut Child, deadline: Instant) -> Option<i32> {
    loop {
        if let Ok(Some(status)) = qemu.try_wait() {
            return status.code();
        }
        if Instant::now() >= deadline {
            let _ = qemu.kill();
            let _ = qemu.wait();
            return None;
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// QEMU's standard output (the serial console), collected by a thread.
struct Output {
    shared: Arc<(Mutex<Vec<u8>>, Condvar)>,
}

impl Output {
    fn capture(qemu: &mut Child) -> Self {
        let shared = Arc::new((Mutex::new(Vec::new()), Condvar::new()));
        let mut stdout = qemu.stdout.take().expect("stdout is piped");
        let writer = Arc::clone(&shared);
        thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buffer) {
                if n == 0 {
                    break;
                }
                let (bytes, arrived) = &*writer;
                bytes.lock().unwrap().extend_from_slice(&buffer[..n]);
                arrived.notify_all();
            }
        });
        Self { shared }
    }

    /// Waits until `text` appears at or after byte `from`; returns the
    /// offset just past it, or `None` at the deadline.
    fn wait_for(&self, text: &str, from: usize, deadline: Instant) -> Option<usize> {
        let (bytes, arrived) = &*self.shared;
        let mut bytes = bytes.lock().unwrap();
        loop {
            let haystack = String::from_utf8_lossy(&bytes[from.min(bytes.len())..]).into_owned();
            if let Some(position) = haystack.find(text) {
                return Some(from + position + text.len());
            }
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            bytes = arrived.wait_timeout(bytes, deadline - now).unwrap().0;
        }
    }

    /// Everything printed so far, with the serial line's `\r` removed.
    fn text(&self) -> String {
        let bytes = self.shared.0.lock().unwrap();
        String::from_utf8_lossy(&bytes).replace('\r', "")
    }
}

/// What one boot printed, how it ended, and checks on it. Every check
/// panics (failing the test) with the reason and the end of the transcript.
#[derive(Debug)]
pub struct Transcript {
    label: String,
    text: String,
    /// QEMU's exit status; `None` when it was killed at the timeout.
    pub status: Option<i32>,
    /// From starting QEMU to its exit.
    pub elapsed: Duration,
}

impl Transcript {
    /// Everything the serial console printed.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Fails the test with `reason`, showing the end of the transcript.
    pub fn fail(&self, reason: &str) -> ! {
        let lines: Vec<&str> = self.text.lines().collect();
        let tail = lines[lines.len().saturating_sub(40)..].join("\n");
        let status = self.status.map_or("killed at the timeout".to_string(), |s| format!("exit status {s}"));
        panic!(
            "{}: {reason}\n({status} after {:.2} s)\n--- last {} lines of the serial console ---\n{tail}\n---",
            self.label,
            self.elapsed.as_secs_f64(),
            lines.len().min(40)
        );
    }

    /// Checks that each of `expected` occurs in some line, in this order:
    /// each one in a later line than the one before.
    pub fn expect_lines(&self, expected: &[&str]) -> &Self {
        self.or_fail(self.check_lines(expected))
    }

    /// Checks that no line contains any of `forbidden`.
    pub fn expect_absent(&self, forbidden: &[&str]) -> &Self {
        self.or_fail(self.check_absent(forbidden))
    }

    /// Checks that QEMU exited with `status`.
    pub fn expect_status(&self, status: i32) -> &Self {
        self.or_fail(self.check_status(status))
    }

    /// Checks that the kernel stopped with its success code and printed no
    /// panic or exception report; prints the boot time.
    pub fn expect_success(&self) -> &Self {
        self.expect_absent(&FAILURE_MARKERS).expect_status(EXIT_SUCCESS);
        println!("{}: success (exit {EXIT_SUCCESS}) in {:.2} s", self.label, self.elapsed.as_secs_f64());
        self
    }

    /// Checks that the kernel stopped with its failure code.
    pub fn expect_failure(&self) -> &Self {
        self.expect_status(EXIT_FAILURE);
        println!(
            "{}: failure as expected (exit {EXIT_FAILURE}) in {:.2} s",
            self.label,
            self.elapsed.as_secs_f64()
        );
        self
    }

    /// The number that follows `prefix` on the first line containing it,
    /// e.g. `number_after("usable memory: ")`.
    pub fn number_after(&self, prefix: &str) -> u64 {
        match self.find_number_after(prefix) {
            Ok(number) => number,
            Err(reason) => self.fail(&reason),
        }
    }

    fn or_fail(&self, result: Result<(), String>) -> &Self {
        if let Err(reason) = result {
            self.fail(&reason);
        }
        self
    }

    fn check_lines(&self, expected: &[&str]) -> Result<(), String> {
        let mut lines = self.text.lines();
        for text in expected {
            if !lines.any(|line| line.contains(text)) {
                return Err(format!("expected a line with {text:?} (after the previous expectations)"));
            }
        }
        Ok(())
    }

    fn check_absent(&self, forbidden: &[&str]) -> Result<(), String> {
        for text in forbidden {
            if let Some(line) = self.text.lines().find(|line| line.contains(text)) {
                return Err(format!("forbidden {text:?} printed: {line:?}"));
            }
        }
        Ok(())
    }

    fn check_status(&self, status: i32) -> Result<(), String> {
        match self.status == Some(status) {
            true => Ok(()),
            false => Err(format!("expected exit status {status}")),
        }
    }

    fn find_number_after(&self, prefix: &str) -> Result<u64, String> {
        let rest = self
            .text
            .lines()
            .find_map(|line| line.split_once(prefix).map(|(_, rest)| rest))
            .ok_or(format!("no line contains {prefix:?}"))?;
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().map_err(|_| format!("no number after {prefix:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transcript(text: &str) -> Transcript {
        Transcript {
            label: "test".into(),
            text: text.into(),
            status: Some(EXIT_SUCCESS),
            elapsed: Duration::ZERO,
        }
    }

    /// The typing and waiting machinery of `Boot::run`, with `cat` playing
    /// a guest that echoes its serial input.
    #[test]
    fn types_into_a_program_and_waits_for_its_answer() {
        let mut child = Command::new("cat").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
        let output = Output::capture(&mut child);
        let deadline = Instant::now() + Duration::from_secs(10);
        type_slowly(&mut child, "echo one\n");
        let end = output.wait_for("echo one", 0, deadline).expect("cat echoes what was typed");
        type_slowly(&mut child, "two\n");
        assert!(output.wait_for("two", end, deadline).is_some());
        assert_eq!(output.wait_for("echo one", end, Instant::now() + Duration::from_millis(200)), None);
        drop(child.stdin.take());
        assert_eq!(wait_or_kill(&mut child, deadline), Some(0));
        assert_eq!(output.text(), "echo one\ntwo\n");
    }

    #[test]
    fn a_program_that_never_ends_is_killed_at_the_deadline() {
        let mut child = Command::new("sleep").arg("30").spawn().unwrap();
        let started = Instant::now();
        assert_eq!(wait_or_kill(&mut child, started + Duration::from_millis(300)), None);
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn expected_lines_must_come_in_order() {
        let run = transcript("alpha\nbeta 7\ngamma\n");
        assert!(run.check_lines(&["alpha", "gamma"]).is_ok());
        assert!(run.check_lines(&["gamma", "alpha"]).is_err());
    }

    #[test]
    fn two_expectations_need_two_lines() {
        assert!(transcript("alpha beta\n").check_lines(&["alpha", "beta"]).is_err());
    }

    #[test]
    fn forbidden_text_is_found() {
        let run = transcript("ok\nKERNEL PANIC at x.rs:1:1: boom\n");
        assert!(run.check_absent(&FAILURE_MARKERS).is_err());
        assert!(transcript("fine\n").check_absent(&FAILURE_MARKERS).is_ok());
    }

    #[test]
    fn exit_status_must_match() {
        let mut run = transcript("");
        assert!(run.check_status(EXIT_SUCCESS).is_ok());
        run.status = None;
        assert!(run.check_status(EXIT_SUCCESS).is_err());
    }

    #[test]
    fn finds_numbers_after_a_prefix() {
        let run = transcript("x\nusable memory: 130559 KiB\n");
        assert_eq!(run.find_number_after("usable memory: "), Ok(130559));
        assert!(run.find_number_after("untyped: ").is_err());
        assert!(run.find_number_after("x").is_err());
    }
}
