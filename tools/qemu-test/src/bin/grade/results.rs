//! The machine-readable results: a file in the format of Gradescope's
//! autograder (`results.json`), which other course tools read too:
//!
//! ```json
//! { "score": 4, "max_score": 9, "execution_time": 31, "output": "...",
//!   "tests": [ { "name": "chapter 1: divide-error (easy)", "score": 1,
//!                "max_score": 1, "output": "PASS", "visibility": "visible" }, ... ] }
//! ```
//!
//! One entry per exercise: it scores its points when its test and its
//! hidden tests all pass.

use crate::Graded;
use std::fmt::Write;
use std::fs;
use std::path::Path;
use std::time::Duration;

/// `text` as a JSON string, quotes included.
fn json_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The results file's text: `graded`, with `note` as the overall output.
pub fn render(graded: &[Graded], note: &str, took: Duration) -> String {
    let score: u32 = graded.iter().map(Graded::score).sum();
    let possible: u32 = graded.iter().map(|row| row.exercise.level.points()).sum();
    let mut out = String::new();
    let _ = writeln!(out, "{{");
    let _ = writeln!(out, "  \"score\": {score},");
    let _ = writeln!(out, "  \"max_score\": {possible},");
    let _ = writeln!(out, "  \"execution_time\": {},", took.as_secs());
    let _ = writeln!(out, "  \"output\": {},", json_string(note));
    let _ = writeln!(out, "  \"tests\": [");
    for (index, row) in graded.iter().enumerate() {
        let output = match row.outcome.detail() {
            None => row.outcome.word().to_string(),
            Some(detail) => format!("{}: {detail}", row.outcome.word()),
        };
        let _ = write!(
            out,
            "    {{ \"name\": {}, \"score\": {}, \"max_score\": {}, \"output\": {}, \"visibility\": \"visible\" }}",
            json_string(&format!(
                "chapter {}: {} ({}) {}",
                row.stage,
                row.exercise.id,
                row.exercise.level.name(),
                row.exercise.title
            )),
            row.score(),
            row.exercise.level.points(),
            json_string(&output)
        );
        let _ = writeln!(out, "{}", if index + 1 < graded.len() { "," } else { "" });
    }
    let _ = writeln!(out, "  ]");
    let _ = writeln!(out, "}}");
    out
}

/// Writes the results file at `path`.
pub fn write(path: &Path, graded: &[Graded], note: &str, took: Duration) -> Result<(), String> {
    if let Some(folder) = path.parent().filter(|folder| !folder.as_os_str().is_empty()) {
        fs::create_dir_all(folder).map_err(|error| format!("cannot make {}: {error}", folder.display()))?;
    }
    fs::write(path, render(graded, note, took))
        .map_err(|error| format!("cannot write {}: {error}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Outcome;
    use crate::manifest::parse;

    #[test]
    fn writes_gradescope_results() {
        let exercises = parse("a easy boot:f One\nb hard boot:g Two \"quoted\"\n").unwrap();
        let graded = [
            Graded { stage: 1, exercise: &exercises[0], outcome: Outcome::Pass },
            Graded { stage: 1, exercise: &exercises[1], outcome: Outcome::Fail("expected\nx".into()) },
        ];
        let text = render(&graded, "note", Duration::from_secs(3));
        assert!(text.contains("\"score\": 1,\n  \"max_score\": 4,"), "{text}");
        assert!(text.contains(
            "{ \"name\": \"chapter 1: a (easy) One\", \"score\": 1, \"max_score\": 1, \"output\": \"PASS\""
        ));
        assert!(text.contains(
            "\"name\": \"chapter 1: b (hard) Two \\\"quoted\\\"\", \"score\": 0, \"max_score\": 3"
        ));
        assert!(text.contains("\"output\": \"FAIL: expected\\nx\""), "{text}");
        assert!(text.contains("\"execution_time\": 3,"));
    }
}
