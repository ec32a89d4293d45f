//! Host-side tools for the kernels: build bootable ISOs ([`iso`]), boot a
//! stage's image in QEMU under a timeout ([`Boot`]), optionally type into
//! its serial console or on its PS/2 keyboard and read its VGA text screen,
//! and check what it printed ([`Transcript`]). A boot can also leave out
//! the exit device, as `make stage-N` does, and stop at a line the kernel
//! prints when it halts. The binaries: `mkiso` (used by the Makefile),
//! `book-output` (records the book's output samples), `book-commands`
//! (runs every command the book shows), `bench` and `bench-boot`.
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
//! Keyboard and screen go through QEMU's monitor ([`monitor`]): keys are
//! pressed with `sendkey` ([`keys`] names them), the screen is dumped with
//! `pmemsave` and decoded by [`screen`]. A shell test might read:
//!
//! ```no_run
//! use qemu_test::Boot;
//! let run = Boot::stage(6)
//!     .without_exit_device()
//!     .keys_after("> ", "echo Hi\n")
//!     .screen_after("\n> ")
//!     .stop_at("\n> ")
//!     .run();
//! run.expect_lines(&["Hi"]).expect_screen_lines(&["> echo Hi", "Hi"]);
//! ```
//!
//! A boot is fast unless it asks for GRUB: QEMU loads the kernel and its
//! modules itself (`-kernel`, through the kernel's Multiboot 1 header) and
//! starts it from qboot, a minimal firmware, in a fraction of the time
//! SeaBIOS and GRUB take. [`Boot::through_grub`] boots the stage's GRUB ISO
//! with the PC BIOS (SeaBIOS) instead, as `make run` and a real machine do;
//! [`Boot::uefi`] boots the same ISO with OVMF, a UEFI firmware, through
//! GRUB's EFI platform. Every stage keeps tests of both GRUB boots.
//!
//! The images come from `make images`: `build/stage-N.iso`, with the kernel
//! also at `build/stage-N/kernel.elf` and any modules in
//! `build/stage-N/modules/`. A fast boot passes those files to QEMU
//! directly, with its kernel command line as a QEMU argument; a GRUB boot
//! with another command line gets a variant ISO made for it.

pub mod bench;
pub mod image;
pub mod iso;
pub mod keys;
pub mod monitor;
pub mod screen;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};
use std::{fs, thread};

pub use image::Firmware;
use monitor::Monitor;

/// How the kernel gets loaded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Loader {
    /// QEMU loads the kernel and its modules itself (`-kernel`, `-initrd`,
    /// `-append`: Multiboot 1), after qboot: the fast boot of the tests
    /// that are not about booting.
    Qemu,
    /// The firmware boots the stage's ISO and GRUB loads the kernel
    /// (Multiboot2), as `make run`, real machines and UEFI do.
    Grub,
}

/// qboot, the minimal firmware of fast boots (Debian's qemu-system-data
/// ships it): it sets up the machine and starts QEMU's loader without
/// SeaBIOS's device scan and boot menu. It sets up no VGA text mode and no
/// keyboard, so the kernel finds no text screen: a fast boot that presses
/// keys or reads the screen keeps SeaBIOS (still without GRUB). Without
/// qboot, SeaBIOS starts every fast boot, more slowly.
pub const QBOOT: &str = "/usr/share/qemu/qboot.rom";

/// QEMU's exit status when the kernel reports success through isa-debug-exit.
pub const EXIT_SUCCESS: i32 = 33;
/// QEMU's exit status when the kernel reports a failure.
pub const EXIT_FAILURE: i32 = 35;

// ANCHOR: failure_markers
/// Lines that must never appear in what the kernel itself printed, in a
/// run that is meant to succeed. They are looked for in the kernel's own
/// channel (QEMU's debug console, I/O port `0xe9`, which only ring 0 can
/// write: [`Transcript::kernel_text`]), so that a task printing them on
/// the serial console fails nothing, and cannot hide a real one.
pub const FAILURE_MARKERS: [&str; 3] = ["KERNEL PANIC", "EXCEPTION:", "AUDIT FAILED"];
// ANCHOR_END: failure_markers

/// The repository's root folder: the one cargo names when it runs this
/// program (`cargo test`, `cargo run`), else the one it was built in. The
/// two differ for the tests `make grade-check` runs in its scratch copy
/// with the repository's own build of them (tools/qemu-test/src/bin/grade/seed.rs).
pub fn repository_root() -> PathBuf {
    let built_in = Path::new(env!("CARGO_MANIFEST_DIR"));
    let runs_in = std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from);
    match runs_in {
        Some(dir) if dir.ends_with("tools/qemu-test") && dir.join("../../Cargo.toml").is_file() => {
            dir.join("../..")
        }
        _ => built_in.join("../.."),
    }
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
/// header and a Multiboot 1 header under which QEMU loads it right, and
/// that its ISO boots with BIOS and with UEFI, and prints its sizes:
/// loaded in memory, on disk, and the ISO.
pub fn check_and_report_image(stage: u32) {
    let kernel_path = stage_build_dir(stage).join("kernel.elf");
    let kernel = fs::read(&kernel_path)
        .unwrap_or_else(|_| panic!("{} is missing: run `make images`", kernel_path.display()));
    let offset =
        image::multiboot2_header_offset(&kernel).expect("no valid Multiboot2 header in the first 32 KiB");
    let multiboot1 = image::check_multiboot1_layout(&kernel)
        .unwrap_or_else(|error| panic!("QEMU's loader cannot load {}: {error}", kernel_path.display()));
    let loaded = image::loaded_size(&kernel).expect("the kernel is a valid ELF file");
    iso::check_boots_everywhere(&stage_iso(stage)).unwrap_or_else(|error| panic!("{error}"));
    let iso = fs::metadata(stage_iso(stage)).expect("the ISO exists").len();
    println!(
        "stage {stage}: kernel image {} KiB loaded ({} KiB file with debug information), ISO {} KiB (boots with BIOS and UEFI), Multiboot2 header at offset {offset:#x}, Multiboot 1 header at {:#x}",
        loaded / 1024,
        kernel.len() / 1024,
        iso / 1024,
        multiboot1.offset
    );
}

/// One step of an interactive run: wait until the serial console has
/// printed `prompt`, then act.
#[derive(Clone, Debug)]
struct Step {
    prompt: String,
    action: Action,
}

/// What a step does once its prompt has appeared.
#[derive(Clone, Debug)]
enum Action {
    /// Type this text into the serial console.
    Type(String),
    /// Write this text into the serial console all at once.
    Paste(String),
    /// Type the text this function makes of everything printed so far.
    TypeFrom(fn(&str) -> String),
    /// Press these keys (`sendkey` names) on the PS/2 keyboard.
    Keys(Vec<String>),
    /// Capture the VGA text screen.
    Screen,
    /// Read the 64-bit word at this physical address.
    ReadWord(u64),
    /// Type this text into the second serial port, COM2.
    TypeCom2(String),
}

impl Action {
    fn describe(&self) -> &'static str {
        match self {
            Action::Type(_) | Action::TypeFrom(_) | Action::Paste(_) => "typing",
            Action::Keys(_) => "pressing keys",
            Action::Screen => "capturing the screen",
            Action::ReadWord(_) => "reading memory",
            Action::TypeCom2(_) => "typing on COM2",
        }
    }
}

/// How long `keys_after` holds each key down.
const KEY_HOLD_MS: u32 = 20;
/// The pause after each key, so the guest keeps up.
const KEY_GAP: Duration = Duration::from_millis(30);

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
    icount: bool,
    /// QEMU's `-cpu` model; `None` for its default (`qemu64`).
    cpu: Option<String>,
    firmware: Firmware,
    loader: Loader,
    seabios: bool,
    /// Modules loaded before the stage's own: (file, name).
    extra_modules: Vec<(PathBuf, String)>,
    /// The names of the stage's own modules to load; `None` for all.
    only_modules: Option<Vec<String>>,
    /// Whether the machine has a second serial port, COM2.
    com2: bool,
}

impl Boot {
    /// Boots stage N's kernel and modules (QEMU's loader) with 128 MiB of
    /// memory.
    pub fn stage(stage: u32) -> Self {
        Self {
            stage,
            memory_mib: 128,
            command_line: None,
            steps: Vec::new(),
            exit_device: true,
            stop_at: None,
            timeout: Duration::from_secs(60),
            icount: false,
            cpu: None,
            firmware: Firmware::Bios,
            loader: Loader::Qemu,
            seabios: false,
            extra_modules: Vec::new(),
            only_modules: None,
            com2: false,
        }
    }

    /// Loads the file `path` as a module named `name` (its command line),
    /// before the stage's own modules: for tests of what the kernel does
    /// with a module it cannot load. `path` may hold no ',' or ' '.
    pub fn extra_module(mut self, path: &Path, name: &str) -> Self {
        self.extra_modules.push((path.to_path_buf(), name.to_string()));
        self
    }

    /// Loads the test program `name` as a module of that name: one of the
    /// programs the boot tests alone use, which `make image-N` puts,
    /// stripped, in `build/stage-N/test-modules/` rather than on the ISO
    /// (the Makefile's `TEST_PROGRAMS`).
    pub fn test_module(self, name: &str) -> Self {
        let path = stage_build_dir(self.stage).join("test-modules").join(name);
        assert!(path.exists(), "{} is built with the image (make image-{})", path.display(), self.stage);
        self.extra_module(&path, name)
    }

    /// Loads only the stage's own modules named in `names` (and the extra
    /// ones), say the first task and one program.
    pub fn only_modules(mut self, names: &[&str]) -> Self {
        self.only_modules = Some(names.iter().map(|name| name.to_string()).collect());
        self
    }

    /// A fast boot (QEMU's loader) started by SeaBIOS rather than qboot:
    /// to measure what the firmware costs (`make bench-boot`).
    pub fn with_seabios(mut self) -> Self {
        self.seabios = true;
        self
    }

    /// Boots `build/stage-N.iso` through the PC BIOS (SeaBIOS) and GRUB,
    /// as `make run` does, instead of QEMU's loader: for the tests of the
    /// boot path itself.
    pub fn through_grub(mut self) -> Self {
        self.loader = Loader::Grub;
        self
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
    pub fn type_after(self, prompt: &str, text: &str) -> Self {
        self.step(prompt, Action::Type(text.to_string()))
    }

    /// Gives the machine a second serial port, COM2 (ports 0x2f8 to 0x2ff,
    /// IRQ 3), joined to a socket of this boot's own: what the guest writes
    /// there is [`Transcript::com2_text`], and [`Boot::type_com2_after`]
    /// types into it. (COM1 stays the console, on QEMU's standard input
    /// and output.)
    pub fn with_com2(mut self) -> Self {
        self.com2 = true;
        self
    }

    /// Waits until the console (COM1) has printed `prompt`, then types
    /// `text` into COM2, a byte every 5 ms as [`Boot::type_after`] does;
    /// gives the machine COM2 ([`Boot::with_com2`]).
    pub fn type_com2_after(self, prompt: &str, text: &str) -> Self {
        self.with_com2().step(prompt, Action::TypeCom2(text.to_string()))
    }

    /// Waits until the console has printed `prompt`, then writes `text`
    /// into the serial console in one write, as a paste does: the bytes
    /// arrive faster than any guest reads them one by one.
    pub fn paste_after(self, prompt: &str, text: &str) -> Self {
        self.step(prompt, Action::Paste(text.to_string()))
    }

    /// Waits until the serial console has printed `prompt`, then types
    /// `text` on the emulated PS/2 keyboard, a key every 30 ms or so, with
    /// shift for uppercase letters and symbols (US layout). `\n` is the
    /// Enter key, `\x08` Backspace; see [`keys`] for every key.
    ///
    /// Panics at once if `text` has a character no key types. A guest that
    /// exits while the keys are pressed does not fail the run by itself.
    pub fn keys_after(self, prompt: &str, text: &str) -> Self {
        let keys = keys::key_names(text).unwrap_or_else(|character| {
            panic!(
                "keys_after: no key types {character:?} (in {text:?}); the keyboard has keys for \
                 printable ASCII, \\n, \\t, \\x08 (backspace) and \\x1b (escape)"
            )
        });
        self.step(prompt, Action::Keys(keys))
    }

    /// Waits until the serial console has printed `prompt`, then captures
    /// the VGA text screen: [`Transcript::screen`] returns the last such
    /// capture, [`Transcript::screens`] all of them.
    ///
    /// The capture happens a few milliseconds after `prompt` appeared, once
    /// two captures in a row agree (the screen may lag the console by a
    /// few bytes); for a screen that cannot change meanwhile, wait for a
    /// prompt after which the guest waits (for a key, or halted). The run
    /// fails if QEMU has exited before the capture.
    ///
    /// Unlike typing, a capture leaves `prompt` for the next step or
    /// [`Boot::stop_at`] to find again: `.screen_after(halted).stop_at(halted)`
    /// captures the screen of a halted kernel, then stops QEMU.
    pub fn screen_after(self, prompt: &str) -> Self {
        self.step(prompt, Action::Screen)
    }

    /// Waits until the serial console has printed `prompt`, then reads
    /// the 64-bit word at physical address `address` through QEMU's
    /// monitor: [`Transcript::words`] returns what such steps read, in
    /// order. Like a screen capture, it leaves `prompt` for the next step.
    pub fn read_word_after(self, prompt: &str, address: u64) -> Self {
        self.step(prompt, Action::ReadWord(address))
    }

    fn step(mut self, prompt: &str, action: Action) -> Self {
        self.steps.push(Step { prompt: prompt.to_string(), action });
        self
    }

    /// Whether the run needs QEMU's monitor: for keys, screens or memory.
    fn uses_monitor(&self) -> bool {
        self.steps
            .iter()
            .any(|step| matches!(step.action, Action::Keys(_) | Action::Screen | Action::ReadWord(_)))
    }

    /// Whether a fast boot starts from SeaBIOS: when asked, or when it
    /// uses the keyboard or the VGA text screen, which SeaBIOS sets up
    /// and qboot does not.
    fn with_pc_bios(&self) -> bool {
        self.seabios || self.steps.iter().any(|step| matches!(step.action, Action::Keys(_) | Action::Screen))
    }

    /// Whether the test asked for screen captures.
    fn captures_screens(&self) -> bool {
        self.steps.iter().any(|step| matches!(step.action, Action::Screen))
    }

    /// Boots without the `isa-debug-exit` device, as `make stage-N` does:
    /// the kernel cannot end QEMU and halts instead. Use with
    /// [`Boot::stop_at`].
    pub fn without_exit_device(mut self) -> Self {
        self.exit_device = false;
        self
    }

    /// Stops QEMU as soon as the console has printed `text` (and fails if
    /// it never does): for a kernel that halts rather than exits. `text`
    /// must come after the prompt of the last typing or keys step.
    pub fn stop_at(mut self, text: &str) -> Self {
        self.stop_at = Some(text.to_string());
        self
    }

    /// Waits until the console has printed `prompt`, then types what
    /// `text` makes of everything printed so far: for answers that depend
    /// on what the guest printed (an address, a slot number).
    pub fn type_after_from(mut self, prompt: &str, text: fn(&str) -> String) -> Self {
        self.steps.push(Step { prompt: prompt.to_string(), action: Action::TypeFrom(text) });
        self
    }

    /// Runs the guest with `-icount shift=0`: its clock, and so `rdtsc`,
    /// advances by one tick per instruction executed (a `rep`-string
    /// instruction counts once per iteration), so time measured inside the
    /// guest is an exact, repeatable instruction count (`make bench`).
    pub fn icount(mut self) -> Self {
        self.icount = true;
        self
    }

    /// Emulates the CPU model `model` (QEMU's `-cpu`), e.g. `max` for every
    /// feature QEMU can emulate (UMIP among them), instead of the default
    /// `qemu64`.
    pub fn cpu(mut self, model: &str) -> Self {
        self.cpu = Some(model.to_string());
        self
    }

    // ANCHOR: uefi
    /// Boots with UEFI firmware (OVMF, see [`ovmf`]) instead of the BIOS:
    /// GRUB then starts from the ISO's EFI boot image and hands the kernel
    /// the same Multiboot2 information, with the memory map UEFI reports.
    /// There is no VGA text screen: OVMF sets up a graphics mode, so a
    /// [`Boot::screen_after`] capture shows nothing the kernel wrote.
    /// OVMF prints its own lines on the serial console before GRUB's.
    pub fn uefi(mut self) -> Self {
        self.firmware = Firmware::Uefi;
        self.loader = Loader::Grub;
        self
    }
    // ANCHOR_END: uefi

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
        if self.com2 {
            label += ", with COM2";
        }
        if self.icount {
            label += ", counting instructions (-icount shift=0)";
        }
        label += match (self.loader, self.firmware) {
            (Loader::Qemu, _) if self.with_pc_bios() => ", loaded by QEMU (-kernel) after SeaBIOS",
            (Loader::Qemu, _) => ", loaded by QEMU (-kernel)",
            (Loader::Grub, Firmware::Bios) => ", BIOS and GRUB",
            (Loader::Grub, Firmware::Uefi) => ", UEFI firmware (OVMF) and GRUB",
        };
        label
    }

    /// The kernel and the modules of this boot's stage, each module with
    /// its name (its command line), in the order of their paths.
    fn kernel_and_modules(&self) -> (PathBuf, Vec<(PathBuf, String)>) {
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
        if let Some(names) = &self.only_modules {
            modules.retain(|(_, name)| names.contains(name));
        }
        (kernel, [self.extra_modules.clone(), modules].concat())
    }

    // ANCHOR: direct_boot
    /// QEMU's arguments for loading the kernel itself: the kernel, its
    /// command line, and its modules as `-initrd "file name,file name"`
    /// (each module's command line is what follows its file's name).
    fn direct_boot_arguments(&self) -> Vec<String> {
        let (kernel, modules) = self.kernel_and_modules();
        let plain = |path: &Path| {
            let text = path.display().to_string();
            assert!(!text.contains([',', ' ']), "{text}: QEMU's -initrd cannot pass a path with ',' or ' '");
            text
        };
        let mut arguments = vec!["-kernel".to_string(), plain(&kernel)];
        if let Some(command_line) = &self.command_line {
            arguments.extend(["-append".to_string(), command_line.clone()]);
        }
        if !modules.is_empty() {
            let list: Vec<String> =
                modules.iter().map(|(path, name)| format!("{} {name}", plain(path))).collect();
            arguments.extend(["-initrd".to_string(), list.join(",")]);
        }
        if !self.with_pc_bios() && Path::new(QBOOT).exists() {
            arguments.extend(["-bios".to_string(), QBOOT.to_string()]);
        }
        arguments
    }
    // ANCHOR_END: direct_boot

    /// The ISO to boot, made first when it is a command-line variant.
    fn iso(&self) -> PathBuf {
        let own_modules = self.extra_modules.is_empty() && self.only_modules.is_none();
        if self.command_line.is_none() && own_modules {
            let iso = stage_iso(self.stage);
            assert!(iso.exists(), "{} is missing: run `make images` first", iso.display());
            return iso;
        }
        let command_line = self.command_line.as_deref().unwrap_or("");
        let (kernel, modules) = self.kernel_and_modules();
        let dir = stage_build_dir(self.stage);
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
            command_line: command_line.to_string(),
        };
        iso::build_iso(&spec, &iso).unwrap_or_else(|error| panic!("cannot build {}: {error}", iso.display()));
        iso
    }

    // ANCHOR: run
    /// Boots, plays the steps (typing, keys, screen captures), waits for
    /// QEMU to exit (or the timeout) and returns what the serial console
    /// printed and the screens captured.
    pub fn run(&self) -> Transcript {
        let label = self.label();
        let iso = (self.loader == Loader::Grub).then(|| self.iso());
        let started = Instant::now();
        // Keys and screens go through QEMU's monitor, on this boot's own socket.
        let monitor_files = self.uses_monitor().then(MonitorFiles::new);
        let monitor_argument = monitor_files.as_ref().map_or("none".to_string(), MonitorFiles::qemu_argument);
        let mut command = Command::new("qemu-system-x86_64");
        match &iso {
            Some(iso) => command.arg("-cdrom").arg(iso),
            None => command.args(self.direct_boot_arguments()),
        };
        command.args(["-m", &format!("{}M", self.memory_mib)]).args([
            "-serial",
            "stdio",
            "-display",
            "none",
            "-monitor",
            &monitor_argument,
            "-no-reboot",
        ]);
        if self.exit_device {
            command.args(["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"]);
        }
        // The second `-serial` is COM2; QEMU listens, and the guest runs
        // without waiting for the harness to connect.
        let com2_socket = self.com2.then(|| ScratchFile::empty("com2"));
        if let Some(socket) = &com2_socket {
            command.arg("-serial").arg(format!("unix:{},server=on,wait=off", socket.0.display()));
        }
        if self.icount {
            command.args(["-icount", "shift=0"]);
        }
        if let Some(model) = &self.cpu {
            command.args(["-cpu", model]);
        }
        // What the kernel alone prints (see FAILURE_MARKERS), into a file.
        let kernel_channel = ScratchFile::empty("debugcon");
        command.arg("-debugcon").arg(format!("file:{}", kernel_channel.0.display()));
        // UEFI keeps its settings in a flash chip that it writes: each boot
        // gets its own copy, removed when the boot ends.
        let uefi_variables = (self.firmware == Firmware::Uefi).then(|| {
            // Without an EFI boot image OVMF would go on to the network
            // and its shell until the timeout: say why at once.
            let iso = iso.as_ref().expect("a UEFI boot goes through GRUB's ISO");
            iso::check_boots_everywhere(iso).unwrap_or_else(|error| panic!("{label}: {error}"));
            let files = ovmf().unwrap_or_else(|error| panic!("{label}: {error}"));
            let variables = ScratchFile::copy_of(&files.variables, "ovmf-vars");
            command.args(files.qemu_arguments(&variables.0));
            variables
        });
        let mut qemu = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot start qemu-system-x86_64 (is QEMU installed? `make test` installs it)");
        let output = Output::capture(&mut qemu, started);
        let deadline = started + self.timeout;

        let mut failure = None;
        let mut monitor = None;
        if let Some(files) = &monitor_files {
            // QEMU makes the socket before it starts the guest.
            match Monitor::connect(&files.socket, deadline.min(Instant::now() + Duration::from_secs(10))) {
                Ok(connected) => monitor = Some(connected),
                Err(error) => failure = Some(format!("cannot connect to QEMU's monitor: {error}")),
            }
        }
        // COM2, once QEMU listens on its socket: what the guest writes
        // there is collected as the console's is.
        let mut com2 = None;
        if let Some(socket) = &com2_socket
            && failure.is_none()
        {
            match Com2::connect(&socket.0, started, deadline.min(Instant::now() + Duration::from_secs(10))) {
                Ok(connected) => com2 = Some(connected),
                Err(error) => failure = Some(format!("cannot connect to COM2's socket: {error}")),
            }
        }
        let mut screens = Vec::new();
        let mut words = Vec::new();
        let mut seen = 0;
        for step in &self.steps {
            if failure.is_some() {
                break;
            }
            let Some(end) = output.wait_for(&step.prompt, seen, deadline) else {
                failure = Some(format!("{} before {}", output.missed(&step.prompt), step.action.describe()));
                break;
            };
            // Looking at the screen prints nothing: the prompt it waited
            // for is still there for the next step, or for `stop_at`.
            if !matches!(step.action, Action::Screen | Action::ReadWord(_)) {
                seen = end;
            }
            let prompt = &step.prompt;
            failure = match (&step.action, monitor.as_mut(), &monitor_files) {
                (Action::Type(text), _, _) => {
                    type_slowly(&mut qemu, text);
                    None
                }
                (Action::Paste(text), _, _) => {
                    paste(&mut qemu, text);
                    None
                }
                (Action::TypeCom2(text), _, _) => match com2.as_mut() {
                    Some(com2) => {
                        type_slowly_into(&mut com2.input, text);
                        None
                    }
                    None => Some("no COM2 to type into".to_string()),
                },
                (Action::TypeFrom(make), _, _) => {
                    type_slowly(&mut qemu, &make(&output.text()));
                    None
                }
                // A guest that stops while the keys are pressed is reported
                // by the checks.
                (Action::Keys(keys), Some(monitor), _) => match press_keys(monitor, keys) {
                    Err(error) if !has_exited(&mut qemu) => {
                        Some(format!("cannot press keys after {prompt:?}: {error}"))
                    }
                    _ => None,
                },
                (Action::Screen, Some(monitor), Some(files)) => {
                    match monitor.save_settled_screen(&files.screen) {
                        Ok(lines) => {
                            screens.push(lines);
                            None
                        }
                        Err(_) if has_exited(&mut qemu) => {
                            Some(format!("QEMU exited before the screen could be captured after {prompt:?}"))
                        }
                        Err(error) => Some(format!("cannot capture the screen after {prompt:?}: {error}")),
                    }
                }
                (Action::ReadWord(address), Some(monitor), _) => match monitor.read_physical_word(*address) {
                    Ok(word) => {
                        words.push(word);
                        None
                    }
                    Err(error) => Some(format!("cannot read memory after {prompt:?}: {error}")),
                },
                _ => unreachable!("the monitor is connected for keys and screens"),
            };
        }
        let deadline = match (&self.stop_at, &failure) {
            (Some(text), None) => {
                if output.wait_for(text, seen, deadline).is_none() {
                    failure = Some(output.missed(text));
                }
                Instant::now()
            }
            _ => deadline,
        };
        let exited = wait_for_exit(&mut qemu, deadline);
        // The screen as QEMU is stopped; if QEMU exited by itself, the last
        // capture is all there is.
        let mut final_screen = screens.last().cloned();
        if !exited
            && self.captures_screens()
            && let (Some(monitor), Some(files)) = (monitor.as_mut(), &monitor_files)
            && let Ok(lines) = monitor.save_screen(&files.screen)
        {
            final_screen = Some(lines);
        }
        drop(monitor);
        let status = wait_or_kill(&mut qemu, Instant::now());
        let elapsed = started.elapsed();
        output.wait_until_closed(Instant::now() + Duration::from_secs(10));
        if let (Some(iso), Some(_)) = (&iso, &self.command_line) {
            let _ = fs::remove_file(iso);
        }
        drop(monitor_files);
        drop(uefi_variables);
        let (text, arrivals) = output.text_and_arrivals();
        let kernel_text =
            String::from_utf8_lossy(&fs::read(&kernel_channel.0).unwrap_or_default()).replace('\r', "");
        drop(kernel_channel);
        let com2_text =
            com2.map(|com2| com2.text(Instant::now() + Duration::from_secs(2))).unwrap_or_default();
        drop(com2_socket);
        let transcript = Transcript {
            label,
            text,
            kernel_text,
            status,
            elapsed,
            screens,
            final_screen,
            words,
            arrivals,
            com2_text,
        };
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

/// The files of OVMF, the UEFI firmware QEMU runs for [`Boot::uefi`]: its
/// code, read-only, and the template of its variable store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ovmf {
    pub code: PathBuf,
    pub variables: PathBuf,
}

/// Where Debian and Ubuntu's `ovmf` package puts the firmware's code, first
/// choice first: the 4 MiB build (Debian 12, Ubuntu 22.04 and later), then
/// the 2 MiB one (older releases). The variable store's template is beside
/// it, named with `VARS` for `CODE`. The Makefile searches the same list.
pub const OVMF_CODE_PATHS: [&str; 2] = ["/usr/share/OVMF/OVMF_CODE_4M.fd", "/usr/share/OVMF/OVMF_CODE.fd"];

// ANCHOR: ovmf
/// Finds OVMF: the files named by the environment variables `OVMF_CODE`
/// and `OVMF_VARS` if set (for other systems' paths), else the first of
/// [`OVMF_CODE_PATHS`] that exists, with its variable store.
pub fn ovmf() -> Result<Ovmf, String> {
    let code = match std::env::var_os("OVMF_CODE") {
        Some(path) => PathBuf::from(path),
        None => OVMF_CODE_PATHS.iter().map(PathBuf::from).find(|path| path.exists()).ok_or(
            "no UEFI firmware (OVMF): install Debian's `ovmf` package (`tools/install-deps.sh qemu`), \
             or set OVMF_CODE and OVMF_VARS to its files",
        )?,
    };
    let variables = match std::env::var_os("OVMF_VARS") {
        Some(path) => PathBuf::from(path),
        None => PathBuf::from(code.to_string_lossy().replace("OVMF_CODE", "OVMF_VARS")),
    };
    for path in [&code, &variables] {
        if !path.exists() {
            return Err(format!("{} is missing (OVMF, the UEFI firmware)", path.display()));
        }
    }
    Ok(Ovmf { code, variables })
}

impl Ovmf {
    /// QEMU's arguments for booting with this firmware: two flash chips,
    /// the code read-only and `variables`, a writable copy of the
    /// variable store (OVMF writes to it as it boots).
    pub fn qemu_arguments(&self, variables: &Path) -> Vec<String> {
        let drive = |unit: u32, extra: &str, path: &Path| {
            let path = path.display().to_string().replace(',', ",,");
            format!("if=pflash,format=raw,unit={unit}{extra},file={path}")
        };
        vec!["-drive".into(), drive(0, ",readonly=on", &self.code), "-drive".into(), drive(1, "", variables)]
    }
}
// ANCHOR_END: ovmf

/// A copy of a file in the temporary folder, removed when dropped.
struct ScratchFile(PathBuf);

impl ScratchFile {
    /// The name of a file that does not exist yet (QEMU makes it).
    fn empty(name: &str) -> Self {
        Self(std::env::temp_dir().join(format!("qemu-test-{}.{name}", unique_suffix())))
    }

    fn copy_of(original: &Path, name: &str) -> Self {
        let path = std::env::temp_dir().join(format!("qemu-test-{}.{name}", unique_suffix()));
        fs::copy(original, &path).unwrap_or_else(|error| {
            panic!("cannot copy {} to {}: {error}", original.display(), path.display())
        });
        Self(path)
    }
}

impl Drop for ScratchFile {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

/// The files of one boot's monitor, in the temporary folder: its socket
/// and the screen dumps. Dropping it removes them.
struct MonitorFiles {
    socket: PathBuf,
    screen: PathBuf,
}

impl MonitorFiles {
    fn new() -> Self {
        let base = std::env::temp_dir().join(format!("qemu-test-{}", unique_suffix()));
        let files = Self { socket: base.with_extension("monitor"), screen: base.with_extension("screen") };
        files.remove();
        files
    }

    /// The `-monitor` argument: a socket QEMU listens on without waiting
    /// for the connection (a comma in an option value is written twice).
    fn qemu_argument(&self) -> String {
        format!("unix:{},server,nowait", self.socket.display().to_string().replace(',', ",,"))
    }

    fn remove(&self) {
        let _ = fs::remove_file(&self.socket);
        let _ = fs::remove_file(&self.screen);
    }
}

impl Drop for MonitorFiles {
    fn drop(&mut self) {
        self.remove();
    }
}

/// Presses `keys` (`sendkey` names) one after the other, with a pause
/// after each so that the guest keeps up.
fn press_keys(monitor: &mut Monitor, keys: &[String]) -> Result<(), String> {
    for key in keys {
        monitor.send_key(key, KEY_HOLD_MS)?;
        thread::sleep(KEY_GAP);
    }
    Ok(())
}

/// Whether QEMU has exited, or does within a second: after its monitor
/// connection broke, it is on its way out.
fn has_exited(qemu: &mut Child) -> bool {
    wait_for_exit(qemu, Instant::now() + Duration::from_secs(1))
}

/// Types `text` a byte at a time, as a person would, so that the guest's
/// 16-byte receive FIFO never overflows.
fn type_slowly(qemu: &mut Child, text: &str) {
    type_slowly_into(qemu.stdin.as_mut().expect("stdin is piped"), text);
}

/// [`type_slowly`], into any serial line.
fn type_slowly_into(line: &mut impl Write, text: &str) {
    for byte in text.bytes() {
        // A guest that has already stopped is reported by the checks.
        let _ = line.write_all(&[byte]).and_then(|()| line.flush());
        thread::sleep(Duration::from_millis(5));
    }
}

/// The second serial port of a boot ([`Boot::with_com2`]): QEMU's socket
/// for it, read by a thread as the console is, and written to type.
struct Com2 {
    output: Output,
    input: UnixStream,
}

impl Com2 {
    /// Connects to QEMU's socket at `path`, retrying until `deadline`
    /// (QEMU makes it before it starts the guest).
    fn connect(path: &Path, started: Instant, deadline: Instant) -> std::io::Result<Com2> {
        let input = loop {
            match UnixStream::connect(path) {
                Ok(stream) => break stream,
                Err(error) if Instant::now() >= deadline => return Err(error),
                Err(_) => thread::sleep(Duration::from_millis(10)),
            }
        };
        let output = Output::capture_from(input.try_clone()?, started);
        Ok(Com2 { output, input })
    }

    /// Everything the guest wrote to COM2, once QEMU has closed it (or at
    /// `deadline`), with the serial line's `\r` removed.
    fn text(self, deadline: Instant) -> String {
        drop(self.input.shutdown(std::net::Shutdown::Write));
        self.output.wait_until_closed(deadline);
        self.output.text()
    }
}

/// Writes `text` into the guest's serial console in one write.
fn paste(qemu: &mut Child, text: &str) {
    let stdin = qemu.stdin.as_mut().expect("stdin is piped");
    // A guest that has already stopped is reported by the checks.
    let _ = stdin.write_all(text.as_bytes()).and_then(|()| stdin.flush());
}

/// Waits until QEMU exits or `deadline`; returns whether it exited.
fn wait_for_exit(qemu: &mut Child, deadline: Instant) -> bool {
    loop {
        if let Ok(Some(_)) = qemu.try_wait() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// Waits for QEMU to exit until `deadline`, then kills it. Returns the exit
/// status, or `None` when it had to be killed.
fn wait_or_kill(qemu: &mut Child, deadline: Instant) -> Option<i32> {
    if !wait_for_exit(qemu, deadline) {
        let _ = qemu.kill();
    }
    qemu.wait().ok().and_then(|status| status.code())
}

/// QEMU's standard output (the serial console), collected by a thread.
struct Output {
    shared: Arc<(Mutex<Printed>, Condvar)>,
}

/// What the serial console has printed so far.
#[derive(Default)]
struct Printed {
    bytes: Vec<u8>,
    /// When each piece arrived: the length of `bytes` with it, and the
    /// time since QEMU was started.
    arrivals: Vec<(usize, Duration)>,
    /// QEMU has closed its standard output: nothing more will come.
    closed: bool,
}

impl Output {
    fn capture(qemu: &mut Child, started: Instant) -> Self {
        Output::capture_from(qemu.stdout.take().expect("stdout is piped"), started)
    }

    /// What `stdout` gives, collected by a thread of its own until it ends.
    fn capture_from(mut stdout: impl Read + Send + 'static, started: Instant) -> Self {
        let shared = Arc::new((Mutex::new(Printed::default()), Condvar::new()));
        let writer = Arc::clone(&shared);
        thread::spawn(move || {
            let (printed, arrived) = &*writer;
            let mut buffer = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buffer) {
                if n == 0 {
                    break;
                }
                let mut printed = printed.lock().unwrap();
                printed.bytes.extend_from_slice(&buffer[..n]);
                let length = printed.bytes.len();
                printed.arrivals.push((length, started.elapsed()));
                drop(printed);
                arrived.notify_all();
            }
            printed.lock().unwrap().closed = true;
            arrived.notify_all();
        });
        Self { shared }
    }

    /// Waits until `text` appears at or after byte `from`; returns the
    /// offset just past it, or `None` at the deadline or once QEMU has
    /// closed its output without printing it.
    fn wait_for(&self, text: &str, from: usize, deadline: Instant) -> Option<usize> {
        let (printed, arrived) = &*self.shared;
        let mut printed = printed.lock().unwrap();
        loop {
            let bytes = &printed.bytes;
            let haystack = String::from_utf8_lossy(&bytes[from.min(bytes.len())..]).into_owned();
            if let Some(position) = haystack.find(text) {
                return Some(from + position + text.len());
            }
            let now = Instant::now();
            if now >= deadline || printed.closed {
                return None;
            }
            printed = arrived.wait_timeout(printed, deadline - now).unwrap().0;
        }
    }

    /// Why [`Output::wait_for`] did not find `text`.
    fn missed(&self, text: &str) -> String {
        match self.shared.0.lock().unwrap().closed {
            true => format!("QEMU exited without printing {text:?}"),
            false => format!("timed out waiting for {text:?}"),
        }
    }

    /// Once QEMU has exited: waits (until `deadline` at most) for the
    /// reading thread to drain the pipe, so that the transcript holds what
    /// QEMU printed just before it stopped. Without this, a loaded machine
    /// can show an empty transcript for a boot that printed its report.
    fn wait_until_closed(&self, deadline: Instant) {
        let (printed, arrived) = &*self.shared;
        let mut printed = printed.lock().unwrap();
        while !printed.closed {
            let now = Instant::now();
            if now >= deadline {
                return;
            }
            printed = arrived.wait_timeout(printed, deadline - now).unwrap().0;
        }
    }

    /// Everything printed so far, with the serial line's `\r` removed.
    fn text(&self) -> String {
        self.text_and_arrivals().0
    }

    /// [`Output::text`], and when each piece of it arrived: its length in
    /// bytes of the text with that piece, and the time since QEMU started.
    fn text_and_arrivals(&self) -> (String, Vec<(usize, Duration)>) {
        let printed = self.shared.0.lock().unwrap();
        let mut text = String::new();
        let mut arrivals = Vec::new();
        let mut from = 0;
        for &(end, time) in &printed.arrivals {
            text += &String::from_utf8_lossy(&printed.bytes[from..end]).replace('\r', "");
            arrivals.push((text.len(), time));
            from = end;
        }
        text += &String::from_utf8_lossy(&printed.bytes[from..]).replace('\r', "");
        (text, arrivals)
    }
}

/// What one boot printed, how it ended, and checks on it. Every check
/// panics (failing the test) with the reason and the end of the transcript.
#[derive(Debug)]
pub struct Transcript {
    label: String,
    text: String,
    /// What the kernel wrote to its own channel (the debug console).
    kernel_text: String,
    /// QEMU's exit status; `None` when it was killed at the timeout.
    pub status: Option<i32>,
    /// From starting QEMU to its exit.
    pub elapsed: Duration,
    /// The screens captured by the `screen_after` steps, in order.
    screens: Vec<Vec<String>>,
    /// The screen at the end of the run (see [`Transcript::final_screen`]).
    final_screen: Option<Vec<String>>,
    /// The words the [`Boot::read_word_after`] steps read, in order.
    words: Vec<u64>,
    /// When the text arrived (see [`Output::text_and_arrivals`]).
    arrivals: Vec<(usize, Duration)>,
    /// What the guest wrote to COM2 ([`Boot::with_com2`]; empty without).
    com2_text: String,
}

impl Transcript {
    /// Everything the serial console printed.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Everything the guest wrote to its second serial port, COM2
    /// ([`Boot::with_com2`]), with `\r` removed; empty for a boot
    /// without one.
    pub fn com2_text(&self) -> &str {
        &self.com2_text
    }

    /// What the kernel itself printed, on its own channel (QEMU's debug
    /// console, port `0xe9`), which no task can write to: every line the
    /// kernel prints goes there as well as to the console, and no line a
    /// task prints does.
    pub fn kernel_text(&self) -> &str {
        &self.kernel_text
    }

    /// The VGA text screen captured by the last [`Boot::screen_after`]
    /// step: 25 lines of up to 80 characters, trailing spaces trimmed (see
    /// [`screen`]). `None` if the boot captured no screen.
    pub fn screen(&self) -> Option<Vec<String>> {
        self.screens.last().cloned()
    }

    /// The words the [`Boot::read_word_after`] steps read, in order.
    pub fn words(&self) -> &[u64] {
        &self.words
    }

    /// How long after QEMU started the serial console had printed the
    /// first occurrence of `text` (to a few milliseconds: when the piece
    /// holding its end reached the harness), if it printed it.
    pub fn arrival(&self, text: &str) -> Option<Duration> {
        let end = self.text.find(text)? + text.len();
        self.arrivals.iter().find(|&&(length, _)| length >= end).map(|&(_, time)| time)
    }

    /// Every screen the [`Boot::screen_after`] steps captured, in order.
    pub fn screens(&self) -> &[Vec<String>] {
        &self.screens
    }

    /// The screen at the end of a run that captured screens at all: taken
    /// just before QEMU is stopped (after [`Boot::stop_at`], or at the
    /// timeout). QEMU that exits by itself (through the exit device) cannot
    /// be caught first: the final screen is then the last capture, that of
    /// the last `screen_after` step. `None` if the boot captured no screen.
    pub fn final_screen(&self) -> Option<Vec<String>> {
        self.final_screen.clone()
    }

    /// Fails the test with `reason`, showing the end of the transcript and
    /// the last screen captured, if any.
    pub fn fail(&self, reason: &str) -> ! {
        let lines: Vec<&str> = self.text.lines().collect();
        let tail = lines[lines.len().saturating_sub(40)..].join("\n");
        let status = self.status.map_or("killed at the timeout".to_string(), |s| format!("exit status {s}"));
        let screen = match self.final_screen.as_ref().or(self.screens.last()) {
            Some(screen) => {
                format!("\n--- the VGA screen, last captured ---\n{}\n---", screen.join("\n").trim_end())
            }
            None => String::new(),
        };
        panic!(
            "{}: {reason}\n({status} after {:.2} s)\n--- last {} lines of the serial console ---\n{tail}\n---{screen}",
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

    /// Checks that each of `expected` occurs in some line after the first
    /// line with `after` and before the next line with `before`, in any
    /// order: for lines of two tasks (or of a task and the kernel) that
    /// may come either way round, as the timer decides.
    pub fn expect_lines_between(&self, after: &str, before: &str, expected: &[&str]) -> &Self {
        self.or_fail(check_between(self.text.lines(), after, before, expected))
    }

    /// Checks that each of `expected` occurs in some line of the screen
    /// the last [`Boot::screen_after`] step captured, in this order: each
    /// one in a later line than the one before.
    pub fn expect_screen_lines(&self, expected: &[&str]) -> &Self {
        let result = match self.screens.last() {
            Some(screen) => check_in_order(screen.iter().map(String::as_str), expected)
                .map_err(|reason| format!("on the screen: {reason}")),
            None => Err("no screen was captured (see Boot::screen_after)".to_string()),
        };
        self.or_fail(result)
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
        self.expect_no_kernel_report().expect_status(EXIT_SUCCESS);
        println!("{}: success (exit {EXIT_SUCCESS}) in {:.2} s", self.label, self.elapsed.as_secs_f64());
        self
    }

    // ANCHOR: expect_no_kernel_report
    /// Checks that the kernel printed no panic, exception or failed-audit
    /// report on its own channel (a task's lines saying so do not count),
    /// and that the channel works at all: the kernel's first line is there.
    pub fn expect_no_kernel_report(&self) -> &Self {
        self.or_fail(self.check_no_kernel_report())
    }
    // ANCHOR_END: expect_no_kernel_report

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
        check_in_order(self.text.lines(), expected)
    }

    fn check_no_kernel_report(&self) -> Result<(), String> {
        if !self.kernel_text.contains("Stage ") {
            return Err("the kernel's own channel (debug console) has not even its first line".to_string());
        }
        for text in FAILURE_MARKERS {
            if let Some(line) = self.kernel_text.lines().find(|line| line.contains(text)) {
                return Err(format!("the kernel reported {text:?}: {line:?}"));
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

/// Checks that each of `expected` occurs in one of `lines`, in this order:
/// each one in a later line than the one before.
fn check_in_order<'a>(mut lines: impl Iterator<Item = &'a str>, expected: &[&str]) -> Result<(), String> {
    for text in expected {
        if !lines.any(|line| line.contains(text)) {
            return Err(format!("expected a line with {text:?} (after the previous expectations)"));
        }
    }
    Ok(())
}

/// The check of [`Transcript::expect_lines_between`].
fn check_between<'a>(
    lines: impl Iterator<Item = &'a str>,
    after: &str,
    before: &str,
    expected: &[&str],
) -> Result<(), String> {
    let mut lines = lines.skip_while(|line| !line.contains(after));
    if lines.next().is_none() {
        return Err(format!("expected a line with {after:?}"));
    }
    let mut window = Vec::new();
    let mut closed = false;
    for line in lines {
        if line.contains(before) {
            closed = true;
            break;
        }
        window.push(line);
    }
    if !closed {
        return Err(format!("expected a line with {before:?} after the one with {after:?}"));
    }
    match expected.iter().find(|text| !window.iter().any(|line| line.contains(*text))) {
        Some(missing) => Err(format!("expected a line with {missing:?} between {after:?} and {before:?}")),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_between_two_others_may_come_in_either_order() {
        let lines = ["start", "x", "b", "a", "end", "c"];
        assert_eq!(check_between(lines.into_iter(), "start", "end", &["a", "b"]), Ok(()));
        assert_eq!(check_between(lines.into_iter(), "start", "end", &["b", "a"]), Ok(()));
        assert!(check_between(lines.into_iter(), "start", "end", &["c"]).unwrap_err().contains("\"c\""));
        assert!(
            check_between(lines.into_iter(), "x", "end", &["x"]).is_err(),
            "the line with after is outside"
        );
        assert!(check_between(lines.into_iter(), "start", "a", &["a"]).is_err(), "the line with before too");
        assert!(check_between(lines.into_iter(), "none", "end", &[]).is_err());
        assert!(check_between(lines.into_iter(), "end", "start", &[]).is_err(), "no start after end");
    }

    fn transcript(text: &str) -> Transcript {
        Transcript {
            label: "test".into(),
            text: text.into(),
            kernel_text: "Stage 0: test\n".into(),
            status: Some(EXIT_SUCCESS),
            elapsed: Duration::ZERO,
            screens: Vec::new(),
            final_screen: None,
            words: Vec::new(),
            arrivals: Vec::new(),
            com2_text: String::new(),
        }
    }

    /// COM2's socket, with a listener playing QEMU: it echoes what is
    /// typed, in capitals, and closes; the harness collects it all.
    #[test]
    fn com2_types_into_the_socket_and_collects_what_comes_back() {
        let socket = ScratchFile::empty("com2-test");
        let listener = std::os::unix::net::UnixListener::bind(&socket.0).unwrap();
        let qemu = thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut typed = [0u8; 5];
            stream.read_exact(&mut typed).unwrap();
            stream.write_all(&typed.to_ascii_uppercase()).unwrap();
            stream.write_all(b"\r\n").unwrap();
        });
        let started = Instant::now();
        let mut com2 = Com2::connect(&socket.0, started, started + Duration::from_secs(10)).unwrap();
        type_slowly_into(&mut com2.input, "hello");
        qemu.join().unwrap();
        assert_eq!(com2.text(Instant::now() + Duration::from_secs(10)), "HELLO\n");
        let nowhere = ScratchFile::empty("com2-none");
        assert!(Com2::connect(&nowhere.0, started, Instant::now() + Duration::from_millis(50)).is_err());
    }

    /// The typing and waiting machinery of `Boot::run`, with `cat` playing
    /// a guest that echoes its serial input.
    #[test]
    fn types_into_a_program_and_waits_for_its_answer() {
        let mut child = Command::new("cat").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
        let output = Output::capture(&mut child, Instant::now());
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
    fn the_arrival_of_each_piece_of_text_is_recorded() {
        let mut child = Command::new("printf").arg("one\\r\\ntwo\\n").stdout(Stdio::piped()).spawn().unwrap();
        let started = Instant::now();
        let output = Output::capture(&mut child, started);
        output.wait_until_closed(started + Duration::from_secs(10));
        let _ = child.wait();
        let (text, arrivals) = output.text_and_arrivals();
        assert_eq!(text, "one\ntwo\n");
        assert_eq!(arrivals.last().map(|&(length, _)| length), Some(text.len()));
        let mut run = transcript(&text);
        run.arrivals = arrivals;
        let two = run.arrival("two").expect("printed");
        assert!(run.arrival("one").unwrap() <= two && two <= started.elapsed());
        assert_eq!(run.arrival("three"), None);
    }

    #[test]
    fn waiting_stops_when_the_program_ends_without_printing() {
        let mut child = Command::new("echo").arg("bye").stdout(Stdio::piped()).spawn().unwrap();
        let output = Output::capture(&mut child, Instant::now());
        let started = Instant::now();
        assert_eq!(output.wait_for("never", 0, started + Duration::from_secs(30)), None);
        assert!(started.elapsed() < Duration::from_secs(10));
        assert_eq!(output.missed("never"), "QEMU exited without printing \"never\"");
        assert_eq!(output.wait_for("bye", 0, started), Some(3));
        let _ = child.wait();
    }

    #[test]
    fn the_monitor_is_used_only_for_keys_and_screens() {
        let serial = Boot::stage(1).type_after("> ", "ls\n");
        assert!(!serial.uses_monitor() && !serial.captures_screens());
        let keys = serial.clone().keys_after("> ", "Ls 0x1F\n");
        assert!(keys.uses_monitor() && !keys.captures_screens());
        let screen = serial.screen_after("> ");
        assert!(screen.uses_monitor() && screen.captures_screens());
        let Action::Keys(names) = &keys.steps[1].action else { panic!("a keys step") };
        assert_eq!(names[..3], ["shift-l", "s", "spc"]);
    }

    #[test]
    #[should_panic(expected = "keys_after: no key types '\\r'")]
    fn keys_after_refuses_characters_without_a_key() {
        let _ = Boot::stage(1).keys_after("> ", "ls\r\n");
    }

    #[test]
    fn each_boot_has_its_own_monitor_files() {
        let (one, two) = (MonitorFiles::new(), MonitorFiles::new());
        assert_ne!(one.socket, two.socket);
        assert_ne!(one.screen, one.socket);
        let argument = one.qemu_argument();
        assert!(argument.starts_with("unix:") && argument.ends_with(".monitor,server,nowait"), "{argument}");
        fs::write(&one.screen, b"dump").unwrap();
        let screen = one.screen.clone();
        drop(one);
        assert!(!screen.exists());
    }

    #[test]
    fn screen_lines_are_checked_in_order_on_the_last_capture() {
        let mut run = transcript("");
        assert_eq!(run.screen(), None);
        run.screens.push(vec!["old".into()]);
        run.screens.push(vec!["> echo Hi".into(), "Hi".into(), "> ".into()]);
        assert_eq!(run.screen().unwrap()[1], "Hi");
        run.expect_screen_lines(&["> echo Hi", "Hi", ">"]);
        let rows = run.screen().unwrap();
        assert!(check_in_order(rows.iter().map(String::as_str), &["Hi", "echo"]).is_err());
        assert!(check_in_order(rows.iter().map(String::as_str), &["old"]).is_err());
    }

    #[test]
    #[should_panic(expected = "no screen was captured")]
    fn screen_lines_need_a_capture() {
        transcript("").expect_screen_lines(&["anything"]);
    }

    #[test]
    fn a_program_that_never_ends_is_killed_at_the_deadline() {
        let mut child = Command::new("sleep").arg("30").spawn().unwrap();
        let started = Instant::now();
        assert_eq!(wait_or_kill(&mut child, started + Duration::from_millis(300)), None);
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn uefi_boots_flash_the_firmware_and_a_copy_of_its_variables() {
        let firmware = Ovmf { code: "/fw/OVMF_CODE_4M.fd".into(), variables: "/fw/OVMF_VARS_4M.fd".into() };
        let copy = ScratchFile::copy_of(Path::new("Cargo.toml"), "vars");
        assert_eq!(
            firmware.qemu_arguments(&copy.0),
            [
                "-drive",
                "if=pflash,format=raw,unit=0,readonly=on,file=/fw/OVMF_CODE_4M.fd",
                "-drive",
                &format!("if=pflash,format=raw,unit=1,file={}", copy.0.display()),
            ]
        );
        let path = copy.0.clone();
        assert!(path.exists());
        drop(copy);
        assert!(!path.exists());
        assert!(Boot::stage(1).uefi().label().ends_with(", UEFI firmware (OVMF) and GRUB"));
        assert_eq!(Boot::stage(1).firmware, Firmware::Bios);
        assert_eq!(Boot::stage(1).uefi().loader, Loader::Grub);
    }

    #[test]
    fn boots_are_fast_unless_they_ask_for_grub() {
        assert_eq!(Boot::stage(1).loader, Loader::Qemu);
        assert!(Boot::stage(1).label().ends_with(", loaded by QEMU (-kernel)"));
        let grub = Boot::stage(1).through_grub();
        assert_eq!((grub.loader, grub.firmware), (Loader::Grub, Firmware::Bios));
        assert!(grub.label().ends_with(", BIOS and GRUB"));
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

    // ANCHOR: forged_report_test
    #[test]
    fn only_the_kernels_own_channel_tells_of_its_failures() {
        // A task printed a report on the serial console: not the kernel's.
        let forged = transcript("task: EXCEPTION: forged\nAUDIT FAILED: forged\n");
        assert!(forged.check_no_kernel_report().is_ok());
        // The kernel's own report fails the run, whatever the console shows.
        let mut real = transcript("fine\n");
        real.kernel_text = "Stage 6: channels\nEXCEPTION: page fault (vector 14)\n".into();
        assert!(real.check_no_kernel_report().is_err());
        // No channel at all is a failure too: nothing could be told.
        real.kernel_text = String::new();
        assert!(real.check_no_kernel_report().is_err());
    }
    // ANCHOR_END: forged_report_test

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
