//! `grade handin FILE` (`make grade-handin FILE=...`, in the teacher's
//! tree): grades a student's hand-in (`make handin`, a patch against the
//! hand-out) with every test, the hidden ones included, and writes the
//! results file.
//!
//! The patch is applied to the scratch copy `grade check` uses (a git
//! worktree of the teacher's tree as it is, `build/grade/tree`). What the
//! grader itself relies on, the tests, the harness and the exercise lists
//! (`tools/qemu-test/`, `exercises/`, `solutions/`), is graded as the
//! teacher has it: a hand-in that changes any of it is reported (on the
//! terminal and in the results file) and those changes are left out.

use crate::check::{Scratch, git};
use crate::{Graded, Options, Outcome, Workspace, grade_chapters, load_chapters, results};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// What a hand-in may not change: the grader's own files.
const PROTECTED: &[&str] = &["tools/qemu-test/", "exercises/", "solutions/"];

/// The files a patch changes (both names of a rename).
fn touched(patch: &str) -> Vec<String> {
    let mut files = Vec::new();
    for line in patch.lines() {
        let Some(names) = line.strip_prefix("diff --git a/") else { continue };
        if let Some((from, to)) = names.split_once(" b/") {
            for name in [from, to] {
                if !files.iter().any(|file| file == name) {
                    files.push(name.to_string());
                }
            }
        }
    }
    files
}

/// The files of `files` the grader keeps as they are.
fn protected(files: &[String]) -> Vec<String> {
    files.iter().filter(|file| PROTECTED.iter().any(|prefix| file.starts_with(prefix))).cloned().collect()
}

/// Applies the hand-in `file` to the scratch copy, without its changes to
/// protected files; the note that names them (empty if none).
fn apply(scratch: &Scratch, file: &Path) -> Result<String, String> {
    let text =
        fs::read_to_string(file).map_err(|error| format!("cannot read {}: {error}", file.display()))?;
    let changed = touched(&text);
    let kept = protected(&changed);
    scratch.reset()?;
    if changed.len() > kept.len() {
        let mut args = vec!["apply".to_string(), "--whitespace=nowarn".to_string()];
        args.extend(kept.iter().map(|name| format!("--exclude={name}")));
        args.push(file.to_string_lossy().into_owned());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        git(&scratch.path, &args, &[]).map_err(|error| format!("the hand-in does not apply: {error}"))?;
        scratch.patched()?;
    }
    Ok(match kept.is_empty() {
        true => String::new(),
        false => format!(
            "The hand-in changes the grader's own files; those changes were left out and the \
             teacher's versions used: {}",
            kept.join(", ")
        ),
    })
}

/// Grades the hand-in `file` in `scratch`; the results file goes to `results_path`.
fn grade_in<'e>(
    scratch: &Scratch,
    file: &Path,
    chapters: &'e [(u32, Vec<crate::manifest::Exercise>)],
    options: &Options,
    root: &Path,
    results_path: &Path,
) -> Result<(Vec<Graded<'e>>, String), String> {
    let started = Instant::now();
    let note = apply(scratch, file)?;
    println!("Grading {} (every test, the hidden ones included)", file.display());
    if !note.is_empty() {
        println!("NOTE: {note}");
    }
    let logs = root.join("build/grade/handin-logs");
    let workspace = Workspace { root: &scratch.path, logs, label: "" };
    let graded = grade_chapters(&workspace, chapters, options, true, "build/grade/handin-logs");
    results::write(results_path, &graded, &note, started.elapsed())?;
    println!("Graded in {:.0} s; results file: {}", started.elapsed().as_secs_f64(), results_path.display());
    Ok((graded, note))
}

/// `grade handin FILE`: succeeds only if every exercise passes.
pub fn grade(root: &Path, options: &Options) -> Result<bool, String> {
    let file = options.file.as_deref().ok_or("no hand-in file")?;
    let file = fs::canonicalize(file).map_err(|error| format!("{}: {error}", file.display()))?;
    let chapters = load_chapters(root, options)?;
    let scratch = Scratch::new(root)?;
    let path = options.results.clone().unwrap_or(root.join("build/grade/handin-results.json"));
    let result = grade_in(&scratch, &file, &chapters, options, root, &path);
    scratch.reset()?;
    let (graded, _) = result?;
    Ok(graded.iter().all(|row| row.outcome == Outcome::Pass))
}

/// Runs a tool of `dir` (a shell script), failing with its output.
fn tool(dir: &Path, script: &str, args: &[&str]) -> Result<(), String> {
    let output = Command::new(dir.join(script))
        .current_dir(dir)
        .args(args)
        .output()
        .map_err(|error| format!("cannot run {script}: {error}"))?;
    match output.status.success() {
        true => Ok(()),
        false => Err(format!(
            "{script} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )),
    }
}

/// The two exercises the round trip solves: chapter 1's first two.
const SOLVED: [&str; 2] = ["divide-error", "map-totals"];

/// `grade check`'s hand-out round trip, on chapter 1: hand out into
/// `build/grade/handout-test`, check that it holds no solution and no
/// hidden test, solve two exercises there by applying their solutions and
/// edit a test too, hand in, grade: the two exercises pass and score their
/// points, the others fail, and the edited test is reported.
pub fn round_trip(root: &Path, scratch: &Scratch) -> Result<(), String> {
    let dir = root.join("build/grade/handout-test");
    let _ = fs::remove_dir_all(&dir);
    tool(root, "tools/handout.sh", &[&dir.to_string_lossy()])?;
    for leftover in ["solutions", "exercises/hidden", "tools/qemu-test/tests/hidden_stage1.rs"] {
        if dir.join(leftover).exists() {
            return Err(format!("the hand-out has {leftover}"));
        }
    }
    for id in SOLVED {
        let patch = root.join(format!("solutions/stage-1/{id}.patch"));
        git(&dir, &["apply", &patch.to_string_lossy()], &[])?;
    }
    // A student who "fixes" a test: the grader must say so, and ignore it.
    let test = dir.join("tools/qemu-test/tests/exercises_stage1.rs");
    let text = fs::read_to_string(&test).map_err(|error| error.to_string())?;
    fs::write(&test, text + "// edited by the student\n").map_err(|error| error.to_string())?;
    tool(&dir, "tools/handin.sh", &[])?;

    let options = Options {
        command: "handin".into(),
        stages: vec![1],
        only: None,
        results: None,
        file: Some(dir.join("handin.patch")),
    };
    let chapters = load_chapters(root, &options)?;
    let results_path: PathBuf = dir.join("results.json");
    let (graded, note) =
        grade_in(scratch, &dir.join("handin.patch"), &chapters, &options, root, &results_path)?;
    if !note.contains("tools/qemu-test/tests/exercises_stage1.rs") {
        return Err(format!("the edited test was not reported (note: {note:?})"));
    }
    let mut expected = 0;
    for row in &graded {
        let solved = SOLVED.contains(&row.exercise.id.as_str());
        if solved {
            expected += row.exercise.level.points();
        }
        if (row.outcome == Outcome::Pass) != solved {
            return Err(format!("{} came out {} in the hand-in", row.exercise.id, row.outcome.word()));
        }
    }
    let score: u32 = graded.iter().map(Graded::score).sum();
    let results = fs::read_to_string(&results_path).map_err(|error| error.to_string())?;
    if score != expected || !results.contains(&format!("\"score\": {expected},")) {
        return Err(format!(
            "scored {score}, expected {expected} (results file: {})",
            results_path.display()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_files_a_patch_changes_and_those_it_may_not() {
        let patch = "Hand-in by x\n\ndiff --git a/common/src/crash.rs b/common/src/crash.rs\n+x\n\
            diff --git a/tools/qemu-test/tests/exercises_stage1.rs b/tools/qemu-test/tests/exercises_stage1.rs\n\
            diff --git a/old.rs b/exercises/stage-1.txt\n";
        let files = touched(patch);
        assert_eq!(
            files,
            [
                "common/src/crash.rs",
                "tools/qemu-test/tests/exercises_stage1.rs",
                "old.rs",
                "exercises/stage-1.txt"
            ]
        );
        assert_eq!(protected(&files), ["tools/qemu-test/tests/exercises_stage1.rs", "exercises/stage-1.txt"]);
    }
}
