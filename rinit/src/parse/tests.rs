//! The parser's tests: every command, every kind of mistake, and arbitrary
//! text.

use super::*;
use crate::commands::MAX_PARAMS;
use proptest::prelude::*;

/// The words and argument values of a line that parses.
fn ok(line: &str) -> (&'static str, Vec<Value<'_>>) {
    let command = parse(line).unwrap_or_else(|error| panic!("{line:?}: {error}"));
    (command.spec.words, command.args.values().to_vec())
}

/// The one-line message for a line that does not parse.
fn error(line: &str) -> String {
    match parse(line) {
        Ok(command) => panic!("{line:?} parsed as {command:?}"),
        Err(error) => error.to_string(),
    }
}

#[test]
fn every_command_of_shell_md() {
    use Value::*;
    assert_eq!(ok("help"), ("help", vec![]));
    assert_eq!(ok("echo hello world"), ("echo", vec![Text("hello world")]));
    assert_eq!(ok("list"), ("list", vec![]));
    assert_eq!(ok("retype cpool 2 100"), ("retype cpool", vec![Slot(2), Slot(100)]));
    assert_eq!(ok("retype task 2 249"), ("retype task", vec![Slot(2), Slot(249)]));
    assert_eq!(ok("set stack 249 0x4000f0"), ("set stack", vec![Slot(249), Number(0x40_00f0)]));
    assert_eq!(ok("set instruction 249 4198400"), ("set instruction", vec![Slot(249), Number(4_198_400)]));
    assert_eq!(ok("set cpool 249 0"), ("set cpool", vec![Slot(249), Slot(0)]));
    assert_eq!(ok("set table 249 3"), ("set table", vec![Slot(249), Slot(3)]));
    assert_eq!(ok("set buffer 249 250"), ("set buffer", vec![Slot(249), Slot(250)]));
    assert_eq!(ok("set active 249 1"), ("set active", vec![Slot(249), On(true)]));
    assert_eq!(ok("set active 249 0"), ("set active", vec![Slot(249), On(false)]));
    assert_eq!(ok("start child"), ("start child", vec![]));
    assert_eq!(ok("send raw 5"), ("send raw", vec![Number(5)]));
    assert_eq!(ok("send cap 0"), ("send cap", vec![Slot(0)]));
    assert_eq!(ok("send text hi there"), ("send text", vec![Text("hi there")]));
    assert_eq!(ok("run hello"), ("run", vec![Text("hello")]));
    assert_eq!(ok("shutdown"), ("shutdown", vec![]));
}

#[test]
fn every_row_of_the_table_parses_from_its_usage() {
    // Replace each parameter of the usage line with a value it takes.
    for spec in COMMANDS {
        let mut line = String::from(spec.words);
        for param in spec.params {
            line.push_str(match param {
                Param::Slot(_) => " 7",
                Param::Number(_) => " 0x10",
                Param::OnOff => " 1",
                Param::Word(_) => " word",
                Param::Text(_) => " some text",
            });
        }
        let command = parse(&line).unwrap_or_else(|error| panic!("{line:?}: {error}"));
        assert!(core::ptr::eq(command.spec, spec), "{line:?}");
        assert_eq!(command.args.values().len(), spec.params.len());
    }
}

#[test]
fn the_table_is_consistent() {
    for (index, spec) in COMMANDS.iter().enumerate() {
        let words: Vec<_> = spec.words.split(' ').collect();
        assert!(
            (1..=2).contains(&words.len()) && words.iter().all(|word| !word.is_empty()),
            "{:?}",
            spec.words
        );
        assert!(spec.params.len() <= MAX_PARAMS, "{:?}", spec.words);
        let text = spec.params.iter().position(|param| matches!(param, Param::Text(_)));
        assert!(text.is_none_or(|position| position + 1 == spec.params.len()), "text comes last");
        assert!(!spec.help.is_empty());
        for other in &COMMANDS[..index] {
            assert_ne!(other.words, spec.words, "each command once");
            // A one-word command cannot share its word with a two-word one.
            let first = |words: &str| words.split(' ').next().unwrap().to_owned();
            if first(other.words) == first(spec.words) {
                assert!(other.words.contains(' ') && spec.words.contains(' '), "{:?}", spec.words);
            }
        }
        // Help lines fit the 80 columns of the VGA screen.
        assert!(2 + 31 + 1 + spec.help.len() <= 80, "{:?} help too long", spec.words);
        assert!(Usage(spec).to_string().len() <= 31, "{:?} usage too long", spec.words);
    }
}

#[test]
fn spaces_around_and_between_words_do_not_matter() {
    assert_eq!(ok("   retype    task  2\t249  "), ("retype task", vec![Value::Slot(2), Value::Slot(249)]));
    assert_eq!(ok("echo   spaced   out  "), ("echo", vec![Value::Text("spaced   out")]), "inner spaces kept");
    assert_eq!(ok("echo"), ("echo", vec![Value::Text("")]));
    assert_eq!(ok("send text"), ("send text", vec![Value::Text("")]));
    assert!(matches!(parse(""), Err(ParseError::Empty)));
    assert!(matches!(parse("   \t "), Err(ParseError::Empty)));
}

#[test]
fn unknown_commands_and_typos() {
    assert_eq!(error("lsit"), "unknown command \"lsit\" (did you mean list?): type help");
    assert_eq!(error("hlep"), "unknown command \"hlep\" (did you mean help?): type help");
    assert_eq!(error("shutdwon"), "unknown command \"shutdwon\" (did you mean shutdown?): type help");
    assert_eq!(error("HELP"), "unknown command \"HELP\" (did you mean help?): type help");
    assert_eq!(error("retyp task 2 249"), "unknown command \"retyp\" (did you mean retype?): type help");
    assert_eq!(error("frobnicate"), "unknown command \"frobnicate\": type help");
    assert_eq!(error("x"), "unknown command \"x\": type help");
    assert_eq!(error("ls"), "unknown command \"ls\" (did you mean list?): type help");
    assert_eq!(error("lisp"), "unknown command \"lisp\" (did you mean list?): type help");
    assert_eq!(error("cat"), "unknown command \"cat\": type help", "three letters changed of three");
}

#[test]
fn a_first_word_that_needs_a_second() {
    assert_eq!(error("retype"), "retype: expected cpool or task after retype");
    assert_eq!(error("retype pool 2 3"), "retype: expected cpool or task, not \"pool\"");
    assert_eq!(
        error("set"),
        "set: expected stack, instruction, cpool, table, buffer, fault or active after set"
    );
    assert_eq!(
        error("set stak 249 1"),
        "set: expected stack, instruction, cpool, table, buffer, fault or active, not \"stak\""
    );
    assert_eq!(error("send"), "send: expected raw, cap or text after send");
    assert_eq!(error("send 5"), "send: expected raw, cap or text, not \"5\"");
    assert_eq!(error("start"), "start: expected child after start");
    assert_eq!(error("start task"), "start: expected child, not \"task\"");
}

#[test]
fn missing_arguments() {
    assert_eq!(error("retype task"), "retype task: missing <src> (usage: retype task <src> <dst>)");
    assert_eq!(error("retype task 2"), "retype task: missing <dst> (usage: retype task <src> <dst>)");
    assert_eq!(error("set stack 249"), "set stack: missing <value> (usage: set stack <task> <value>)");
    assert_eq!(error("set active 249"), "set active: missing 1|0 (usage: set active <task> 1|0)");
    assert_eq!(error("set cpool"), "set cpool: missing <task> (usage: set cpool <task> <slot>)");
    assert_eq!(error("send raw"), "send raw: missing <n> (usage: send raw <n>)");
    assert_eq!(error("send cap"), "send cap: missing <slot> (usage: send cap <slot>)");
    assert_eq!(error("run"), "run: missing <name> (usage: run <name>)");
}

#[test]
fn arguments_that_are_not_numbers() {
    assert_eq!(
        error("retype task two 249"),
        "retype task: <src> \"two\": not a number (use decimal, or hex after 0x)"
    );
    assert_eq!(error("send raw five"), "send raw: <n> \"five\": not a number (use decimal, or hex after 0x)");
    assert_eq!(error("send raw 0x"), "send raw: <n> \"0x\": 0x must be followed by hex digits");
    assert_eq!(error("send raw -1"), "send raw: <n> \"-1\": numbers cannot be negative");
    assert_eq!(error("send raw 0xfg"), "send raw: <n> \"0xfg\": not a number (use decimal, or hex after 0x)");
    assert_eq!(
        error("set stack 249 12abc"),
        "set stack: <value> \"12abc\": not a number (use decimal, or hex after 0x)"
    );
    assert_eq!(error("send cap -3"), "send cap: <slot> \"-3\": numbers cannot be negative");
}

#[test]
fn numbers_out_of_range() {
    assert_eq!(error("retype task 2 256"), "retype task: <dst> \"256\": slots are numbered 0 to 255");
    assert_eq!(error("send cap 0x100"), "send cap: <slot> \"0x100\": slots are numbered 0 to 255");
    assert_eq!(error("set cpool 1000 0"), "set cpool: <task> \"1000\": slots are numbered 0 to 255");
    assert_eq!(
        error("send raw 18446744073709551616"),
        "send raw: <n> \"18446744073709551616\": too large: numbers fit in 64 bits (at most 0xffffffffffffffff)"
    );
    assert_eq!(
        error("set stack 249 0x10000000000000000"),
        "set stack: <value> \"0x10000000000000000\": too large: numbers fit in 64 bits (at most 0xffffffffffffffff)"
    );
    assert_eq!(
        error("retype task 99999999999999999999 1"),
        "retype task: <src> \"99999999999999999999\": too large: numbers fit in 64 bits (at most 0xffffffffffffffff)"
    );
    assert_eq!(ok("send raw 18446744073709551615"), ("send raw", vec![Value::Number(u64::MAX)]));
    assert_eq!(ok("send cap 255"), ("send cap", vec![Value::Slot(255)]));
    assert_eq!(ok("send cap 0xff"), ("send cap", vec![Value::Slot(255)]));
}

#[test]
fn on_off_is_one_or_zero() {
    assert_eq!(error("set active 249 2"), "set active: \"2\" is neither 1 (start) nor 0 (stop)");
    assert_eq!(error("set active 249 yes"), "set active: \"yes\" is neither 1 (start) nor 0 (stop)");
    assert_eq!(error("set active 249 0x1"), "set active: \"0x1\" is neither 1 (start) nor 0 (stop)");
}

#[test]
fn too_many_arguments() {
    assert_eq!(error("list all"), "list: unexpected \"all\" (usage: list)");
    assert_eq!(error("help me"), "help: unexpected \"me\" (usage: help)");
    assert_eq!(error("shutdown now"), "shutdown: unexpected \"now\" (usage: shutdown)");
    assert_eq!(error("start child 2"), "start child: unexpected \"2\" (usage: start child)");
    assert_eq!(error("send raw 5 6"), "send raw: unexpected \"6\" (usage: send raw <n>)");
    assert_eq!(error("set active 249 1 1"), "set active: unexpected \"1\" (usage: set active <task> 1|0)");
    assert_eq!(error("run hello world"), "run: unexpected \"world\" (usage: run <name>)");
}

#[test]
fn the_first_mistake_is_the_one_reported() {
    assert_eq!(
        error("retype task x 300"),
        "retype task: <src> \"x\": not a number (use decimal, or hex after 0x)"
    );
    assert_eq!(error("set stack 300"), "set stack: <task> \"300\": slots are numbered 0 to 255");
}

#[test]
fn typo_distance_counts_single_letter_edits() {
    assert_eq!(typo_distance("list", "list"), 0);
    assert_eq!(typo_distance("lsit", "list"), 1, "swap");
    assert_eq!(typo_distance("lst", "list"), 1, "drop");
    assert_eq!(typo_distance("lisst", "list"), 1, "add");
    assert_eq!(typo_distance("lust", "list"), 1, "change");
    assert_eq!(typo_distance("LIST", "list"), 0, "case");
    assert_eq!(typo_distance("", "set"), 3);
    assert_eq!(typo_distance(&"a".repeat(33), "set"), usize::MAX);
}

proptest! {
    // ANCHOR: property
    /// Any text: a command or a one-line error, never a panic.
    #[test]
    fn any_text_parses_or_is_refused_in_one_line(line in "\\PC{0,150}") {
        match parse(&line) {
            Ok(command) => prop_assert_eq!(command.args.values().len(), command.spec.params.len()),
            Err(error) => {
                let text = error.to_string();
                prop_assert!(!text.is_empty());
                prop_assert!(!text.contains('\n'));
            }
        }
    }
    // ANCHOR_END: property

    /// Text made of command words, numbers and junk, which reaches deeper
    /// into the parser than random characters do.
    #[test]
    fn any_words_parse_or_are_refused_in_one_line(words in proptest::collection::vec(prop_oneof![
        Just("help"), Just("echo"), Just("list"), Just("retype"), Just("cpool"), Just("task"), Just("set"),
        Just("stack"), Just("instruction"), Just("table"), Just("buffer"), Just("active"), Just("start"),
        Just("child"), Just("send"), Just("raw"), Just("cap"), Just("text"), Just("run"), Just("shutdown"), Just("0"),
        Just("1"), Just("255"), Just("256"), Just("0x"), Just("-1"), Just("0xffffffffffffffffff"), Just("x"),
    ], 0..6), separators in proptest::collection::vec(prop_oneof![Just(" "), Just("  "), Just("\t")], 6)) {
        let mut line = String::new();
        for (word, separator) in words.iter().zip(&separators) {
            line.push_str(separator);
            line.push_str(word);
        }
        match parse(&line) {
            Ok(command) => {
                prop_assert_eq!(command.args.values().len(), command.spec.params.len());
                prop_assert!(line.trim_start().starts_with(command.spec.words.split(' ').next().unwrap()));
            }
            Err(error) => prop_assert!(!error.to_string().contains('\n')),
        }
    }
}

/// Edges the mutation tests found unchecked: words of exactly the longest
/// length, the empty word on either side, ties between two commands, and
/// what a parsed command shows in a test failure.
#[test]
fn typo_distance_and_suggestions_at_their_edges() {
    let longest = "a".repeat(32);
    assert_eq!(typo_distance(&longest, "set"), 32, "32 letters are still measured");
    assert_eq!(typo_distance("set", &longest), 32);
    assert_eq!(typo_distance("set", &"a".repeat(33)), usize::MAX);
    assert_eq!(typo_distance("send", ""), 4);
    assert_eq!(typo_distance(&longest, &"b".repeat(32)), 32);
    assert_eq!(typo_distance("shutdwon", "shutdown"), 1, "a swap far from the start");
    // "sed" is one letter from both set and send: the first in the table wins.
    assert_eq!(suggestion("sed"), Some("set"));
    // "iset" is two letters from list and one from set, which comes later.
    assert_eq!(suggestion("iset"), Some("set"));
    let shown = format!("{:?}", parse("echo hi").unwrap());
    assert!(shown.starts_with("Command(\"echo\","), "{shown}");
}
