//! Reading the `program=NAME@SLOT:LENGTH` words: what is kept, what is left out,
//! and arbitrary text.

use super::*;
use proptest::prelude::*;

/// The names and slots read from `args`.
fn read(args: &str) -> Vec<(String, u8)> {
    Programs::from_args(args).all().iter().map(|program| (program.name().to_owned(), program.slot)).collect()
}

fn named(pairs: &[(&str, u8)]) -> Vec<(String, u8)> {
    pairs.iter().map(|&(name, slot)| (name.to_owned(), slot)).collect()
}

#[test]
fn the_words_the_kernel_writes() {
    assert_eq!(read("program=hello@240:4096"), named(&[("hello", 240)]));
    assert_eq!(read("program=hello@240:4096 program=sh@241:4096"), named(&[("hello", 240), ("sh", 241)]));
    assert_eq!(
        read("  program=a-1@247:4096\tprogram=b@240:4096  "),
        named(&[("a-1", 247), ("b", 240)]),
        "any order"
    );
    assert_eq!(read(""), named(&[]));
}

#[test]
fn other_words_are_ignored() {
    assert_eq!(read("verbose x=y program=hello@240:4096 programs hello@241"), named(&[("hello", 240)]));
    assert_eq!(read("Program=hello@240 program:hello@240 program =hello@240"), named(&[]));
}

#[test]
fn malformed_words_are_left_out() {
    let long = format!("program={}@240:4096", "a".repeat(MAX_NAME + 1));
    let bad = [
        "program=",
        "program=@240:4096",
        "program=hello",
        "program=hello@",
        "program=hello@abc",
        "program=hello@+240",
        "program=hello@-240",
        "program=hello@0xf0",
        "program=hello@240x",
        "program=hello@240@241",
        "program=hello@240",
        "program=hello@240:",
        "program=hello@240:+9",
        "program=hello@240:0x10",
        "program=hello@240:12a",
        "program=hello@240:99999999999999999999999",
        "program=hello@240:4096:4096",
        "program=hello@256:4096",
        "program=hello@99999999999999999999999:4096",
        "program=hello@235:4096",
        "program=hello@248:4096",
        "program=hello@4:4096",
        "program=Hello@240:4096",
        "program=he_llo@240:4096",
        "program=hé@240:4096",
        "program=a/b@240:4096",
        &long,
    ];
    for word in bad {
        assert_eq!(read(word), named(&[]), "{word:?}");
        assert_eq!(
            read(&format!("{word} program=ok@242:4096")),
            named(&[("ok", 242)]),
            "the next one is kept"
        );
    }
}

#[test]
fn the_length_and_the_task_slot() {
    let programs = Programs::from_args("program=hello@236:36928 program=sh@247:0");
    let [hello, sh] = programs.all() else { panic!("two programs") };
    assert_eq!((hello.length, hello.task_slot()), (36928, FIRST_TASK_SLOT));
    assert_eq!((sh.length, sh.task_slot()), (0, FIRST_TASK_SLOT + 11), "the loader refuses an empty one");
    let past = u64::MAX;
    assert_eq!(Programs::from_args(&format!("program=big@240:{past}")).all()[0].length, past);
}

#[test]
fn names_of_one_to_sixteen_characters() {
    let longest = "a".repeat(MAX_NAME);
    assert_eq!(read(&format!("program={longest}@240:4096")), named(&[(&longest, 240)]));
    assert_eq!(read("program=x@240:4096"), named(&[("x", 240)]));
    assert_eq!(
        read("program=0240@240:4096 program=7@0241:4096"),
        named(&[("0240", 240), ("7", 241)]),
        "leading zeros"
    );
}

#[test]
fn a_name_or_slot_seen_before_is_left_out() {
    assert_eq!(read("program=hello@240:4096 program=hello@241:4096"), named(&[("hello", 240)]));
    assert_eq!(read("program=hello@240:4096 program=sh@240:4096"), named(&[("hello", 240)]));
}

#[test]
fn at_most_max_programs() {
    let max = usize::from(MAX_PROGRAMS);
    let words: Vec<String> =
        (0..max + 4).map(|n| format!("program=p{n}@{}:4096", usize::from(FIRST_PROGRAM) + n % max)).collect();
    let programs = Programs::from_args(&words.join(" "));
    assert_eq!(programs.all().len(), max);
    assert_eq!(programs.all()[max - 1].name(), format!("p{}", max - 1));
    assert_eq!(programs.find(&format!("p{max}")), None);
}

#[test]
fn find_and_the_list_of_names() {
    let programs = Programs::from_args("program=hello@240:4096 program=sh@241:4096");
    assert_eq!(programs.find("sh").map(|program| program.slot), Some(241));
    assert_eq!(programs.find("hell"), None);
    assert_eq!(programs.find(""), None);
    assert_eq!(programs.to_string(), "hello, sh");
    assert_eq!(Programs::none().to_string(), "none");
}

/// Whatever was kept is a program the kernel could have named.
fn check(programs: &Programs) -> Result<(), TestCaseError> {
    prop_assert!(programs.all().len() <= usize::from(MAX_PROGRAMS));
    for (index, program) in programs.all().iter().enumerate() {
        let name = program.name();
        prop_assert!((1..=MAX_NAME).contains(&name.len()), "{:?}", name);
        prop_assert!(name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'));
        prop_assert!((FIRST_PROGRAM..FIRST_PROGRAM + MAX_PROGRAMS).contains(&program.slot));
        for other in &programs.all()[..index] {
            prop_assert!(other.name() != name && other.slot != program.slot);
        }
    }
    Ok(())
}

proptest! {
    /// Any text: never a panic, and only well-formed programs kept.
    #[test]
    fn any_text(args in "\\PC{0,300}") {
        check(&Programs::from_args(&args))?;
    }

    /// Words that look like the kernel's, right and wrong, which reach
    /// deeper than random characters do.
    #[test]
    fn any_program_words(words in proptest::collection::vec(
        ("(program=)?", "[a-z0-9_A-Z@-]{0,20}", "@?", "[0-9+x]{0,4}", ":?", "[0-9+:]{0,6}"),
        0..12,
    )) {
        let args: Vec<String> =
            words.into_iter().map(|(a, b, c, d, e, f)| format!("{a}{b}{c}{d}{e}{f}")).collect();
        check(&Programs::from_args(&args.join(" ")))?;
    }
}
