//! Bootable ISO images: GRUB plus a kernel, its modules and its command line.
//!
//! This is the one place that writes a GRUB configuration: `make images`
//! and `make stage-N CMDLINE="..."` call it through the `mkiso` binary, and
//! the boot tests call it to make variants of an image with another kernel
//! command line.

use crate::image::{self, Firmware};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::{fs, io};

/// What goes on an ISO.
#[derive(Clone, Debug, Default)]
pub struct IsoSpec {
    /// The menu entry's title.
    pub title: String,
    /// The kernel ELF image.
    pub kernel: PathBuf,
    /// Extra files GRUB loads as Multiboot2 modules, with their names
    /// (passed as each module's command line).
    pub modules: Vec<(PathBuf, String)>,
    /// The kernel command line.
    pub command_line: String,
}

// ANCHOR: grub_cfg
/// The GRUB configuration for `spec`: boot its one entry at once. Under
/// UEFI there is no VGA text screen, so it says first where the kernel's
/// output goes.
pub fn grub_config(spec: &IsoSpec) -> String {
    let mut config = String::from("set timeout=0\nset default=0\n\n");
    let _ = writeln!(config, "menuentry \"{}\" {{", spec.title);
    config.push_str("    if [ \"$grub_platform\" = efi ]; then\n");
    config.push_str(
        "        echo \"UEFI: no VGA text screen; the kernel prints on the serial port (COM1) only\"\n",
    );
    config.push_str("    fi\n");
    let _ = writeln!(config, "    multiboot2 /boot/kernel.elf {}", spec.command_line);
    for (_, name) in &spec.modules {
        let _ = writeln!(config, "    module2 /boot/{name} {name}");
    }
    config.push_str("    boot\n}\n");
    config
}
// ANCHOR_END: grub_cfg

/// Checks that GRUB passes `command_line` to the kernel as it is: only
/// letters, digits, spaces and `=,._/:+-@%`. GRUB's configuration language
/// would interpret the others (quotes, `$`, `;`, `#`, `\`, braces, ...).
pub fn check_command_line(command_line: &str) -> Result<(), String> {
    let plain = |c: char| c.is_ascii_alphanumeric() || " =,._/:+-@%".contains(c);
    match command_line.chars().find(|&c| !plain(c)) {
        None => Ok(()),
        Some(c) => Err(format!(
            "the kernel command line {command_line:?} has {c:?}, which GRUB would interpret: \
             use only letters, digits, spaces and =,._/:+-@%"
        )),
    }
}

// ANCHOR: build_iso
/// Builds the ISO at `output` with `grub-mkrescue`, staging its files in a
/// folder beside it, and checks that it boots with BIOS and with UEFI.
pub fn build_iso(spec: &IsoSpec, output: &Path) -> io::Result<()> {
    check_command_line(&spec.command_line).map_err(io::Error::other)?;
    let root = output.with_extension("root");
    let _ = fs::remove_dir_all(&root);
    fs::create_dir_all(root.join("boot/grub"))?;
    fs::copy(&spec.kernel, root.join("boot/kernel.elf"))?;
    for (path, name) in &spec.modules {
        fs::copy(path, root.join("boot").join(name))?;
    }
    fs::write(root.join("boot/grub/grub.cfg"), grub_config(spec))?;
    // No translations, fonts or themes: GRUB's menu is never shown, and
    // they would double the ISO's size.
    let result = Command::new("grub-mkrescue")
        .args(["--locales=", "--fonts=", "--themes="])
        .arg("-o")
        .arg(output)
        .arg(&root)
        .output();
    let _ = fs::remove_dir_all(&root);
    let result =
        result.map_err(|error| io::Error::new(error.kind(), format!("cannot run grub-mkrescue: {error}")))?;
    if !result.status.success() {
        return Err(io::Error::other(format!(
            "grub-mkrescue failed:\n{}",
            String::from_utf8_lossy(&result.stderr)
        )));
    }
    check_boots_everywhere(output)
}
// ANCHOR_END: build_iso

/// Checks that the ISO at `path` has a boot image for BIOS and one for
/// UEFI. `grub-mkrescue` leaves out, without a word, a platform whose GRUB
/// modules are not installed.
pub fn check_boots_everywhere(path: &Path) -> io::Result<()> {
    let firmware = image::boot_firmware(&fs::read(path)?)
        .map_err(|error| io::Error::other(format!("{}: {error}", path.display())))?;
    let missing = |which: Firmware, package: &str| {
        io::Error::other(format!(
            "{} has no {which} boot image: grub-mkrescue needs GRUB's {which} modules \
             (Debian's {package}; `tools/install-deps.sh qemu` installs it)",
            path.display()
        ))
    };
    if !firmware.contains(&Firmware::Bios) {
        return Err(missing(Firmware::Bios, "grub-pc-bin"));
    }
    if !firmware.contains(&Firmware::Uefi) {
        return Err(missing(Firmware::Uefi, "grub-efi-amd64-bin"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_boots_the_kernel_with_its_command_line_and_modules() {
        let spec = IsoSpec {
            title: "Stage 5: tasks".into(),
            kernel: "k.elf".into(),
            modules: vec![("target/rinit".into(), "rinit".into())],
            command_line: "crash=panic".into(),
        };
        let config = grub_config(&spec);
        assert!(config.starts_with("set timeout=0\n"));
        assert!(config.contains("menuentry \"Stage 5: tasks\" {\n"));
        assert!(config.contains("    if [ \"$grub_platform\" = efi ]; then\n"));
        assert!(config.contains("    multiboot2 /boot/kernel.elf crash=panic\n"));
        assert!(config.contains("    module2 /boot/rinit rinit\n"));
        assert!(config.ends_with("    boot\n}\n"));
    }

    #[test]
    fn command_lines_grub_would_interpret_are_refused() {
        assert!(check_command_line("crash=stack-overflow").is_ok());
        assert!(check_command_line("").is_ok());
        assert!(check_command_line("a=1 b=x,y").is_ok());
        for bad in ["crash=$x", "a;b", "say \"hi\"", "it's", "x\ny", "#", "a\\b", "{x}"] {
            assert!(check_command_line(bad).is_err(), "{bad:?} accepted");
        }
        let spec = IsoSpec { command_line: "crash=$x".into(), ..IsoSpec::default() };
        let error = build_iso(&spec, Path::new("/nonexistent/x.iso")).unwrap_err();
        assert!(error.to_string().contains("GRUB would interpret"), "{error}");
    }
}
