//! Bootable ISO images: GRUB plus a kernel, its modules and its command line.
//!
//! This is the one place that writes a GRUB configuration: `make images`
//! and `make stage-N CMDLINE="..."` call it through the `mkiso` binary, and
//! the boot tests call it to make variants of an image with another kernel
//! command line. `mkiso` makes an ISO again only when what goes on it
//! changed ([`build_iso_if_changed`]): `make test`, the book's commands and
//! the graders ask for the same images dozens of times, and each
//! `grub-mkrescue` takes a second or two.

use crate::image::{self, Firmware};
use std::fmt::Write as _;
use std::hash::{DefaultHasher, Hasher};
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
    // Written beside the output, then renamed over it: a QEMU booting the
    // old image keeps reading the old file.
    let partial = output.with_extension("partial");
    let result = Command::new("grub-mkrescue")
        .args(["--locales=", "--fonts=", "--themes="])
        .arg("-o")
        .arg(&partial)
        .arg(&root)
        .output();
    let _ = fs::remove_dir_all(&root);
    let result =
        result.map_err(|error| io::Error::new(error.kind(), format!("cannot run grub-mkrescue: {error}")))?;
    if !result.status.success() {
        let _ = fs::remove_file(&partial);
        return Err(io::Error::other(format!(
            "grub-mkrescue failed:\n{}",
            String::from_utf8_lossy(&result.stderr)
        )));
    }
    check_boots_everywhere(&partial)?;
    fs::rename(&partial, output)
}
// ANCHOR_END: build_iso

/// [`build_iso`], unless `output` was made from the same inputs: its
/// record beside it (`OUTPUT.inputs`) holds the [`fingerprint`] of what
/// made it. Returns whether it built.
pub fn build_iso_if_changed(spec: &IsoSpec, output: &Path) -> io::Result<bool> {
    let record = PathBuf::from(format!("{}.inputs", output.display()));
    let fingerprint = fingerprint(spec, &tools_identity())?;
    if output.exists() && fs::read_to_string(&record).is_ok_and(|made_from| made_from == fingerprint) {
        check_boots_everywhere(output)?;
        return Ok(false);
    }
    // No record while the ISO is being replaced: a build that stops half
    // way leaves an ISO that is made again next time.
    let _ = fs::remove_file(&record);
    build_iso(spec, output)?;
    fs::write(&record, fingerprint)?;
    Ok(true)
}

/// What an ISO is made from, as text: the GRUB configuration (title,
/// command line, module names), a hash of each file's bytes, and `tools`,
/// which says what made it (see [`tools_identity`]). Equal fingerprints
/// make equal ISOs.
pub fn fingerprint(spec: &IsoSpec, tools: &str) -> io::Result<String> {
    let hash_of = |path: &Path| -> io::Result<String> {
        let bytes = fs::read(path)
            .map_err(|error| io::Error::new(error.kind(), format!("{}: {error}", path.display())))?;
        let mut hasher = DefaultHasher::new();
        hasher.write(&bytes);
        Ok(format!("{:016x} {} bytes", hasher.finish(), bytes.len()))
    };
    let mut text = format!("tools: {tools}\nkernel: {}\n", hash_of(&spec.kernel)?);
    for (path, name) in &spec.modules {
        let _ = writeln!(text, "module {name}: {}", hash_of(path)?);
    }
    text += "grub.cfg:\n";
    text += &grub_config(spec);
    Ok(text)
}

/// What makes the ISOs here: this program's own bytes (which hold the
/// layout and [`grub_config`]) and GRUB's version.
fn tools_identity() -> String {
    let program = std::env::current_exe().and_then(fs::read).unwrap_or_default();
    let mut hasher = DefaultHasher::new();
    hasher.write(&program);
    let grub = Command::new("grub-mkrescue").arg("--version").output();
    let grub = grub.map(|output| String::from_utf8_lossy(&output.stdout).trim().to_string());
    format!("{:016x}, {}", hasher.finish(), grub.unwrap_or_default())
}

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
    fn the_fingerprint_changes_with_every_input() {
        let folder = std::env::temp_dir().join(format!("iso-fingerprint-{}", std::process::id()));
        fs::create_dir_all(&folder).unwrap();
        let (kernel, module) = (folder.join("kernel.elf"), folder.join("rinit"));
        fs::write(&kernel, b"kernel one").unwrap();
        fs::write(&module, b"rinit one").unwrap();
        let spec = IsoSpec {
            title: "Stage 5: tasks".into(),
            kernel: kernel.clone(),
            modules: vec![(module.clone(), "rinit".into())],
            command_line: String::new(),
        };
        let first = fingerprint(&spec, "tools 1").unwrap();
        assert_eq!(fingerprint(&spec, "tools 1").unwrap(), first, "the same inputs, the same fingerprint");
        let changed = [
            fingerprint(&IsoSpec { title: "Stage 5".into(), ..spec.clone() }, "tools 1"),
            fingerprint(&IsoSpec { command_line: "crash=panic".into(), ..spec.clone() }, "tools 1"),
            fingerprint(
                &IsoSpec { modules: vec![(module.clone(), "hello".into())], ..spec.clone() },
                "tools 1",
            ),
            fingerprint(&IsoSpec { modules: Vec::new(), ..spec.clone() }, "tools 1"),
            fingerprint(&spec, "tools 2"),
        ];
        for (number, other) in changed.into_iter().enumerate() {
            assert_ne!(other.unwrap(), first, "change {number} went unnoticed");
        }
        // The same length, other bytes: the kernel and a module.
        fs::write(&kernel, b"kernel two").unwrap();
        assert_ne!(fingerprint(&spec, "tools 1").unwrap(), first);
        fs::write(&kernel, b"kernel one").unwrap();
        fs::write(&module, b"rinit two").unwrap();
        assert_ne!(fingerprint(&spec, "tools 1").unwrap(), first);
        fs::remove_file(&module).unwrap();
        assert!(fingerprint(&spec, "tools 1").is_err(), "a missing module is an error");
        let _ = fs::remove_dir_all(&folder);
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
