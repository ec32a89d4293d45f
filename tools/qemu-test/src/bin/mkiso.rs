//! `mkiso`: builds a bootable GRUB ISO for a kernel (used by `make images`),
//! unless the ISO there was made from the same inputs (it then says so).
//!
//! ```text
//! mkiso --title "Stage 1: boot" --kernel KERNEL.elf [--module PATH]... [--cmdline "..."] --output OUT.iso
//! ```

use qemu_test::iso::{IsoSpec, build_iso_if_changed};
use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    match parse(std::env::args().skip(1)) {
        Ok((spec, output)) => match build_iso_if_changed(&spec, &output) {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => {
                println!("mkiso: {} is up to date", output.display());
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("mkiso: {error}");
                ExitCode::FAILURE
            }
        },
        Err(message) => {
            eprintln!("mkiso: {message}");
            eprintln!(
                "usage: mkiso --title T --kernel K.elf [--module PATH]... [--cmdline C] --output OUT.iso"
            );
            ExitCode::from(2)
        }
    }
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<(IsoSpec, PathBuf), String> {
    let mut spec = IsoSpec::default();
    let mut output = None;
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--title" => spec.title = value()?,
            "--kernel" => spec.kernel = value()?.into(),
            "--cmdline" => spec.command_line = value()?,
            "--output" => output = Some(PathBuf::from(value()?)),
            "--module" => {
                let path = PathBuf::from(value()?);
                let name =
                    path.file_name().ok_or("a module needs a file name")?.to_string_lossy().into_owned();
                spec.modules.push((path, name));
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if spec.kernel.as_os_str().is_empty() {
        return Err("--kernel is required".into());
    }
    Ok((spec, output.ok_or("--output is required")?))
}
