//! `grade`: runs the chapters' graded exercises (`make grade`, `make grade-check`).
//!
//! ```text
//! grade run   [--only ID] N...    each exercise of chapters N: PASS or FAIL, and a score
//! grade check [--only ID] N...    CI: every test fails as shipped, every solution passes
//! ```
//!
//! A chapter's exercises are listed in `exercises/stage-N.txt` (see
//! [`manifest`]); each names the test that decides it. `run` builds what
//! the tests need (`make image-N` for boot tests), runs each test with
//! `cargo test`, and scores it: easy 1 point, moderate 2, hard 3. What each
//! test printed goes to `build/grade/logs/`. `check` is in [`check`].

mod check;
mod manifest;

use manifest::{Exercise, TestSpec};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::{env, fs};

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let result = Options::parse(&args).and_then(|options| {
        let root = qemu_test::repository_root().canonicalize().map_err(|error| error.to_string())?;
        match options.command.as_str() {
            "run" => run(&root, &options),
            "check" => check::check(&root, &options),
            other => Err(format!("unknown command '{other}'")),
        }
    });
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(message) => {
            eprintln!("grade: {message}");
            eprintln!("usage: grade run|check [--only ID] STAGE...");
            ExitCode::from(2)
        }
    }
}

/// What the command line asks for.
pub struct Options {
    command: String,
    stages: Vec<u32>,
    only: Option<String>,
}

impl Options {
    fn parse(args: &[String]) -> Result<Options, String> {
        let (command, mut rest) = args.split_first().ok_or("no command")?;
        let mut options = Options { command: command.clone(), stages: Vec::new(), only: None };
        while let Some((word, tail)) = rest.split_first() {
            rest = tail;
            if word == "--only" {
                let (id, tail) = rest.split_first().ok_or("--only needs an exercise id")?;
                options.only = Some(id.clone());
                rest = tail;
            } else {
                options.stages.push(word.parse().map_err(|_| format!("'{word}' is not a stage number"))?);
            }
        }
        if options.stages.is_empty() {
            return Err("no stage given".into());
        }
        Ok(options)
    }

    /// Whether the command line selects this exercise.
    fn selects(&self, exercise: &Exercise) -> bool {
        self.only.as_ref().is_none_or(|id| *id == exercise.id)
    }
}

/// The manifest of chapter `stage` in `root`; `None` when it has none yet.
pub fn load_manifest(root: &Path, stage: u32) -> Result<Option<Vec<Exercise>>, String> {
    let path = root.join(format!("exercises/stage-{stage}.txt"));
    match fs::read_to_string(&path) {
        Ok(text) => manifest::parse(&text).map(Some).map_err(|error| format!("{}: {error}", path.display())),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(format!("cannot read {}: {error}", path.display())),
    }
}

/// How one run of an exercise's test ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    /// The test ran and failed, with the first line of its reason.
    Fail(String),
    /// The code or the test did not build (or the images could not be made).
    BuildError(String),
    /// Nothing ran: the manifest names a test that does not exist.
    NoTest,
}

impl Outcome {
    fn word(&self) -> &'static str {
        match self {
            Outcome::Pass => "PASS",
            Outcome::Fail(_) => "FAIL",
            Outcome::BuildError(_) => "BUILD",
            Outcome::NoTest => "NO TEST",
        }
    }

    fn detail(&self) -> Option<String> {
        match self {
            Outcome::Pass => None,
            Outcome::Fail(reason) => Some(reason.clone()),
            Outcome::BuildError(reason) => Some(format!("did not build: {reason}")),
            Outcome::NoTest => Some("no test of this name ran: check the manifest's test name".into()),
        }
    }
}

/// Where a run's tests are run and their output kept.
pub struct Workspace<'a> {
    /// The repository (or scratch copy) to build and test.
    pub root: &'a Path,
    /// Where the logs go.
    pub logs: PathBuf,
    /// Prefix of the log files' names.
    pub label: &'a str,
}

impl Workspace<'_> {
    /// Builds `build/stage-N.iso` if any of `exercises` boots it; the error
    /// is the end of make's output.
    pub fn prepare(&self, stage: u32, exercises: &[&Exercise]) -> Result<(), String> {
        if !exercises.iter().any(|exercise| matches!(exercise.test, TestSpec::Boot { .. })) {
            return Ok(());
        }
        let mut make = Command::new("make");
        make.current_dir(self.root).args(["--no-print-directory", &format!("image-{stage}")]);
        let (success, output) =
            run_logged(make, &self.logs.join(format!("{}stage-{stage}-image.log", self.label)));
        match success {
            true => Ok(()),
            false => Err(first_error(&output).unwrap_or(format!("make image-{stage} failed"))),
        }
    }

    /// Runs the test of `exercise`, of chapter `stage`.
    pub fn test(&self, stage: u32, exercise: &Exercise) -> Outcome {
        let mut cargo = Command::new(env::var("CARGO").unwrap_or("cargo".into()));
        cargo.current_dir(self.root).args(["test", "-q"]);
        match &exercise.test {
            TestSpec::Boot { name } => cargo
                .args(["-p", "qemu-test", "--features", "exercises", "--test"])
                .arg(format!("exercises_stage{stage}"))
                .args(["--", "--exact", name]),
            TestSpec::Unit { package, name } => {
                cargo.args(["-p", package, "--features", "exercises", "--", "--exact", name])
            }
        };
        let log = self.logs.join(format!("{}stage-{stage}-{}.log", self.label, exercise.id));
        let (success, output) = run_logged(cargo, &log);
        classify(success, &output)
    }
}

/// Runs `command`, writes everything it printed to `log`, and returns
/// whether it succeeded and what it printed.
fn run_logged(mut command: Command, log: &Path) -> (bool, String) {
    // The cargo of the worktree must not take the outer one's target folder.
    command.env_remove("CARGO_TARGET_DIR");
    let (success, text) = match command.output() {
        Ok(output) => (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr),
        ),
        Err(error) => (false, format!("error: cannot run {command:?}: {error}")),
    };
    if let Some(folder) = log.parent() {
        let _ = fs::create_dir_all(folder);
    }
    let _ = fs::write(log, &text);
    (success, text)
}

/// Reads a `cargo test` run: which tests passed and failed, and why.
fn classify(success: bool, output: &str) -> Outcome {
    let (mut passed, mut failed, mut results) = (0, 0, 0);
    for line in output.lines() {
        let Some(rest) = line.strip_prefix("test result: ") else { continue };
        results += 1;
        // "ok. 1 passed; 0 failed; 0 ignored; ...": the number before each word.
        let count = |word: &str| {
            rest.split(';')
                .find_map(|part| part.trim().strip_suffix(word))
                .and_then(|part| part.split_whitespace().last())
                .and_then(|number| number.parse::<u32>().ok())
                .unwrap_or(0)
        };
        passed += count(" passed");
        failed += count(" failed");
    }
    if results == 0 {
        return Outcome::BuildError(first_error(output).unwrap_or("no test binary ran".into()));
    }
    match (success, passed, failed) {
        (true, 0, 0) => Outcome::NoTest,
        (true, _, 0) => Outcome::Pass,
        _ => Outcome::Fail(failure_reason(output)),
    }
}

/// The reason a failed test gave: the line after its "panicked at".
fn failure_reason(output: &str) -> String {
    let mut lines = output.lines();
    while let Some(line) = lines.next() {
        if line.contains("panicked at") {
            return shorten(lines.next().unwrap_or(line));
        }
    }
    "the test failed (see the log)".into()
}

/// The first error a build printed, if any: cargo's and rustc's start
/// with "error", make's have "***".
fn first_error(output: &str) -> Option<String> {
    output.lines().find(|line| line.starts_with("error") || line.contains("*** ")).map(shorten)
}

fn shorten(line: &str) -> String {
    let line = line.trim();
    match line.char_indices().nth(160) {
        Some((end, _)) => format!("{}...", &line[..end]),
        None => line.to_string(),
    }
}

/// `grade run`: runs and scores the exercises of each stage asked for.
fn run(root: &Path, options: &Options) -> Result<bool, String> {
    let workspace = Workspace { root, logs: root.join("build/grade/logs"), label: "" };
    let (mut score, mut possible) = (0, 0);
    for &stage in &options.stages {
        let Some(exercises) = load_manifest(root, stage)? else {
            println!("Chapter {stage}: no exercises yet for stage {stage}");
            continue;
        };
        let selected: Vec<&Exercise> =
            exercises.iter().filter(|exercise| options.selects(exercise)).collect();
        if selected.is_empty() {
            continue;
        }
        println!("Chapter {stage}: {} exercise(s), exercises/stage-{stage}.txt", selected.len());
        let prepared = workspace.prepare(stage, &selected);
        let (mut chapter_score, mut chapter_possible) = (0, 0);
        for exercise in selected {
            let outcome = match (&prepared, &exercise.test) {
                (Err(error), TestSpec::Boot { .. }) => Outcome::BuildError(error.clone()),
                _ => workspace.test(stage, exercise),
            };
            let points = exercise.level.points();
            chapter_possible += points;
            if outcome == Outcome::Pass {
                chapter_score += points;
            }
            println!(
                "  {:<7} {:<9} {:<22} {}",
                outcome.word(),
                exercise.level.name(),
                exercise.id,
                exercise.title
            );
            if let Some(detail) = outcome.detail() {
                println!("          {detail}");
                println!("          log: build/grade/logs/stage-{stage}-{}.log", exercise.id);
            }
        }
        println!("Chapter {stage} score: {chapter_score}/{chapter_possible}");
        score += chapter_score;
        possible += chapter_possible;
    }
    if options.stages.len() > 1 {
        println!("Score: {score}/{possible}");
    }
    if possible == 0 && options.only.is_some() {
        return Err(format!(
            "no exercise '{}' in the stages asked for",
            options.only.as_deref().unwrap_or("")
        ));
    }
    // A low score is not an error: the run itself went well.
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_passing_test_passes() {
        let output = "running 1 test\n.\ntest result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 9 filtered out; finished in 1.20s\n";
        assert_eq!(classify(true, output), Outcome::Pass);
    }

    #[test]
    fn a_failing_test_fails_with_its_reason() {
        let output = "running 1 test\nF\nfailures:\n---- divide_error stdout ----\n\nthread 'divide_error' panicked at tools/qemu-test/src/lib.rs:9:9:\nstage 1 with 128 MiB: expected a line with \"EXCEPTION: divide error\"\n(exit status 33 after 1.02 s)\n\ntest result: FAILED. 0 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out\n";
        assert_eq!(
            classify(false, output),
            Outcome::Fail("stage 1 with 128 MiB: expected a line with \"EXCEPTION: divide error\"".into())
        );
    }

    #[test]
    fn a_build_error_is_not_a_failure() {
        let output = "error[E0425]: cannot find value `x` in this scope\nerror: could not compile `common`\n";
        assert_eq!(
            classify(false, output),
            Outcome::BuildError("error[E0425]: cannot find value `x` in this scope".into())
        );
    }

    #[test]
    fn a_test_name_that_matches_nothing_is_reported() {
        let output =
            "running 0 tests\n\ntest result: ok. 0 passed; 0 failed; 0 ignored; 0 measured; 3 filtered out\n";
        assert_eq!(classify(true, output), Outcome::NoTest);
    }

    #[test]
    fn every_binary_counts() {
        let output = "test result: ok. 0 passed; 0 failed; 0 ignored\ntest result: ok. 1 passed; 0 failed; 0 ignored\n";
        assert_eq!(classify(true, output), Outcome::Pass);
    }

    #[test]
    fn reads_the_command_line() {
        let args: Vec<String> = ["run", "--only", "divide-error", "1", "2"].map(String::from).into();
        let options = Options::parse(&args).unwrap();
        assert_eq!((options.command.as_str(), options.stages.as_slice()), ("run", &[1, 2][..]));
        assert_eq!(options.only.as_deref(), Some("divide-error"));
        assert!(Options::parse(&["run".to_string()]).is_err());
        assert!(Options::parse(&["run".to_string(), "x".to_string()]).is_err());
    }
}
