//! `book-commands`: runs every command the book shows, as a reader would
//! type it, and checks that it prints what the book says (`make
//! book-commands`). A "try this" step that no longer works fails here.
//!
//! ```text
//! book-commands [--list] [--only TEXT] [--jobs N]   (from the repository's root)
//! ```
//!
//! It reads `README.md` and every page of `book/src/SUMMARY.md`, in that
//! order. The convention it checks:
//!
//! - A command the reader runs is in a ```` ```console ```` block, on a line
//!   that starts with `$ ` (a line ending in `\` goes on on the next line).
//!   Blocks marked `sh`, `bash` or `shell` are refused: they would escape
//!   the check.
//! - The lines after a command, up to the next `$ `, are what it prints.
//!   They must all appear in its output, whole lines, in that order; other
//!   lines may come between them. `...` inside a line stands for any text
//!   (an address that differs from machine to machine); a line that is only
//!   `...` says that lines were left out, and is skipped.
//! - A line `rinit> TEXT` is typed: when the stage-6 shell prints its prompt,
//!   the checker types TEXT and Enter, a byte at a time, as a person would.
//! - A block right after the line `<!-- not run: REASON -->` is not run:
//!   the checker lists it with its reason (GDB in a second terminal, a
//!   placeholder the reader fills in, `make test` itself).
//!
//! - A `make ...` in the text, in backquotes, is checked with `make -n`: it
//!   names targets that exist. Those with a placeholder (`stage-N`,
//!   `STAGE=N`, `<rip>`) are left out.
//!
//! The commands run two at a time (`--jobs N`: N at a time), since most of
//! them boot QEMU and wait for it: those of one stage one after the other,
//! in the book's order, as they share that stage's files (its kernel, its
//! ISOs, a command-line variant); a command that names no one stage (such
//! as `make help`) runs once the others are done, alone. Each command's
//! line is printed as it ends.
//!
//! Each command runs with `bash -c` in the repository's root, in its own
//! process group, without `DISPLAY` (so `make stage-N` boots headless), with
//! standard input from `/dev/null` (or the typed lines) and a timeout. It
//! passes when it exits with status 0 after printing every line shown, or,
//! for a kernel that halts and waits for Ctrl-A, then X (`make stage-N` has
//! no exit device), when the last line shown is the kernel's halt line and
//! it has been printed: the checker then stops it. Such a boot fails as
//! soon as it halts without printing a line shown, or prints nothing for
//! 30 s while the checker waits for one (any other command: after 300 s).

use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use std::{env, fs, thread};

/// The stage-6 shell's prompt: a shown line that starts with it is typed.
const PROMPT: &str = "rinit> ";
/// The last line of a kernel that halts (common/src/qemu.rs, `HALT_HINT`):
/// a command whose shown output ends with it is stopped once it printed it.
const HALT_LINE: &str = "halted. To quit QEMU: Ctrl-A, then X (or close its window)";
/// What marks a block as not run, before its reason.
const NOT_RUN: &str = "<!-- not run:";
/// How long one command may take. Images are built by then (`make test`
/// builds them first), so this is for a cold cargo build at worst.
const TIMEOUT: Duration = Duration::from_secs(300);
/// How long a boot shown to end halted may print nothing, once it printed
/// a line the book shows, before the checker gives up on it (a shell
/// waiting for a line that the book types after a line it never printed).
const QUIET: Duration = Duration::from_secs(30);

/// One shown line after a command.
#[derive(Debug, PartialEq)]
enum Shown {
    /// A line the output must contain (`...` stands for any text).
    Printed(String),
    /// A line typed at the shell's prompt.
    Typed(String),
}

/// One command of the book, where it is and what it must print.
#[derive(Debug)]
struct BookCommand {
    /// `file:line` of its `$ ` line.
    place: String,
    /// The command, as bash reads it.
    text: String,
    shown: Vec<Shown>,
    /// Why it is not run, for a block marked so.
    not_run: Option<String>,
}

fn main() -> ExitCode {
    let mut list_only = false;
    let mut only: Option<String> = None;
    let mut jobs = JOBS;
    let mut args = env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--list" => list_only = true,
            "--only" => only = args.next(),
            "--jobs" => match args.next().and_then(|count| count.parse().ok()).filter(|&count| count > 0) {
                Some(count) => jobs = count,
                None => {
                    eprintln!("book-commands: --jobs needs a number of commands, 1 or more");
                    return ExitCode::from(2);
                }
            },
            _ => {
                eprintln!("usage: book-commands [--list] [--only TEXT] [--jobs N]");
                return ExitCode::from(2);
            }
        }
    }
    let root = env::current_dir().expect("a current directory");
    let (commands, mentioned) = match read_book(&root) {
        Ok(found) => found,
        Err(problems) => {
            for problem in &problems {
                eprintln!("book-commands: {problem}");
            }
            eprintln!("book-commands: {} problem(s) with the book's command blocks", problems.len());
            return ExitCode::FAILURE;
        }
    };
    let selected: Vec<&BookCommand> = commands
        .iter()
        .filter(|command| {
            only.as_ref().is_none_or(|text| command.place.contains(text) || command.text.contains(text))
        })
        .collect();

    let started = Instant::now();
    let mut unknown = Vec::new();
    if !list_only {
        let mentioned: Vec<&String> = mentioned
            .iter()
            .filter(|command| only.as_ref().is_none_or(|text| command.contains(text)))
            .collect();
        for command in &mentioned {
            let dry = format!("make -n {} >/dev/null 2>&1", &command["make ".len()..]);
            let known =
                Command::new("bash").args(["-c", &dry]).current_dir(&root).env_remove("MAKEFLAGS").status();
            if !known.is_ok_and(|status| status.success()) {
                unknown.push(command.to_string());
            }
        }
        println!("{} make commands mentioned in the text, checked with make -n", mentioned.len());
    }
    let runnable: Vec<&BookCommand> =
        selected.iter().copied().filter(|command| command.not_run.is_none()).collect();
    if list_only {
        for command in &runnable {
            println!("run      {}  $ {}", command.place, command.text);
        }
    }
    let (mut passed, mut failed) = (Vec::new(), Vec::new());
    if !list_only {
        let newest = newest_stage(&root);
        let (groups, alone) = by_stage(&runnable, newest);
        let results = Mutex::new(vec![None; runnable.len()]);
        let queue = Mutex::new(groups.into_iter());
        // The groups, taken by `jobs` threads as each finishes the last.
        thread::scope(|scope| {
            for _ in 0..jobs {
                scope.spawn(|| {
                    loop {
                        // (Its own statement: the lock is let go before the group runs.)
                        let next = queue.lock().expect("the queue lock").next();
                        let Some(group) = next else { break };
                        run_group(&root, &runnable, &group, &results);
                    }
                });
            }
        });
        run_group(&root, &runnable, &alone, &results);
        for (command, result) in runnable.iter().zip(results.into_inner().expect("the results lock")) {
            match result {
                Some(true) => passed.push(command),
                _ => failed.push(command),
            }
        }
    }
    println!();
    println!("Not run (each block says why):");
    for command in selected.iter().filter(|command| command.not_run.is_some()) {
        let reason = command.not_run.as_deref().unwrap_or_default();
        println!("  {}  $ {}   ({reason})", command.place, command.text);
    }
    if list_only {
        return ExitCode::SUCCESS;
    }
    let not_run = selected.len() - passed.len() - failed.len();
    println!(
        "book-commands: {} passed, {} failed, {not_run} not run, in {:.0} s",
        passed.len(),
        failed.len(),
        started.elapsed().as_secs_f64()
    );
    for command in &unknown {
        println!("FAILED: `{command}`, mentioned in the text: make -n refuses it");
    }
    for command in &failed {
        println!("FAILED: {}  $ {}", command.place, command.text);
    }
    if failed.is_empty() && unknown.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

/// How many commands run at a time, without `--jobs`: the two cores of
/// the machines the project is made on, each running one QEMU.
const JOBS: usize = 2;

/// The newest stage: the highest N of the folders `stages/NN-*` (the one
/// `make run` boots).
fn newest_stage(root: &Path) -> Option<u32> {
    fs::read_dir(root.join("stages"))
        .ok()?
        .flatten()
        .filter_map(|entry| entry.file_name().to_string_lossy().get(..2)?.parse().ok())
        .max()
}

/// The stage a command uses, if it names exactly one: `stage-N` (`make
/// stage-N`, `build/stage-N.iso`), `STAGE=N`, or `make run` without
/// `STAGE=` (the newest stage).
fn stage_of(text: &str, newest: Option<u32>) -> Option<u32> {
    let mut stages = Vec::new();
    for marker in ["stage-", "STAGE="] {
        for (at, _) in text.match_indices(marker) {
            let digits: String = text[at + marker.len()..].chars().take_while(char::is_ascii_digit).collect();
            stages.extend(digits.parse::<u32>().ok());
        }
    }
    if text.split_whitespace().collect::<Vec<_>>().starts_with(&["make", "run"]) && !text.contains("STAGE=") {
        stages.extend(newest);
    }
    stages.sort_unstable();
    stages.dedup();
    match stages[..] {
        [stage] => Some(stage),
        _ => None,
    }
}

/// The commands (indexes into `commands`) grouped by the stage they use,
/// the groups with the most commands first; and those that name no one
/// stage, to run alone. Each group keeps the book's order.
fn by_stage(commands: &[&BookCommand], newest: Option<u32>) -> (Vec<Vec<usize>>, Vec<usize>) {
    let (mut groups, mut alone): (Vec<(u32, Vec<usize>)>, Vec<usize>) = (Vec::new(), Vec::new());
    for (index, command) in commands.iter().enumerate() {
        match stage_of(&command.text, newest) {
            None => alone.push(index),
            Some(stage) => match groups.iter_mut().find(|(known, _)| *known == stage) {
                Some((_, group)) => group.push(index),
                None => groups.push((stage, vec![index])),
            },
        }
    }
    groups.sort_by_key(|(_, group)| std::cmp::Reverse(group.len()));
    (groups.into_iter().map(|(_, group)| group).collect(), alone)
}

/// Runs the commands `group` of `commands`, one after the other, printing
/// each one's line as it ends and keeping whether it passed in `results`.
/// A command shown twice (the same text and typed lines: one group) is run
/// once, and the second showing checked against what the first printed
/// (a boot prints the same).
fn run_group(root: &Path, commands: &[&BookCommand], group: &[usize], results: &Mutex<Vec<Option<bool>>>) {
    let mut printed: Vec<(String, Vec<String>)> = Vec::new();
    for &index in group {
        let command = commands[index];
        let began = Instant::now();
        let key = command.key();
        let result = match printed.iter().find(|(seen, _)| *seen == key) {
            Some((_, lines)) => check_printed(command, lines).map(|()| " (output of its first showing)"),
            None => run(root, command).map(|lines| {
                printed.push((key, lines));
                ""
            }),
        };
        let seconds = began.elapsed().as_secs_f64();
        // One command's lines together, whatever the other threads print.
        let mut out = std::io::stdout().lock();
        let _ = match &result {
            Ok(note) => writeln!(out, "ok   {seconds:5.1}s  {}  $ {}{note}", command.place, command.text),
            Err(report) => {
                writeln!(out, "FAIL {seconds:5.1}s  {}  $ {}\n{report}", command.place, command.text)
            }
        };
        results.lock().expect("the results lock")[index] = Some(result.is_ok());
    }
}

impl BookCommand {
    /// The command without a trailing `# comment`, whitespace collapsed,
    /// and the lines it types: two showings with the same key print the
    /// same.
    fn key(&self) -> String {
        let text = match self.text.find(" #") {
            Some(at) if !self.text[at..].contains(['"', '\'']) => &self.text[..at],
            _ => &self.text,
        };
        let mut key: Vec<&str> = text.split_whitespace().collect();
        for shown in &self.shown {
            if let Shown::Typed(line) = shown {
                key.push("\n");
                key.push(line);
            }
        }
        key.join(" ")
    }
}

/// Checks what a command printed, after it ended, against what it shows.
fn check_printed(command: &BookCommand, lines: &[String]) -> Result<(), String> {
    let mut progress = Progress::default();
    // The lines it typed are in the output already: go past them.
    let mut complete = lines.to_vec();
    complete.push(String::new());
    while progress.advance(&command.shown, &complete).is_some() {}
    match command.shown.get(progress.next) {
        None => Ok(()),
        Some(missing) => {
            Err(format!("  {}: the first run of this command did not print {missing:?}", command.place))
        }
    }
}

/// Every command of README.md and of the book's pages, in reading order,
/// and every `make` command their text mentions.
fn read_book(root: &Path) -> Result<(Vec<BookCommand>, Vec<String>), Vec<String>> {
    let summary =
        fs::read_to_string(root.join("book/src/SUMMARY.md")).map_err(|e| vec![format!("SUMMARY.md: {e}")])?;
    let mut pages = vec![PathBuf::from("README.md")];
    pages.extend(summary_pages(&summary).into_iter().map(|page| Path::new("book/src").join(page)));
    let (mut commands, mut mentioned, mut problems) = (Vec::new(), Vec::<String>::new(), Vec::new());
    for page in pages {
        match fs::read_to_string(root.join(&page)) {
            Ok(text) => match parse_page(&page.display().to_string(), &text) {
                Ok((found, make)) => {
                    commands.extend(found);
                    for command in make {
                        if !mentioned.contains(&command) {
                            mentioned.push(command);
                        }
                    }
                }
                Err(found) => problems.extend(found),
            },
            Err(error) => problems.push(format!("{}: {error}", page.display())),
        }
    }
    if problems.is_empty() { Ok((commands, mentioned)) } else { Err(problems) }
}

/// The pages SUMMARY.md links to, in its order: `[Title](page.md)`.
fn summary_pages(summary: &str) -> Vec<String> {
    summary
        .lines()
        .filter_map(|line| {
            let start = line.find("](")? + 2;
            let end = start + line[start..].find(')')?;
            Some(line[start..end].to_string())
        })
        .filter(|page| !page.is_empty())
        .collect()
}

/// The commands of one page and the `make` commands its text mentions, or
/// what is wrong with its command blocks.
fn parse_page(name: &str, text: &str) -> Result<(Vec<BookCommand>, Vec<String>), Vec<String>> {
    let (mut commands, mut problems) = (Vec::new(), Vec::new());
    // Some(is a console block) while inside a fenced block.
    let mut block: Option<bool> = None;
    // How far the block's fence is indented (inside a list item, say).
    let mut indent = 0;
    let mut not_run: Option<String> = None;
    let mut current: Option<BookCommand> = None;
    let mut continued = false;
    // The text outside code blocks, for the `make` commands it mentions.
    let mut prose = String::new();
    for (index, line) in text.lines().enumerate() {
        let place = format!("{name}:{}", index + 1);
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") {
            match block {
                Some(_) => {
                    commands.extend(current.take());
                    block = None;
                    not_run = None;
                }
                None => {
                    let info = trimmed.trim_start_matches('`').trim();
                    let language = info.split([',', ' ']).next().unwrap_or_default();
                    if matches!(language, "sh" | "bash" | "shell" | "shell-session") {
                        problems.push(format!(
                            "{place}: a ```{language} block: commands go in ```console blocks, each after `$ ` (see tools/qemu-test/src/bin/book-commands.rs)"
                        ));
                    }
                    block = Some(language == "console");
                    indent = line.len() - trimmed.len();
                }
            }
            continue;
        }
        match block {
            None => {
                prose.push_str(line);
                prose.push(if line.trim().is_empty() { '\n' } else { ' ' });
                if let Some(reason) = trimmed.strip_prefix(NOT_RUN) {
                    not_run = Some(reason.trim_end().trim_end_matches("-->").trim().to_string());
                } else if !trimmed.is_empty() {
                    not_run = None;
                }
            }
            Some(false) => {}
            Some(true) => {
                let line = unindent(line, indent);
                if continued {
                    let command = current.as_mut().expect("a continued command");
                    command.text.push('\n');
                    command.text.push_str(line);
                    continued = line.ends_with('\\');
                } else if let Some(command) = line.strip_prefix("$ ") {
                    commands.extend(current.take());
                    continued = command.ends_with('\\');
                    current = Some(BookCommand {
                        place,
                        text: command.to_string(),
                        shown: Vec::new(),
                        not_run: not_run.clone(),
                    });
                } else if line.contains("{{#include") {
                    problems.push(format!("{place}: an {{{{#include}}}} in a console block: show its output in a text block of its own"));
                } else if let Some(command) = current.as_mut() {
                    if let Some(typed) = line.strip_prefix(PROMPT) {
                        command.shown.push(Shown::Typed(typed.to_string()));
                    } else if line.trim() != "..." && !line.trim().is_empty() {
                        command.shown.push(Shown::Printed(line.trim_end().to_string()));
                    }
                } else if !line.trim().is_empty() {
                    problems
                        .push(format!("{place}: a console block's first line must be a command, after `$ `"));
                }
            }
        }
    }
    if block.is_some() {
        problems.push(format!("{name}: a code block is not closed"));
    }
    let mentioned = mentioned_make_commands(&prose);
    if problems.is_empty() { Ok((commands, mentioned)) } else { Err(problems) }
}

/// The `make ...` commands in backquotes in `prose` (paragraphs on one
/// line each), but for those with a placeholder.
fn mentioned_make_commands(prose: &str) -> Vec<String> {
    let mut found = Vec::new();
    for paragraph in prose.lines() {
        // Code spans are between every other backquote of a paragraph.
        for span in paragraph.split('`').skip(1).step_by(2) {
            let span = span.split_whitespace().collect::<Vec<_>>().join(" ");
            let placeholder = span.split_whitespace().any(|word| {
                word.contains('<') || word.ends_with("-N") || word.ends_with("=N") || word.ends_with("=S")
            });
            if span.starts_with("make ") && !placeholder && !found.contains(&span) {
                found.push(span);
            }
        }
    }
    found
}

/// `line` without the first `indent` spaces, as many as it has.
fn unindent(line: &str, indent: usize) -> &str {
    let spaces = line.len() - line.trim_start_matches(' ').len();
    &line[spaces.min(indent)..]
}

/// Whether an output line is the shown line `pattern` (`...`: any text).
fn line_matches(pattern: &str, line: &str) -> bool {
    let line = line.trim_end();
    let parts: Vec<&str> = pattern.split("...").collect();
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if parts.len() == 1 {
        return line == pattern;
    }
    if !line.starts_with(first) || line.len() < first.len() + last.len() || !line.ends_with(last) {
        return false;
    }
    let mut rest = &line[first.len()..line.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(at) => rest = &rest[at + middle.len()..],
            None => return false,
        }
    }
    true
}

/// The output as lines: `\r` and terminal escape sequences removed. The
/// last element is the line being printed (empty after a newline).
fn output_lines(bytes: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(bytes);
    let mut clean = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {}
            '\u{1b}' => {
                // ESC [ parameters final-byte, or ESC and one character.
                if chars.peek() == Some(&'[') {
                    chars.next();
                    for c in chars.by_ref() {
                        if ('@'..='~').contains(&c) {
                            break;
                        }
                    }
                } else {
                    chars.next();
                }
            }
            c => clean.push(c),
        }
    }
    clean.split('\n').map(str::to_string).collect()
}

/// How far the output has got through what the book shows.
#[derive(Default)]
struct Progress {
    /// The next shown line to find.
    next: usize,
    /// The first output line not yet used.
    cursor: usize,
    /// How many lines have been typed, each at a prompt of its own.
    typed: usize,
}

impl Progress {
    /// Goes on through `shown` as far as `lines` allow; returns the line to
    /// type now, if the next shown line is typed and its prompt is there.
    ///
    /// The shell prints one prompt per line it reads, but another task may
    /// print on the prompt's line before the echo does (`rinit> hello: a
    /// second program`): so the n-th line is typed at the n-th prompt
    /// wherever it is, and a shown line may follow a prompt on its line.
    fn advance(&mut self, shown: &[Shown], lines: &[String]) -> Option<String> {
        let complete = lines.len().saturating_sub(1);
        while let Some(expected) = shown.get(self.next) {
            match expected {
                Shown::Printed(pattern) => {
                    let found = (self.cursor..complete).find(|&at| {
                        let line = &lines[at];
                        line_matches(pattern, line)
                            || line.strip_prefix(PROMPT).is_some_and(|rest| line_matches(pattern, rest))
                    })?;
                    self.cursor = found + 1;
                    self.next += 1;
                }
                Shown::Typed(text) => {
                    // The prompt may be on the line still being printed.
                    let mut prompts = 0;
                    let found = (0..lines.len()).find(|&at| {
                        prompts += lines[at].matches(PROMPT).count();
                        prompts > self.typed
                    })?;
                    self.typed += 1;
                    self.cursor = self.cursor.max(found + 1);
                    self.next += 1;
                    return Some(text.clone());
                }
            }
        }
        None
    }

    fn done(&self, shown: &[Shown]) -> bool {
        self.next == shown.len()
    }
}

/// Runs one command and checks its output against what the book shows;
/// returns the output's lines.
fn run(root: &Path, command: &BookCommand) -> Result<Vec<String>, String> {
    let types = command.shown.iter().any(|shown| matches!(shown, Shown::Typed(_)));
    let (reader, writer) = std::io::pipe().map_err(|e| format!("a pipe: {e}"))?;
    let writer_too = writer.try_clone().map_err(|e| format!("a pipe: {e}"))?;
    let mut child = Command::new("bash")
        .arg("-c")
        .arg(&command.text)
        .current_dir(root)
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        // As from a terminal, not from inside make.
        .env_remove("MAKEFLAGS")
        .env_remove("MFLAGS")
        .env_remove("MAKELEVEL")
        .stdin(if types { Stdio::piped() } else { Stdio::null() })
        .stdout(writer)
        .stderr(writer_too)
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot start bash: {e}"))?;
    let output = Arc::new(Mutex::new(Vec::new()));
    let collector = {
        let output = Arc::clone(&output);
        let mut reader = reader;
        thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            while let Ok(count) = reader.read(&mut buffer) {
                if count == 0 {
                    break;
                }
                output.lock().expect("the output lock").extend_from_slice(&buffer[..count]);
            }
        })
    };

    let halts = matches!(command.shown.last(), Some(Shown::Printed(line)) if line == HALT_LINE);
    let deadline = Instant::now() + TIMEOUT;
    let mut progress = Progress::default();
    let (mut printed, mut last_output) = (0, Instant::now());
    let verdict = loop {
        let status = child.try_wait().map_err(|e| format!("waiting for the command: {e}"))?;
        if status.is_some() {
            // Let the last output arrive before the last look at it.
            thread::sleep(Duration::from_millis(100));
        }
        let bytes = output.lock().expect("the output lock").clone();
        if bytes.len() != printed {
            (printed, last_output) = (bytes.len(), Instant::now());
        }
        let lines = output_lines(&bytes);
        while let Some(text) = progress.advance(&command.shown, &lines) {
            type_slowly(&mut child, &format!("{text}\r"));
        }
        if let Some(status) = status {
            break match (status.success(), progress.done(&command.shown)) {
                (true, true) => Ok(()),
                (false, _) => Err(format!("it ended with {status}")),
                (true, false) => Err("it ended before printing everything the book shows".to_string()),
            };
        }
        if halts && progress.done(&command.shown) {
            break Ok(());
        }
        // A kernel that halted (a boot shown to end halted) prints nothing
        // more: what is missing now never comes, so fail at once rather
        // than at the timeout.
        if halts && !progress.done(&command.shown) && lines.iter().rev().skip(1).any(|line| line == HALT_LINE)
        {
            break Err("the kernel halted before printing everything the book shows".to_string());
        }
        if halts && progress.next > 0 && last_output.elapsed() >= QUIET {
            break Err(format!("a boot that printed nothing for {} s", QUIET.as_secs()));
        }
        if Instant::now() >= deadline {
            break Err(format!("still running after {} s", TIMEOUT.as_secs()));
        }
        thread::sleep(Duration::from_millis(50));
    };
    stop(&mut child);
    let _ = collector.join();
    let lines = output_lines(&output.lock().expect("the output lock"));
    verdict.map(|()| lines.clone()).map_err(|reason| {
        let missing = match command.shown.get(progress.next) {
            Some(Shown::Printed(line)) => {
                format!("\n  the book shows, not found after the lines before it: {line}")
            }
            Some(Shown::Typed(line)) => format!("\n  no prompt to type at: {PROMPT}{line}"),
            None => String::new(),
        };
        let tail: Vec<&str> = lines.iter().rev().take(30).rev().map(String::as_str).collect();
        format!(
            "  {}: {reason}{missing}\n  the end of its output:\n    {}",
            command.place,
            tail.join("\n    ")
        )
    })
}

/// Types `text` a byte at a time, so that the guest's 16-byte receive FIFO
/// never overflows.
fn type_slowly(child: &mut Child, text: &str) {
    if let Some(stdin) = child.stdin.as_mut() {
        for byte in text.bytes() {
            // A command that has ended is reported by the checks.
            let _ = stdin.write_all(&[byte]).and_then(|()| stdin.flush());
            thread::sleep(Duration::from_millis(10));
        }
    }
}

/// Stops the command and everything it started (make, QEMU): its process
/// group, with bash's `kill`, so that no stray QEMU is left running. A
/// command that has ended is left alone: its group ended with it.
fn stop(child: &mut Child) {
    if child.try_wait().ok().flatten().is_some() {
        return;
    }
    let group = format!("-{}", child.id());
    let kill = |signal: &str| {
        let _ = Command::new("bash")
            .args(["-c", "kill -s \"$1\" -- \"$2\" 2>/dev/null", "kill", signal, &group])
            .status();
    };
    kill("TERM");
    let deadline = Instant::now() + Duration::from_secs(3);
    while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(20));
    }
    kill("KILL");
    let _ = child.wait();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_blocks_give_commands_output_and_typed_lines() {
        let page = "text\n\n```console\n$ make stage-6\n...\nType ... commands.\nrinit> echo hi\nhi\n$ make a \\\n  B=1\n```\n";
        let commands = parse_page("p.md", page).unwrap().0;
        assert_eq!(commands.len(), 2);
        assert_eq!(commands[0].place, "p.md:4");
        assert_eq!(commands[0].text, "make stage-6");
        assert_eq!(
            commands[0].shown,
            [
                Shown::Printed("Type ... commands.".into()),
                Shown::Typed("echo hi".into()),
                Shown::Printed("hi".into())
            ]
        );
        assert_eq!(commands[1].text, "make a \\\n  B=1");
        assert!(commands[1].shown.is_empty());
        assert!(commands.iter().all(|command| command.not_run.is_none()));
    }

    #[test]
    fn a_block_in_a_list_item_loses_its_indentation_only() {
        let page = "1. Boot:\n\n   ```console\n   $ make stage-1\n     indented output\n   ```\n";
        let commands = parse_page("p.md", page).unwrap().0;
        assert_eq!(commands[0].text, "make stage-1");
        assert_eq!(commands[0].shown, [Shown::Printed("  indented output".into())]);
    }

    #[test]
    fn a_marked_block_is_not_run_and_the_mark_covers_one_block() {
        let page =
            "<!-- not run: needs GDB -->\n```console\n$ make gdb\n```\n\n```console\n$ make help\n```\n";
        let commands = parse_page("p.md", page).unwrap().0;
        assert_eq!(commands[0].not_run.as_deref(), Some("needs GDB"));
        assert_eq!(commands[1].not_run, None);
    }

    #[test]
    fn other_blocks_are_left_alone_and_sh_blocks_refused() {
        assert!(parse_page("p.md", "```text\n$ not a command\n```\n").unwrap().0.is_empty());
        assert!(parse_page("p.md", "```sh\nmake run\n```\n").is_err());
        assert!(parse_page("p.md", "```console\noutput first\n```\n").is_err());
        assert!(parse_page("p.md", "```console\n$ make\n{{#include x.txt}}\n```\n").is_err());
        assert!(parse_page("p.md", "```console\n$ make\n").is_err());
    }

    #[test]
    fn dots_stand_for_any_text() {
        assert!(line_matches("rip 0x...  cs 0x8", "rip 0xffff8010  cs 0x8"));
        assert!(line_matches("a...b...c", "a b c"));
        assert!(line_matches("exact", "exact  "));
        assert!(!line_matches("exact", "exactly"));
        assert!(!line_matches("a...a", "a"));
        assert!(!line_matches("a...b...c", "a c b"));
    }

    #[test]
    fn shown_lines_are_found_in_order_and_typing_waits_for_the_prompt() {
        let shown = [Shown::Printed("one".into()), Shown::Typed("echo".into()), Shown::Printed("two".into())];
        let mut progress = Progress::default();
        let lines = output_lines(b"zero\r\none\r\n\x1b[1mrinit> ");
        assert_eq!(progress.advance(&shown, &lines), Some("echo".into()));
        assert!(!progress.done(&shown));
        // "two" before the prompt does not count; one being printed neither.
        let lines = output_lines(b"zero\none\nrinit> echo\ntw");
        assert_eq!(progress.advance(&shown, &lines), None);
        let lines = output_lines(b"zero\none\nrinit> echo\ntwo\n");
        assert_eq!(progress.advance(&shown, &lines), None);
        assert!(progress.done(&shown));
    }

    #[test]
    fn a_command_shown_twice_has_one_key_whatever_its_comment() {
        let page = "```console\n$ make stage-1   # boot it\n$ make  stage-1\nstage 1 complete\n$ make stage-1 CMDLINE=\"a # b\"\n```\n";
        let commands = parse_page("p.md", page).unwrap().0;
        assert_eq!(commands[0].key(), "make stage-1");
        assert_eq!(commands[1].key(), commands[0].key());
        assert_eq!(commands[2].key(), "make stage-1 CMDLINE=\"a # b\"");
        let typed = parse_page("p.md", "```console\n$ make run\nrinit> help\n```\n").unwrap().0;
        assert_ne!(typed[0].key(), "make run");
        let lines = ["x".to_string(), "stage 1 complete".to_string()];
        assert!(check_printed(&commands[1], &lines).is_ok());
        assert!(check_printed(&commands[1], &lines[..1]).is_err());
    }

    #[test]
    fn make_commands_in_the_text_are_found_across_lines_without_placeholders() {
        let page = "Run `make\nstage-1 CMDLINE=\"x\"` or `make stage-N`, `make run`\nand `make run`.\n\n`cargo test`, `make boot-tests STAGE=N`.\n```console\n$ make help\n```\n";
        let (_, mentioned) = parse_page("p.md", page).unwrap();
        assert_eq!(mentioned, ["make stage-1 CMDLINE=\"x\"", "make run"]);
    }

    #[test]
    fn a_task_printing_on_the_prompts_line_is_no_prompt_missed() {
        let shown = [
            Shown::Typed("run hello".into()),
            Shown::Printed("hello: hi".into()),
            Shown::Typed("shutdown".into()),
            Shown::Printed("shutting down".into()),
        ];
        let mut progress = Progress::default();
        let lines = output_lines(b"rinit> ");
        assert_eq!(progress.advance(&shown, &lines), Some("run hello".into()));
        let lines = output_lines(b"rinit> run hello\nstarted\nrinit> hello: hi\n");
        assert_eq!(progress.advance(&shown, &lines), Some("shutdown".into()));
        let lines = output_lines(b"rinit> run hello\nstarted\nrinit> hello: hi\nshutdown\nshutting down\n");
        assert_eq!(progress.advance(&shown, &lines), None);
        assert!(progress.done(&shown));
    }

    #[test]
    fn commands_are_grouped_by_the_one_stage_they_name() {
        let newest = Some(6);
        assert_eq!(stage_of("make stage-2 CMDLINE=\"crash=stack-overflow\"", newest), Some(2));
        assert_eq!(stage_of("make run    # the full system", newest), Some(6));
        assert_eq!(stage_of("make run STAGE=1", newest), Some(1));
        assert_eq!(stage_of("make boot-tests STAGE=3 TEST=running_out", newest), Some(3));
        assert_eq!(stage_of("qemu-system-x86_64 -cdrom build/stage-1.iso \\\n  -no-reboot", newest), Some(1));
        assert_eq!(stage_of("make stage-12", newest), Some(12));
        assert_eq!(stage_of("make help", newest), None);
        assert_eq!(stage_of("make boot-tests", newest), None, "every stage: alone");
        assert_eq!(stage_of("make stage-1 && make stage-2", newest), None, "two stages: alone");
        assert_eq!(stage_of("make stage-1 && make stage-1 UEFI=1", newest), Some(1));
        let page = "```console\n$ make stage-1\n$ make help\n$ make stage-2\n$ make run STAGE=2\n$ make stage-1 UEFI=1\n$ make stage-2 MEMORY=5G\n```\n";
        let commands = parse_page("p.md", page).unwrap().0;
        let commands: Vec<&BookCommand> = commands.iter().collect();
        let (groups, alone) = by_stage(&commands, newest);
        assert_eq!(groups, [vec![2, 3, 5], vec![0, 4]], "the larger group first, each in the book's order");
        assert_eq!(alone, [1]);
    }

    #[test]
    fn the_summary_lists_pages_in_order() {
        let summary = "# Summary\n\n[Introduction](introduction.md)\n- [Boot](chapter-1-boot.md)\n";
        assert_eq!(summary_pages(summary), ["introduction.md", "chapter-1-boot.md"]);
    }
}
