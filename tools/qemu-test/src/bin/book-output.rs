//! `book-output`: boots the stages as the boot tests do and writes what
//! they print into the book (`make book-output`, which `make book` and
//! `make test` run), so the output a chapter shows is always that of the
//! current code on this machine, never a sample pasted by hand.
//!
//! ```text
//! book-output FOLDER      (the Makefile passes book/src/output)
//! ```
//!
//! [`SAMPLES`] is the one list of what the book shows: a chapter includes
//! `output/NAME.txt`. A run that does not end as the list says (success or
//! failure) is an error, so a broken kernel cannot put a broken sample in
//! the book.

use qemu_test::Boot;
use std::path::PathBuf;
use std::process::ExitCode;
use std::{env, fs};

/// Where a sample starts in the console's output.
enum Start {
    /// The first line.
    Beginning,
    /// The first line that contains this.
    At(&'static str),
    /// The line after the first line that contains this.
    After(&'static str),
}

/// One boot whose output the book shows.
struct Sample {
    /// The file written: `NAME.txt`.
    name: &'static str,
    stage: u32,
    command_line: Option<&'static str>,
    start: Start,
    /// Whether the kernel must report success (or a failure, for crashes).
    success: bool,
    /// Lines typed at the shell's prompt, one after the other, as a person
    /// would (stage 6); the last one must end the run (`shutdown`).
    typed: &'static [&'static str],
}

/// The stage-6 shell's prompt, after which a sample types its next line.
const PROMPT: &str = "rinit> ";

/// What stage 1 prints until its breakpoint returns is printed by every
/// stage: later chapters show what their stage prints after it.
const STAGE_SPECIFIC: Start = Start::After("back from the breakpoint");

// ANCHOR: samples
/// Every sample the book shows. A new stage adds its line here.
const SAMPLES: &[Sample] = &[
    Sample {
        name: "stage-1",
        stage: 1,
        command_line: None,
        start: Start::Beginning,
        success: true,
        typed: &[],
    },
    Sample {
        name: "stage-1-page-fault",
        stage: 1,
        command_line: Some("crash=page-fault"),
        start: Start::At("crashing on purpose"),
        success: false,
        typed: &[],
    },
    Sample {
        name: "stage-2",
        stage: 2,
        command_line: None,
        start: STAGE_SPECIFIC,
        success: true,
        typed: &[],
    },
    Sample {
        name: "stage-3",
        stage: 3,
        command_line: None,
        start: STAGE_SPECIFIC,
        success: true,
        typed: &[],
    },
    Sample {
        name: "stage-4",
        stage: 4,
        command_line: None,
        start: STAGE_SPECIFIC,
        success: true,
        typed: &[],
    },
    Sample {
        name: "stage-5",
        stage: 5,
        command_line: None,
        start: Start::At("untyped:"),
        success: true,
        typed: &[],
    },
    Sample {
        name: "stage-5-null-pointer",
        stage: 5,
        command_line: Some("fault=null-pointer"),
        start: Start::At("rinit: started the child task"),
        success: true,
        typed: &[],
    },
    Sample {
        name: "stage-6-session",
        stage: 6,
        command_line: None,
        start: Start::At("Child entry should be at"),
        success: true,
        typed: &[
            "help",
            "start child",
            "send raw 5",
            "send cap 0",
            "send text hello child",
            "list",
            "lsit",
            "send raw five",
            "shutdown",
        ],
    },
];
// ANCHOR_END: samples

fn main() -> ExitCode {
    let Some(folder) = env::args().nth(1).map(PathBuf::from) else {
        eprintln!("usage: book-output FOLDER");
        return ExitCode::from(2);
    };
    if let Err(error) = fs::create_dir_all(&folder) {
        eprintln!("book-output: cannot create {}: {error}", folder.display());
        return ExitCode::FAILURE;
    }
    for sample in SAMPLES {
        // Through GRUB, as `make run` boots: the book shows what a reader sees.
        let mut boot = Boot::stage(sample.stage).through_grub();
        if let Some(command_line) = sample.command_line {
            boot = boot.command_line(command_line);
        }
        for line in sample.typed {
            boot = boot.type_after(PROMPT, &format!("{line}\r"));
        }
        // The checks panic, with the transcript, when the run went wrong.
        let run = boot.run();
        match sample.success {
            true => run.expect_success(),
            false => run.expect_failure(),
        };
        let text = match excerpt(run.text(), &sample.start) {
            Some(text) => text,
            None => {
                eprintln!("book-output: {}: the output has no line where the sample starts", sample.name);
                return ExitCode::FAILURE;
            }
        };
        let path = folder.join(format!("{}.txt", sample.name));
        if let Err(error) = fs::write(&path, text) {
            eprintln!("book-output: cannot write {}: {error}", path.display());
            return ExitCode::FAILURE;
        }
    }
    println!("book-output: {} samples written to {}", SAMPLES.len(), folder.display());
    ExitCode::SUCCESS
}

/// The lines of `text` from `start` on, each ending in a newline.
fn excerpt(text: &str, start: &Start) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    let first = match start {
        Start::Beginning => 0,
        Start::At(marker) => lines.iter().position(|line| line.contains(marker))?,
        Start::After(marker) => lines.iter().position(|line| line.contains(marker))? + 1,
    };
    Some(lines[first..].iter().map(|line| format!("{line}\n")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpts_start_where_asked() {
        let text = "one\ntwo\nthree\n";
        assert_eq!(excerpt(text, &Start::Beginning).as_deref(), Some(text));
        assert_eq!(excerpt(text, &Start::At("tw")).as_deref(), Some("two\nthree\n"));
        assert_eq!(excerpt(text, &Start::After("tw")).as_deref(), Some("three\n"));
        assert_eq!(excerpt(text, &Start::At("four")), None);
    }

    #[test]
    fn every_sample_has_its_own_file() {
        let mut names: Vec<&str> = SAMPLES.iter().map(|sample| sample.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), SAMPLES.len());
    }
}
