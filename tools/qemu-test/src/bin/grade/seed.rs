//! The scratch copy's target folder, started from the repository's own
//! (what `make test` has just built) instead of empty, so that a solution
//! builds only what its patch changes, not every kernel and tool again
//! (a clean build of those is most of a minute on two cores).
//!
//! Cargo decides what to rebuild from file times: a crate is stale when a
//! file it was built from is newer than its last build. Its records name
//! those files relative to the crate's folder, so they hold for the
//! scratch copy as well, provided its files have the times the
//! repository's have: [`mirror_times`] gives them those, right after the
//! copy, when the scratch copy holds exactly the repository's files.
//! Cargo then rebuilds in the scratch copy what it would rebuild in the
//! repository, and a patch's files, written later, are newer than any
//! build: their crates are rebuilt.
//!
//! A few records name a file by its full path instead, one outside the
//! crate's folder (a build script shared by the kernels, a source file
//! another crate includes, a linker script): those still name the
//! repository's file, which a patch of the scratch copy does not change.
//! [`Seed::forget_changed`] removes, after each patch, the records of every
//! crate built from such a file that the patch changed, so that cargo
//! rebuilds it.
//!
//! A program built in the repository knows its folder only if it reads it
//! when it runs: `qemu_test::repository_root` (the boot tests' images) and
//! the kernels' build script read `CARGO_MANIFEST_DIR` then, not when they
//! are compiled, so that the copies here boot and link the scratch copy's.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository's files that the copied records name by their full path,
/// and the records (fingerprint folders, in the scratch copy's target
/// folder) that name each.
pub struct Seed {
    named: BTreeMap<PathBuf, Vec<PathBuf>>,
}

/// The profiles' folders copied: release (the kernels, their programs,
/// the host tools) and debug (the boot tests' runner).
const PROFILES: &[&str] = &["release", "debug"];

impl Seed {
    /// Replaces `target` (the scratch copy's) with a copy of `from` (the
    /// repository's); `None`, leaving `target` as it is, if the repository
    /// has built nothing.
    pub fn copy(root: &Path, from: &Path, target: &Path) -> Result<Option<Seed>, String> {
        if !PROFILES.iter().any(|profile| from.join(profile).join(".fingerprint").is_dir()) {
            return Ok(None);
        }
        if target.exists() {
            fs::remove_dir_all(target)
                .map_err(|error| format!("cannot remove {}: {error}", target.display()))?;
        }
        fs::create_dir_all(target).map_err(|error| error.to_string())?;
        let mut named: BTreeMap<PathBuf, Vec<PathBuf>> = BTreeMap::new();
        for profile in PROFILES {
            let source = from.join(profile);
            if !source.join(".fingerprint").is_dir() {
                continue;
            }
            let dest = target.join(profile);
            fs::create_dir_all(&dest).map_err(|error| error.to_string())?;
            // The records and the build scripts' outputs are rewritten in
            // place by cargo: real copies. The compiled crates (deps/) are
            // only ever replaced, never written into, so hard links do:
            // they cost nothing, and the repository's stay as they were.
            // (incremental/ is left out: it only speeds up a rebuild.)
            for (folder, how) in [(".fingerprint", "-a"), ("build", "-a"), ("deps", "-al")] {
                if source.join(folder).is_dir() {
                    cp(how, &source.join(folder), &dest)?;
                }
            }
            // rustc writes a crate's .d file in place: a copy of its own.
            for entry in fs::read_dir(dest.join("deps")).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.extension().is_some_and(|extension| extension == "d") {
                    let copy = path.with_extension("d.copy");
                    fs::copy(&path, &copy)
                        .and_then(|_| fs::rename(&copy, &path))
                        .map_err(|error| format!("{}: {error}", path.display()))?;
                }
            }
            // (The binaries cargo puts beside deps/, such as the kernels,
            // are left out: cargo links them again from deps/.)
            for entry in fs::read_dir(dest.join(".fingerprint")).into_iter().flatten().flatten() {
                for record in fs::read_dir(entry.path()).into_iter().flatten().flatten() {
                    for file in full_paths_under(&fs::read(record.path()).unwrap_or_default(), root) {
                        named.entry(file).or_default().push(entry.path());
                    }
                }
            }
        }
        Ok(Some(Seed { named }))
    }

    /// Removes the records of the crates built from a file named by its
    /// full path that differs in `scratch` from the repository's `root`:
    /// cargo rebuilds those crates.
    pub fn forget_changed(&self, root: &Path, scratch: &Path) -> Result<(), String> {
        for (file, records) in &self.named {
            if fs::read(root.join(file)).ok() == fs::read(scratch.join(file)).ok() {
                continue;
            }
            for record in records {
                match fs::remove_dir_all(record) {
                    Err(error) if error.kind() != io::ErrorKind::NotFound => {
                        return Err(format!("cannot remove {}: {error}", record.display()));
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }
}

/// Gives every file of `scratch` that git knows the time of the same file
/// in `root` (the same contents: the scratch copy was just reset to a
/// snapshot of `root`), then lets git record those times, so that its
/// next checkout does not write the files again.
pub fn mirror_times(root: &Path, scratch: &Path) -> Result<(), String> {
    let listed = Command::new("git")
        .current_dir(scratch)
        .args(["ls-files", "-z"])
        .output()
        .map_err(|error| format!("cannot run git: {error}"))?;
    for name in listed.stdout.split(|&byte| byte == 0).filter(|name| !name.is_empty()) {
        let name = Path::new(std::str::from_utf8(name).map_err(|error| error.to_string())?);
        let (from, to) = (root.join(name), scratch.join(name));
        let Ok(metadata) = fs::symlink_metadata(&from) else { continue };
        if !metadata.is_file() || !fs::symlink_metadata(&to).is_ok_and(|to| to.is_file()) {
            continue;
        }
        let time = metadata.modified().map_err(|error| error.to_string())?;
        fs::File::options()
            .write(true)
            .open(&to)
            .and_then(|file| file.set_modified(time))
            .map_err(|error| format!("{}: {error}", to.display()))?;
    }
    // `update-index --refresh` fails when a file differs: it cannot, here.
    let _ = Command::new("git").current_dir(scratch).args(["update-index", "-q", "--refresh"]).status();
    Ok(())
}

/// `cp FLAGS from into/` (cp keeps times and makes hard links faster than
/// a walk over the files here would).
fn cp(flags: &str, from: &Path, into: &Path) -> Result<(), String> {
    let status = Command::new("cp")
        .arg(flags)
        .arg(from)
        .arg(into)
        .status()
        .map_err(|error| format!("cannot run cp: {error}"))?;
    match status.success() {
        true => Ok(()),
        false => Err(format!("cp {flags} {} {} failed", from.display(), into.display())),
    }
}

/// The files under `root` that a cargo record names by their full path,
/// relative to `root`. The records are binary files of paths each followed
/// by a byte that is not text (the files each crate was built from), and
/// JSON, paths in quotes (those each build script watches).
fn full_paths_under(bytes: &[u8], root: &Path) -> Vec<PathBuf> {
    let prefix = format!("{}/", root.display());
    let mut files = Vec::new();
    for run in bytes.split(|byte| !(0x20..0x7f).contains(byte) || *byte == b'"') {
        let Ok(text) = std::str::from_utf8(run) else { continue };
        if let Some(at) = text.find(&prefix) {
            let relative = PathBuf::from(&text[at + prefix.len()..]);
            if !files.contains(&relative) {
                files.push(relative);
            }
        }
    }
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_full_paths_under_the_root_in_a_record() {
        let mut record = vec![2, 0, 0, 0, 0, 14, 0, 0, 0];
        record.extend_from_slice(b"src/main.rs");
        record.extend_from_slice(&[0, 40, 0, 0, 0]);
        record.extend_from_slice(b"/repo/stages/01-boot/../../common/x.rs");
        record.extend_from_slice(&[1, 30, 0, 0, 0]);
        record.extend_from_slice(b"/home/me/.cargo/registry/y.rs");
        assert_eq!(
            full_paths_under(&record, Path::new("/repo")),
            [PathBuf::from("stages/01-boot/../../common/x.rs")]
        );
        let json = br#"{"local":[{"RerunIfChanged":{"paths":["/repo/ulib/user.ld","build.rs"]}}]}"#;
        assert_eq!(full_paths_under(json, Path::new("/repo")), [PathBuf::from("ulib/user.ld")]);
    }
}
