//! `grade check` (`make grade-check`, run by CI): no exercise may be
//! already solved, and none unsolvable.
//!
//! 1. Every manifest is valid, lists at least three exercises, and each has
//!    its worked solution `solutions/stage-N/<id>.patch` (and no patch is
//!    left without an exercise). The exercise tests pass clippy.
//! 2. Every exercise test FAILS on the tree as it is (a test that does not
//!    build, or names no test, is a problem too). These run beside step 3:
//!    many fail only at their timeout, waiting for a line the unsolved tree
//!    never prints, and a wait takes little of the CPU that the solutions'
//!    builds need.
//! 3. Every solution, applied with `git apply` to a scratch copy of the
//!    tree, makes its test PASS; then every solution of a chapter, applied
//!    together in the manifest's (the book's) order, makes every test of
//!    the chapter PASS, the hidden ones included. Two chapters are checked
//!    at a time, each in its own scratch copy (one builds while the other
//!    boots).
//! 4. The hand-out round trip (see [`crate::handin::round_trip`]): a
//!    hand-out with two solutions applied, handed in and graded, scores
//!    what they are worth, and a hand-in that edits a test is reported.
//!
//! A scratch copy is a git worktree, `build/grade/tree` (and `tree-2`),
//! checked out at a snapshot of the tree as it is (uncommitted changes
//! included), reset before each solution. Its `target` is
//! `build/grade/target` (`target-2`), shared by the solutions it checks and
//! started as a copy of the repository's own (see [`crate::seed`]), so each
//! builds only what its patch changed.
//!
//! It prints a summary and fails if anything is wrong.

use crate::manifest::{Exercise, TestSpec};
use crate::seed::{self, Seed};
use crate::{Options, Outcome, Workspace, load_manifest};
use std::collections::BTreeSet;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Instant;

/// The fewest exercises a chapter may have.
const MIN_EXERCISES: usize = 3;

/// One exercise's results.
struct Row {
    stage: u32,
    id: String,
    shipped: Outcome,
    solved: Option<Outcome>,
}

pub fn check(root: &Path, options: &Options) -> Result<bool, String> {
    let started = Instant::now();
    let mut problems = Vec::new();
    let mut chapters = Vec::new();
    for &stage in &options.stages {
        match load_manifest(root, stage) {
            Ok(None) => {}
            Ok(Some(exercises)) => {
                problems.extend(check_chapter(root, stage, &exercises));
                chapters.push((stage, exercises));
            }
            Err(error) => problems.push(error),
        }
    }
    problems.extend(lint(root, &chapters));

    println!(
        "grade-check: the exercise tests, on the tree as it is (each must fail), beside each solution, \
         applied to a scratch copy (each must pass), then each chapter's solutions together, in the \
         book's order (every test must pass, hidden ones too)"
    );
    println!(
        "  (up to {WORKERS} chapters at a time, each in its own copy: build/grade/tree, build/grade/tree-2)"
    );
    // The tree as it is builds its images and exercise tests first, before
    // the scratch copies take a copy of its target folder: else each copy
    // would build the tests again, beside the tree's own build of them.
    let shipped_workspace = Workspace { root, logs: root.join("build/grade/logs"), label: "shipped-" };
    let selected: Vec<Selected> = chapters
        .iter()
        .map(|(stage, exercises)| {
            let exercises: Vec<&Exercise> =
                exercises.iter().filter(|exercise| options.selects(exercise)).collect();
            let prepared = shipped_workspace.prepare(*stage, &exercises);
            shipped_workspace.build_tests(*stage, &exercises);
            Selected { stage: *stage, exercises, prepared }
        })
        .collect();
    // (One copy for one chapter: `make grade-check STAGE=N`.)
    let copies = WORKERS.min(chapters.len()).max(1);
    let scratches: Vec<Scratch> =
        (0..copies).map(|number| Scratch::numbered(root, number)).collect::<Result<_, _>>()?;
    // The chapters, the later ones (more to build) first, taken by the
    // workers as each finishes the last.
    let queue = Mutex::new(chapters.iter().rev());
    let results = Mutex::new(Vec::new());
    let mut shipped = Shipped { lines: Vec::new(), rows: Vec::new(), problems: Vec::new() };
    std::thread::scope(|scope| {
        // The tree as it is, beside the scratch copies: most of it is
        // waiting for timeouts, while the solutions mostly build.
        scope.spawn(|| {
            shipped = check_shipped(&shipped_workspace, &selected);
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "  the tree as it is:");
            for line in &shipped.lines {
                let _ = writeln!(out, "{line}");
            }
        });
        for scratch in &scratches {
            let (queue, results) = (&queue, &results);
            scope.spawn(move || {
                loop {
                    // (Its own statement: the lock is let go before the chapter runs.)
                    let next = queue.lock().expect("the queue lock").next();
                    let Some((stage, exercises)) = next else { break };
                    let checked = check_solutions(root, scratch, *stage, exercises, options);
                    // One chapter's lines together, whatever the other worker prints.
                    let mut out = std::io::stdout().lock();
                    for line in &checked.lines {
                        let _ = writeln!(out, "{line}");
                    }
                    drop(out);
                    results.lock().expect("the results lock").push(checked);
                }
            });
        }
    });
    problems.extend(shipped.problems);
    let mut rows = shipped.rows;
    let mut results = results.into_inner().expect("the results lock");
    results.sort_by_key(|checked| checked.stage);
    for checked in results {
        problems.extend(checked.problems);
        for (stage, id, outcome) in checked.solved {
            if let Some(row) = rows.iter_mut().find(|row| row.stage == stage && row.id == id) {
                row.solved = Some(outcome);
            }
        }
    }
    let scratch = &scratches[0];
    for scratch in &scratches {
        scratch.reset()?;
    }

    if options.only.is_none() && options.stages.contains(&1) {
        println!("grade-check: the hand-out round trip (hand out, solve two, hand in, grade)");
        match crate::handin::round_trip(root, scratch) {
            Ok(()) => println!("  passed"),
            Err(error) => problems.push(format!("the hand-out round trip: {error}")),
        }
        scratch.reset()?;
    }

    println!("grade-check summary:");
    println!("  stage exercise               as shipped  with its solution");
    for row in &rows {
        let solved = row.solved.as_ref().map_or("(no solution)", Outcome::word);
        println!("  {:<5} {:<22} {:<11} {solved}", row.stage, row.id, row.shipped.word());
    }
    let minutes = started.elapsed().as_secs() / 60;
    let seconds = started.elapsed().as_secs() % 60;
    println!("  {} exercise(s) checked in {minutes} min {seconds} s; logs in build/grade/logs/", rows.len());
    if problems.is_empty() {
        println!("grade-check: passed");
        return Ok(true);
    }
    println!("grade-check: FAILED, {} problem(s):", problems.len());
    for problem in &problems {
        println!("  - {problem}");
    }
    Ok(false)
}

/// What the exercise tests on the tree as it is found.
struct Shipped {
    /// What to print, in order.
    lines: Vec<String>,
    rows: Vec<Row>,
    problems: Vec<String>,
}

/// One chapter's exercises that the run checks, with what building its
/// image for them on the tree as it is gave ([`Workspace::prepare`]).
struct Selected<'a> {
    stage: u32,
    exercises: Vec<&'a Exercise>,
    prepared: Result<(), String>,
}

/// Every selected exercise test on the tree as it is: each must fail.
fn check_shipped(shipped: &Workspace, chapters: &[Selected]) -> Shipped {
    let mut checked = Shipped { lines: Vec::new(), rows: Vec::new(), problems: Vec::new() };
    for Selected { stage, exercises: selected, prepared } in chapters {
        // Most of this phase is waiting: a test that must fail often
        // fails at its timeout, waiting for a line the unsolved tree never
        // prints. So SHIPPED_WORKERS tests run at once (the boot tests'
        // harness lets QEMUs run side by side, and a guest waiting for
        // input idles), and their lines come in order.
        let outcomes = Mutex::new(vec![None; selected.len()]);
        let next = Mutex::new(0..selected.len());
        std::thread::scope(|scope| {
            for _ in 0..SHIPPED_WORKERS {
                scope.spawn(|| {
                    loop {
                        // (Its own statement: the lock is let go before the test runs.)
                        let taken = next.lock().expect("the index lock").next();
                        let Some(index) = taken else { break };
                        let exercise = selected[index];
                        let outcome = match (prepared, &exercise.test) {
                            (Err(error), TestSpec::Boot { .. }) => Outcome::BuildError(error.clone()),
                            _ => shipped.test(*stage, exercise, false),
                        };
                        outcomes.lock().expect("the outcomes lock")[index] = Some(outcome);
                    }
                });
            }
        });
        let outcomes = outcomes.into_inner().expect("the outcomes lock");
        for (exercise, outcome) in selected.iter().zip(outcomes) {
            let outcome = outcome.expect("every exercise's test ran");
            checked.lines.push(format!("  stage {stage} {:<22} {}", exercise.id, outcome.word()));
            if let Some(detail) = outcome.detail().filter(|_| !matches!(outcome, Outcome::Fail(_))) {
                checked.lines.push(format!("          {detail}"));
            }
            if !matches!(outcome, Outcome::Fail(_)) {
                checked.problems.push(format!(
                    "stage {stage} {}: its test must fail on the tree as it is, but: {}",
                    exercise.id,
                    outcome.detail().unwrap_or("it passes: the exercise is already solved".into())
                ));
            }
            checked.rows.push(Row { stage: *stage, id: exercise.id.clone(), shipped: outcome, solved: None });
        }
    }
    checked
}

/// How many chapters' solutions are checked at a time: the two cores of
/// the machines the project is made on, one building while the other
/// boots, or both building.
const WORKERS: usize = 2;
/// The as-shipped tests at once: three, since chapter 6 has three that
/// fail only at their timeout.
const SHIPPED_WORKERS: usize = 3;

/// What checking one chapter's solutions found.
struct Checked {
    stage: u32,
    /// What to print, in order.
    lines: Vec<String>,
    problems: Vec<String>,
    /// Each exercise's outcome with its solution alone.
    solved: Vec<(u32, String, Outcome)>,
}

/// Chapter `stage`'s solutions in `scratch`: each alone (it must pass its
/// test), then, unless one exercise is asked for, all of them together in
/// the manifest's order (every test must pass, the hidden ones included).
fn check_solutions(
    root: &Path,
    scratch: &Scratch,
    stage: u32,
    exercises: &[Exercise],
    options: &Options,
) -> Checked {
    let mut checked = Checked { stage, lines: Vec::new(), problems: Vec::new(), solved: Vec::new() };
    let solved = Workspace { root: &scratch.path, logs: root.join("build/grade/logs"), label: "solution-" };
    for exercise in exercises.iter().filter(|exercise| options.selects(exercise)) {
        let patch = solution(root, stage, exercise);
        if !patch.exists() {
            continue;
        }
        let step_started = Instant::now();
        let outcome = match scratch.reset_and_apply(&patch) {
            Err(error) => Outcome::BuildError(format!("the patch does not apply: {error}")),
            Ok(()) => match solved.prepare(stage, &[exercise]) {
                Err(error) if matches!(exercise.test, TestSpec::Boot { .. }) => Outcome::BuildError(error),
                _ => solved.test(stage, exercise, false),
            },
        };
        checked.lines.push(format!(
            "  stage {stage} {:<22} {} ({:.0} s)",
            exercise.id,
            outcome.word(),
            step_started.elapsed().as_secs_f64()
        ));
        if let Some(detail) = outcome.detail() {
            checked
                .problems
                .push(format!("stage {stage} {}: with its solution applied: {detail}", exercise.id));
        }
        checked.solved.push((stage, exercise.id.clone(), outcome));
    }
    if options.only.is_some() {
        return checked;
    }

    let together = Workspace { root: &scratch.path, logs: root.join("build/grade/logs"), label: "together-" };
    let patches: Vec<PathBuf> = exercises
        .iter()
        .map(|exercise| solution(root, stage, exercise))
        .filter(|patch| patch.exists())
        .collect();
    let step_started = Instant::now();
    if let Err(error) = scratch.reset_and_apply_all(&patches) {
        checked.problems.push(format!("stage {stage}: the solutions do not apply together: {error}"));
        return checked;
    }
    let all: Vec<&Exercise> = exercises.iter().collect();
    let prepared = together.prepare(stage, &all);
    let mut words = Vec::new();
    for exercise in exercises {
        let outcome = match (&prepared, &exercise.test) {
            (Err(error), TestSpec::Boot { .. }) => Outcome::BuildError(error.clone()),
            _ => together.test(stage, exercise, true),
        };
        words.push(format!("{} {}", exercise.id, outcome.word()));
        if let Some(detail) = outcome.detail() {
            checked.problems.push(format!(
                "stage {stage} {}: with the chapter's solutions together: {detail}",
                exercise.id
            ));
        }
    }
    checked.lines.push(format!(
        "  stage {stage} together: {} ({:.0} s)",
        words.join(", "),
        step_started.elapsed().as_secs_f64()
    ));
    checked
}

/// The worked solution of `exercise`.
fn solution(root: &Path, stage: u32, exercise: &Exercise) -> PathBuf {
    root.join(format!("solutions/stage-{stage}/{}.patch", exercise.id))
}

/// What is wrong with a chapter's list of exercises and solutions.
fn check_chapter(root: &Path, stage: u32, exercises: &[Exercise]) -> Vec<String> {
    let mut problems = Vec::new();
    if exercises.len() < MIN_EXERCISES {
        problems
            .push(format!("stage {stage}: {} exercise(s), at least {MIN_EXERCISES} needed", exercises.len()));
    }
    for exercise in exercises {
        if !solution(root, stage, exercise).exists() {
            problems.push(format!(
                "stage {stage} {}: no solutions/stage-{stage}/{}.patch",
                exercise.id, exercise.id
            ));
        }
    }
    // The chapter lists its exercises: a note only, the book's wording is free.
    let chapter = fs::read_dir(root.join("book/src"))
        .into_iter()
        .flatten()
        .flatten()
        .find(|entry| entry.file_name().to_string_lossy().starts_with(&format!("chapter-{stage}-")));
    let text = chapter.and_then(|entry| fs::read_to_string(entry.path()).ok()).unwrap_or_default();
    for exercise in exercises.iter().filter(|exercise| !text.contains(&exercise.id)) {
        println!("grade-check: note: the book's chapter {stage} does not mention exercise '{}'", exercise.id);
    }
    let ids: BTreeSet<&str> = exercises.iter().map(|exercise| exercise.id.as_str()).collect();
    let folder = root.join(format!("solutions/stage-{stage}"));
    for entry in fs::read_dir(&folder).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.strip_suffix(".patch").is_some_and(|id| ids.contains(id)) {
            problems.push(format!(
                "solutions/stage-{stage}/{name}: not the solution of an exercise in the manifest"
            ));
        }
    }
    problems
}

/// Clippy on the exercise tests, which `make check` does not build (they
/// need the feature `exercises`).
fn lint(root: &Path, chapters: &[(u32, Vec<Exercise>)]) -> Vec<String> {
    let mut packages = BTreeSet::new();
    for (_, exercises) in chapters {
        for exercise in exercises {
            packages.insert(match &exercise.test {
                TestSpec::Boot { .. } => "qemu-test".to_string(),
                TestSpec::Unit { package, .. } => package.clone(),
            });
        }
    }
    let mut problems = Vec::new();
    for package in packages {
        println!("grade-check: clippy on {package} with the feature exercises");
        let status = Command::new("cargo")
            .current_dir(root)
            .args([
                "clippy",
                "-q",
                "-p",
                &package,
                "--all-targets",
                "--features",
                "exercises",
                "--",
                "-D",
                "warnings",
            ])
            .status();
        if !status.is_ok_and(|status| status.success()) {
            problems.push(format!("clippy fails on {package} with the feature exercises"));
        }
    }
    problems
}

/// The scratch copy the solutions are applied to: a git worktree.
pub struct Scratch {
    pub path: PathBuf,
    /// The commit it is reset to: a snapshot of the tree as it is.
    snapshot: String,
    /// The repository.
    root: PathBuf,
    /// Its target folder started as a copy of the repository's (see [`crate::seed`]).
    seed: Option<Seed>,
}

impl Scratch {
    /// The first scratch copy (`grade handin`'s).
    pub fn new(root: &Path) -> Result<Scratch, String> {
        Scratch::numbered(root, 0)
    }

    /// Scratch copy `number`: build/grade/tree and build/grade/target for
    /// the first, tree-2 and target-2 for the second, ...
    pub fn numbered(root: &Path, number: usize) -> Result<Scratch, String> {
        let suffix = if number == 0 { String::new() } else { format!("-{}", number + 1) };
        let grade = root.join("build/grade");
        fs::create_dir_all(&grade).map_err(|error| error.to_string())?;
        let snapshot = snapshot(root, &grade.join("snapshot.index"))?;
        let path = grade.join(format!("tree{suffix}"));
        if !path.join(".git").exists() {
            if path.exists() {
                fs::remove_dir_all(&path)
                    .map_err(|error| format!("cannot remove {}: {error}", path.display()))?;
            }
            git(root, &["worktree", "prune"], &[])?;
            let path_text = path.to_string_lossy().into_owned();
            git(root, &["worktree", "add", "--quiet", "--detach", "--force", &path_text, &snapshot], &[])?;
        }
        // One target folder for every solution, so each builds only what
        // its patch changed. (Not the repository's own: the same crates at
        // another path would replace its binaries in target/release.) It
        // starts as a copy of the repository's, so that the first solution
        // of each chapter does not build everything again.
        let target = grade.join(format!("target{suffix}"));
        let seed = Seed::copy(root, &repository_target(root), &target)?;
        fs::create_dir_all(&target).map_err(|error| error.to_string())?;
        if fs::symlink_metadata(path.join("target")).is_err() {
            std::os::unix::fs::symlink(&target, path.join("target")).map_err(|error| error.to_string())?;
        }
        let scratch = Scratch { path, snapshot, root: root.to_path_buf(), seed };
        if scratch.seed.is_some() {
            scratch.reset()?;
            seed::mirror_times(root, &scratch.path)?;
        }
        Ok(scratch)
    }

    /// After a patch: the crates that the copied records do not see
    /// changed are rebuilt too (see [`Seed::forget_changed`]).
    pub fn patched(&self) -> Result<(), String> {
        match &self.seed {
            Some(seed) => seed.forget_changed(&self.root, &self.path),
            None => Ok(()),
        }
    }

    /// Back to the snapshot: tracked files restored, new files removed
    /// (but not the build outputs, which are ignored, or `target`).
    pub fn reset(&self) -> Result<(), String> {
        git(&self.path, &["checkout", "--quiet", "--force", "--detach", &self.snapshot], &[])?;
        git(&self.path, &["clean", "-fdq", "-e", "/target"], &[]).map(drop)
    }

    fn reset_and_apply(&self, patch: &Path) -> Result<(), String> {
        self.reset_and_apply_all(&[patch.to_path_buf()])
    }

    /// Back to the snapshot, then `patches` applied one after the other.
    pub fn reset_and_apply_all(&self, patches: &[PathBuf]) -> Result<(), String> {
        self.reset()?;
        for patch in patches {
            let name = patch.file_name().unwrap_or_default().to_string_lossy().into_owned();
            git(&self.path, &["apply", &patch.to_string_lossy()], &[])
                .map_err(|error| format!("{name}: {error}"))?;
        }
        self.patched()
    }
}

/// The repository's target folder: `CARGO_TARGET_DIR` if set (relative to
/// the repository), else `target/`.
fn repository_target(root: &Path) -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => root.join(dir),
        _ => root.join("target"),
    }
}

/// A commit of the tree as it is, uncommitted and untracked files included
/// (ignored ones left out), made through a separate index so that the
/// repository's own index and branches are untouched.
fn snapshot(root: &Path, index: &Path) -> Result<String, String> {
    let index_text = index.to_string_lossy().into_owned();
    let real_index = root.join(git(root, &["rev-parse", "--git-path", "index"], &[])?);
    let _ = fs::remove_file(index);
    // A copy of the real index keeps its file times: `add` hashes only
    // what changed.
    if fs::copy(&real_index, index).is_err() {
        git(root, &["read-tree", "HEAD"], &[("GIT_INDEX_FILE", &index_text)])?;
    }
    git(root, &["add", "--all", "."], &[("GIT_INDEX_FILE", &index_text)])?;
    let tree = git(root, &["write-tree"], &[("GIT_INDEX_FILE", &index_text)])?;
    let name = [
        ("GIT_AUTHOR_NAME", "grade-check"),
        ("GIT_AUTHOR_EMAIL", "grade-check@localhost"),
        ("GIT_COMMITTER_NAME", "grade-check"),
        ("GIT_COMMITTER_EMAIL", "grade-check@localhost"),
    ];
    git(root, &["commit-tree", &tree, "-p", "HEAD", "-m", "grade-check: the tree as it is"], &name)
}

/// Runs git in `dir`; its output, trimmed, or its error message.
pub fn git(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Result<String, String> {
    let output = Command::new("git")
        .current_dir(dir)
        .args(args)
        .envs(env.iter().copied())
        .output()
        .map_err(|error| format!("cannot run git: {error}"))?;
    match output.status.success() {
        true => Ok(String::from_utf8_lossy(&output.stdout).trim().to_string()),
        false => Err(format!("git {}: {}", args.join(" "), String::from_utf8_lossy(&output.stderr).trim())),
    }
}
