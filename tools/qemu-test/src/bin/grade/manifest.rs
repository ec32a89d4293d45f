//! The exercise manifests: `exercises/stage-N.txt`, one exercise a line,
//! `#` starting a comment:
//!
//! ```text
//! <id> <easy|moderate|hard> <test> <title...>
//! ```
//!
//! `<test>` is `boot:<fn>`, the test function `<fn>` in
//! `tools/qemu-test/tests/exercises_stageN.rs`, or
//! `unit:<package>:<test-name>`, a host test of `<package>` built with its
//! feature `exercises`.
//!
//! The teacher's tree may also have hidden tests, which the hand-out
//! (`make handout`) leaves out: `exercises/hidden/stage-N.txt`, one test a
//! line, `<id> <test>`, where a `boot:<fn>` test is in
//! `tools/qemu-test/tests/hidden_stageN.rs`. An exercise scores its points
//! only when its test and every hidden test of it pass.

use std::fmt;

/// How hard an exercise is, and so how many points it is worth.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Easy,
    Moderate,
    Hard,
}

impl Level {
    pub const ALL: [Level; 3] = [Level::Easy, Level::Moderate, Level::Hard];

    pub fn name(self) -> &'static str {
        match self {
            Level::Easy => "easy",
            Level::Moderate => "moderate",
            Level::Hard => "hard",
        }
    }

    /// Points, as in 6.1810's grading: 1, 2 and 3.
    pub fn points(self) -> u32 {
        match self {
            Level::Easy => 1,
            Level::Moderate => 2,
            Level::Hard => 3,
        }
    }

    fn parse(word: &str) -> Option<Level> {
        Level::ALL.into_iter().find(|level| level.name() == word)
    }
}

/// The test that decides whether an exercise is solved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TestSpec {
    /// A boot test: function `name` in `tests/exercises_stageN.rs` of
    /// qemu-test (`tests/hidden_stageN.rs` if `hidden`).
    Boot { name: String, hidden: bool },
    /// A host unit test of a crate, built with its feature `exercises`.
    Unit { package: String, name: String },
}

impl fmt::Display for TestSpec {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            TestSpec::Boot { name, hidden: false } => write!(f, "boot:{name}"),
            TestSpec::Boot { name, hidden: true } => write!(f, "boot:{name} (hidden)"),
            TestSpec::Unit { package, name } => write!(f, "unit:{package}:{name}"),
        }
    }
}

/// One line of a manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exercise {
    pub id: String,
    pub level: Level,
    pub test: TestSpec,
    pub title: String,
    /// Its hidden tests (`exercises/hidden/stage-N.txt`), if any.
    pub hidden: Vec<TestSpec>,
}

impl Exercise {
    /// Its test, then its hidden tests.
    pub fn tests(&self) -> impl Iterator<Item = &TestSpec> {
        core::iter::once(&self.test).chain(&self.hidden)
    }
}

/// Parses a manifest. Errors name the line (counting from 1).
pub fn parse(text: &str) -> Result<Vec<Exercise>, String> {
    let mut exercises: Vec<Exercise> = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let exercise = parse_line(line).map_err(|error| format!("line {}: {error}", number + 1))?;
        if exercises.iter().any(|earlier| earlier.id == exercise.id) {
            return Err(format!("line {}: exercise '{}' is listed twice", number + 1, exercise.id));
        }
        exercises.push(exercise);
    }
    Ok(exercises)
}

fn parse_line(line: &str) -> Result<Exercise, String> {
    let mut rest = line;
    let mut word = || {
        let (word, tail) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
        rest = tail.trim_start();
        word
    };
    let (id, level, test) = (word(), word(), word());
    let title = rest.trim();
    if test.is_empty() {
        return Err("expected `<id> <easy|moderate|hard> <test> <title>`".into());
    }
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') {
        return Err(format!("id '{id}' must be lowercase letters, digits and dashes"));
    }
    let level = Level::parse(level).ok_or(format!("level '{level}' is not easy, moderate or hard"))?;
    if title.is_empty() {
        return Err("the title is missing".into());
    }
    Ok(Exercise {
        id: id.into(),
        level,
        test: parse_test(test, false)?,
        title: title.into(),
        hidden: Vec::new(),
    })
}

/// Reads a list of hidden tests (`<id> <test>` a line) into `exercises`.
pub fn add_hidden(exercises: &mut [Exercise], text: &str) -> Result<(), String> {
    for (number, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let at = |error: String| format!("line {}: {error}", number + 1);
        let (id, test) = line.split_once(char::is_whitespace).ok_or(at("expected `<id> <test>`".into()))?;
        let exercise = exercises
            .iter_mut()
            .find(|exercise| exercise.id == id)
            .ok_or_else(|| at(format!("no exercise '{id}' in the chapter's list")))?;
        exercise.hidden.push(parse_test(test.trim(), true).map_err(at)?);
    }
    Ok(())
}

fn parse_test(test: &str, hidden: bool) -> Result<TestSpec, String> {
    let valid =
        |name: &str| !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || "_:-".contains(c));
    match test.split_once(':') {
        Some(("boot", name)) if valid(name) && !name.contains(':') => {
            Ok(TestSpec::Boot { name: name.into(), hidden })
        }
        Some(("unit", rest)) => match rest.split_once(':') {
            Some((package, name)) if valid(package) && valid(name) => {
                Ok(TestSpec::Unit { package: package.into(), name: name.into() })
            }
            _ => Err(format!("test '{test}' must be unit:<package>:<test-name>")),
        },
        _ => Err(format!("test '{test}' must be boot:<fn> or unit:<package>:<test-name>")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_exercises_and_skips_comments_and_blank_lines() {
        let text = "# Chapter 9\n\n\
            divide-error easy boot:divide_error   A divide error, on request  # the first\n\
            largest-free   moderate unit:stage3-untyped:untyped::exercises::largest The largest block\n";
        let exercises = parse(text).unwrap();
        assert_eq!(
            exercises,
            [
                Exercise {
                    id: "divide-error".into(),
                    level: Level::Easy,
                    test: TestSpec::Boot { name: "divide_error".into(), hidden: false },
                    title: "A divide error, on request".into(),
                    hidden: Vec::new(),
                },
                Exercise {
                    id: "largest-free".into(),
                    level: Level::Moderate,
                    test: TestSpec::Unit {
                        package: "stage3-untyped".into(),
                        name: "untyped::exercises::largest".into()
                    },
                    title: "The largest block".into(),
                    hidden: Vec::new(),
                },
            ]
        );
        assert_eq!(exercises[1].test.to_string(), "unit:stage3-untyped:untyped::exercises::largest");
        assert_eq!(parse("").unwrap(), []);
    }

    #[test]
    fn hidden_tests_join_their_exercise() {
        let mut exercises = parse("a easy boot:f One\nb hard boot:g Two\n").unwrap();
        add_hidden(&mut exercises, "# hidden\nb boot:g_again\nb unit:common:x\n").unwrap();
        assert!(exercises[0].hidden.is_empty());
        assert_eq!(
            exercises[1].tests().map(ToString::to_string).collect::<Vec<_>>(),
            ["boot:g", "boot:g_again (hidden)", "unit:common:x"]
        );
        assert!(add_hidden(&mut exercises, "c boot:h\n").unwrap_err().contains("no exercise 'c'"));
        assert!(add_hidden(&mut exercises, "a\n").unwrap_err().starts_with("line 1"));
    }

    #[test]
    fn points_follow_the_level() {
        let points: Vec<u32> = Level::ALL.iter().map(|level| level.points()).collect();
        assert_eq!(points, [1, 2, 3]);
    }

    #[test]
    fn names_the_line_of_a_mistake() {
        let cases = [
            ("a easy\n", "line 1: expected"),
            ("a easy boot:f\n", "line 1: the title is missing"),
            ("\nA-b easy boot:f Title\n", "line 2: id 'A-b'"),
            ("a simple boot:f Title\n", "line 1: level 'simple'"),
            ("a easy qemu:f Title\n", "line 1: test 'qemu:f' must be boot:"),
            ("a easy boot: Title\n", "line 1: test 'boot:' must be boot:"),
            ("a easy unit:common Title\n", "line 1: test 'unit:common' must be unit:"),
            ("a easy boot:f One\na hard boot:g Two\n", "line 2: exercise 'a' is listed twice"),
        ];
        for (text, expected) in cases {
            let error = parse(text).unwrap_err();
            assert!(error.starts_with(expected), "{text:?}: {error}");
        }
    }
}
