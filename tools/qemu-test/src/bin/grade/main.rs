//! `grade`: runs the chapters' graded exercises (`make grade`,
//! `make grade-check`, `make grade-handin`).
//!
//! ```text
//! grade run    [--only ID] [--results FILE] [N...]   each exercise of chapters N (all without N):
//!                                                    PASS or FAIL, a score per chapter and a total
//! grade check  [--only ID] [N...]                    CI: every test fails as shipped, every solution
//!                                                    passes alone, and a chapter's all together
//! grade handin FILE [--results FILE] [N...]          a student's hand-in (`make handin`), graded
//!                                                    with every test, hidden ones included
//! ```
//!
//! A chapter's exercises are listed in `exercises/stage-N.txt` (see
//! [`manifest`]); each names the test that decides it, and the teacher's
//! tree may add hidden tests. `run` builds what the tests need (`make
//! image-N` for boot tests), runs each test with `cargo test`, and scores
//! it: easy 1 point, moderate 2, hard 3, when all of its tests pass. What
//! each test printed goes to `build/grade/logs/`. Besides the summary it
//! writes a results file in the Gradescope autograder format
//! (`build/grade/results.json` unless `--results` says where; see
//! [`results`]). It exits with 1 when any exercise fails, 2 on a usage
//! error (an unknown chapter or exercise: the message lists the valid
//! ones). `check` is in [`check`], `handin` in [`handin`].

mod check;
mod handin;
mod manifest;
mod results;
mod seed;

use manifest::{Exercise, TestSpec};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;
use std::{env, fs};

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let result = Options::parse(&args).and_then(|mut options| {
        let root = qemu_test::repository_root().canonicalize().map_err(|error| error.to_string())?;
        options.resolve(&root)?;
        match options.command.as_str() {
            "run" => run(&root, &options),
            "check" => check::check(&root, &options),
            "handin" => handin::grade(&root, &options),
            other => Err(format!("unknown command '{other}'")),
        }
    });
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(message) => {
            eprintln!("grade: {message}");
            eprintln!(
                "usage: grade run|check [--only ID] [--results FILE] [STAGE...]; grade handin FILE [STAGE...]"
            );
            ExitCode::from(2)
        }
    }
}

/// What the command line asks for.
pub struct Options {
    command: String,
    /// The chapters; all that have exercises when none is given.
    stages: Vec<u32>,
    only: Option<String>,
    /// Where the results file goes (`grade run` and `grade handin`).
    results: Option<PathBuf>,
    /// The hand-in to grade (`grade handin`).
    file: Option<PathBuf>,
}

impl Options {
    fn parse(args: &[String]) -> Result<Options, String> {
        let (command, mut rest) = args.split_first().ok_or("no command")?;
        let mut options =
            Options { command: command.clone(), stages: Vec::new(), only: None, results: None, file: None };
        while let Some((word, tail)) = rest.split_first() {
            rest = tail;
            let mut value = |what: &str| -> Result<String, String> {
                let (value, tail) = rest.split_first().ok_or(format!("{word} needs {what}"))?;
                rest = tail;
                Ok(value.clone())
            };
            match word.as_str() {
                "--only" => options.only = Some(value("an exercise id")?).filter(|id| !id.is_empty()),
                "--results" => options.results = Some(value("a file name")?.into()),
                _ if options.command == "handin" && options.file.is_none() => {
                    options.file = Some(word.into())
                }
                _ => {
                    options.stages.push(word.parse().map_err(|_| format!("'{word}' is not a stage number"))?)
                }
            }
        }
        if options.command == "handin" && options.file.is_none() {
            return Err("grade handin needs the hand-in file (make grade-handin FILE=...)".into());
        }
        Ok(options)
    }

    /// Checks the chapters and the exercise asked for against the
    /// manifests of `root` (no chapter: every chapter that has exercises).
    fn resolve(&mut self, root: &Path) -> Result<(), String> {
        let chapters = chapters(root);
        let listed = || chapters.iter().map(u32::to_string).collect::<Vec<_>>().join(" ");
        if self.stages.is_empty() {
            self.stages = chapters.clone();
        }
        if let Some(stage) = self.stages.iter().find(|stage| !chapters.contains(stage)) {
            return Err(format!(
                "chapter {stage} has no exercises; the chapters with exercises: {}",
                listed()
            ));
        }
        if let Some(id) = &self.only {
            let mut known = Vec::new();
            for &stage in &self.stages {
                known.extend(load_manifest(root, stage)?.into_iter().flatten().map(|exercise| exercise.id));
            }
            if !known.contains(id) {
                return Err(format!(
                    "no exercise '{id}' in chapter(s) {}; the exercises there: {}",
                    self.stages.iter().map(u32::to_string).collect::<Vec<_>>().join(" "),
                    known.join(" ")
                ));
            }
        }
        Ok(())
    }

    /// Whether the command line selects this exercise.
    fn selects(&self, exercise: &Exercise) -> bool {
        self.only.as_ref().is_none_or(|id| *id == exercise.id)
    }
}

/// The chapters of `root` that have exercises (`exercises/stage-N.txt`), in order.
pub fn chapters(root: &Path) -> Vec<u32> {
    let mut chapters: Vec<u32> = fs::read_dir(root.join("exercises"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            name.strip_prefix("stage-")?.strip_suffix(".txt")?.parse().ok()
        })
        .collect();
    chapters.sort_unstable();
    chapters
}

/// The manifest of chapter `stage` in `root`, with its hidden tests if
/// the tree has them; `None` when it has no exercises.
pub fn load_manifest(root: &Path, stage: u32) -> Result<Option<Vec<Exercise>>, String> {
    let read = |path: PathBuf| match fs::read_to_string(&path) {
        Ok(text) => Ok(Some((text, path))),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(format!("cannot read {}: {error}", path.display())),
    };
    let Some((text, path)) = read(root.join(format!("exercises/stage-{stage}.txt")))? else {
        return Ok(None);
    };
    let mut exercises = manifest::parse(&text).map_err(|error| format!("{}: {error}", path.display()))?;
    if let Some((text, path)) = read(root.join(format!("exercises/hidden/stage-{stage}.txt")))? {
        manifest::add_hidden(&mut exercises, &text)
            .map_err(|error| format!("{}: {error}", path.display()))?;
    }
    Ok(Some(exercises))
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
    pub fn word(&self) -> &'static str {
        match self {
            Outcome::Pass => "PASS",
            Outcome::Fail(_) => "FAIL",
            Outcome::BuildError(_) => "BUILD",
            Outcome::NoTest => "NO TEST",
        }
    }

    pub fn detail(&self) -> Option<String> {
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
        if !exercises
            .iter()
            .flat_map(|exercise| exercise.tests())
            .any(|test| matches!(test, TestSpec::Boot { .. }))
        {
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

    /// Runs the tests of `exercise`, of chapter `stage`: its own, then
    /// (with `hidden`) its hidden ones; the first that does not pass
    /// decides the outcome.
    pub fn test(&self, stage: u32, exercise: &Exercise, hidden: bool) -> Outcome {
        for (number, test) in exercise.tests().enumerate().take(if hidden { usize::MAX } else { 1 }) {
            let log = match number {
                0 => self.log(stage, &exercise.id),
                _ => self.log(stage, &format!("{}-hidden-{number}", exercise.id)),
            };
            match self.test_one(stage, test, &log) {
                Outcome::Pass => {}
                Outcome::Fail(reason) if number > 0 => {
                    return Outcome::Fail(format!("hidden test: {reason}"));
                }
                other => return other,
            }
        }
        Outcome::Pass
    }

    /// Where the log of a test of chapter `stage` goes.
    pub fn log(&self, stage: u32, name: &str) -> PathBuf {
        self.logs.join(format!("{}stage-{stage}-{name}.log", self.label))
    }

    fn test_one(&self, stage: u32, test: &TestSpec, log: &Path) -> Outcome {
        let mut cargo = self.cargo_test(stage, test);
        let name = match test {
            TestSpec::Boot { name, .. } | TestSpec::Unit { name, .. } => name,
        };
        cargo.args(["--", "--exact", name]);
        let (success, output) = run_logged(cargo, log);
        classify(success, &output)
    }

    /// Builds, without running them, every test of `exercises` (of chapter
    /// `stage`); a failed build is left for the tests themselves to report.
    pub fn build_tests(&self, stage: u32, exercises: &[&Exercise]) {
        for test in exercises.iter().flat_map(|exercise| exercise.tests()) {
            let mut cargo = self.cargo_test(stage, test);
            cargo.arg("--no-run");
            let _ = run_logged(cargo, &self.log(stage, "build"));
        }
    }

    /// `cargo test` of the binary that holds `test`, with the feature
    /// `exercises`.
    fn cargo_test(&self, stage: u32, test: &TestSpec) -> Command {
        let mut cargo = Command::new(env::var("CARGO").unwrap_or("cargo".into()));
        cargo.current_dir(self.root).args(["test", "-q"]);
        match test {
            TestSpec::Boot { hidden, .. } => cargo
                .args(["-p", "qemu-test", "--features", "exercises", "--test"])
                .arg(format!("{}_stage{stage}", if *hidden { "hidden" } else { "exercises" })),
            TestSpec::Unit { package, .. } => cargo.args(["-p", package, "--features", "exercises"]),
        };
        cargo
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

/// One exercise, graded.
pub struct Graded<'e> {
    pub stage: u32,
    pub exercise: &'e Exercise,
    pub outcome: Outcome,
}

impl Graded<'_> {
    pub fn score(&self) -> u32 {
        if self.outcome == Outcome::Pass { self.exercise.level.points() } else { 0 }
    }
}

/// Grades the exercises `options` selects in `workspace`, with their
/// hidden tests if `hidden`, printing each and a score per chapter and in
/// all; `where_logs` is how the logs' folder is named to the reader.
pub fn grade_chapters<'e>(
    workspace: &Workspace,
    chapters: &'e [(u32, Vec<Exercise>)],
    options: &Options,
    hidden: bool,
    where_logs: &str,
) -> Vec<Graded<'e>> {
    let mut graded = Vec::new();
    for (stage, exercises) in chapters {
        let stage = *stage;
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
                _ => workspace.test(stage, exercise, hidden),
            };
            let row = Graded { stage, exercise, outcome };
            chapter_possible += exercise.level.points();
            chapter_score += row.score();
            println!(
                "  {:<7} {:<9} {:<22} {}",
                row.outcome.word(),
                exercise.level.name(),
                exercise.id,
                exercise.title
            );
            if let Some(detail) = row.outcome.detail() {
                println!("          {detail}");
                println!("          log: {where_logs}/stage-{stage}-{}.log", exercise.id);
            }
            graded.push(row);
        }
        println!("Chapter {stage} score: {chapter_score}/{chapter_possible}");
    }
    let score: u32 = graded.iter().map(Graded::score).sum();
    let possible: u32 = graded.iter().map(|row| row.exercise.level.points()).sum();
    let passed = graded.iter().filter(|row| row.outcome == Outcome::Pass).count();
    println!("Total: {score}/{possible} points, {passed} of {} exercise(s) passed", graded.len());
    graded
}

/// Every chapter `options` asks for, with its exercises.
pub fn load_chapters(root: &Path, options: &Options) -> Result<Vec<(u32, Vec<Exercise>)>, String> {
    let mut chapters = Vec::new();
    for &stage in &options.stages {
        if let Some(exercises) = load_manifest(root, stage)? {
            chapters.push((stage, exercises));
        }
    }
    Ok(chapters)
}

/// `grade run`: runs and scores the exercises of each stage asked for;
/// succeeds only if every one passes.
fn run(root: &Path, options: &Options) -> Result<bool, String> {
    let started = Instant::now();
    let workspace = Workspace { root, logs: root.join("build/grade/logs"), label: "" };
    let chapters = load_chapters(root, options)?;
    let graded = grade_chapters(&workspace, &chapters, options, true, "build/grade/logs");
    let path = options.results.clone().unwrap_or(root.join("build/grade/results.json"));
    results::write(&path, &graded, "", started.elapsed())?;
    println!("Results file (Gradescope's results.json format): {}", path.display());
    Ok(graded.iter().all(|row| row.outcome == Outcome::Pass))
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
        assert!(Options::parse(&["run".to_string()]).unwrap().stages.is_empty());
        assert!(Options::parse(&["run".to_string(), "x".to_string()]).is_err());
        let handin: Vec<String> =
            ["handin", "work.patch", "--results", "r.json", "3"].map(String::from).into();
        let options = Options::parse(&handin).unwrap();
        assert_eq!(options.file.as_deref(), Some(Path::new("work.patch")));
        assert_eq!(
            (options.results.as_deref(), options.stages.as_slice()),
            (Some(Path::new("r.json")), &[3][..])
        );
        assert!(Options::parse(&["handin".to_string()]).is_err());
    }

    #[test]
    fn the_guide_shows_chapter_1_as_it_is() {
        let root = qemu_test::repository_root();
        let guide = fs::read_to_string(root.join("exercises/README.md")).unwrap();
        let exercises = load_manifest(&root, 1).unwrap().unwrap();
        let points: u32 = exercises.iter().map(|exercise| exercise.level.points()).sum();
        let count = format!("Chapter 1: {} exercise(s), exercises/stage-1.txt", exercises.len());
        assert!(guide.contains(&count), "exercises/README.md's sample should say {count:?}");
        assert!(
            guide.contains(&format!("Chapter 1 score: 1/{points}")),
            "the sample's score is out of {points}"
        );
        let mut total = 0;
        for stage in chapters(&root) {
            total +=
                load_manifest(&root, stage).unwrap().unwrap().iter().map(|e| e.level.points()).sum::<u32>();
        }
        assert!(guide.contains(&format!("{total} points in all")), "the schedule's total is {total} points");
    }

    #[test]
    fn an_unknown_chapter_or_exercise_lists_the_valid_ones() {
        let root = qemu_test::repository_root();
        let mut options = Options::parse(&["run".to_string(), "7".to_string()]).unwrap();
        let error = options.resolve(&root).unwrap_err();
        assert!(error.contains("chapter 7 has no exercises") && error.contains("1 2 3 4 5 6"), "{error}");
        let args: Vec<String> = ["run", "--only", "nope", "1"].map(String::from).into();
        let error = Options::parse(&args).unwrap().resolve(&root).unwrap_err();
        assert!(error.contains("no exercise 'nope'") && error.contains("divide-error"), "{error}");
        let mut all = Options::parse(&["run".to_string()]).unwrap();
        all.resolve(&root).unwrap();
        assert_eq!(all.stages, [1, 2, 3, 4, 5, 6]);
    }
}
