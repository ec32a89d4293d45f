//! The shell against the model kernel: typed over serial (and once on the
//! keyboard), as the users of the shell's reference (`book/src/shell.md`) would, checking every line printed.

use super::*;
use crate::commands::{CHILD_TASK, COMMANDS, Failure, Line, Quoted};
use crate::model::{CHANNEL_CAPACITY, Model, Object, Sent};
use crate::programs::Programs;
use abi::ObjectKind;
use abi::syscall::input::{Source, encode};
use abi::task_root::UNTYPED;
use proptest::prelude::*;

const CHILD: Child = Child { entry: 0x40_1a20, stack_pointer: 0x41_fff0 };

/// A shell on a fresh model.
fn start() -> (Model, Shell) {
    (Model::new(), Shell::new(CHILD, Programs::none()))
}

/// A shell told about the programs of `args` (`program=NAME@SLOT` words),
/// on a model with their tasks.
fn start_with(args: &str) -> (Model, Shell) {
    let programs = Programs::from_args(args);
    let model = programs.all().iter().fold(Model::new(), |model, program| model.with_program(program.slot));
    (model, Shell::new(CHILD, programs))
}

/// Types `text` over serial; returns everything printed meanwhile.
fn typed(model: &mut Model, shell: &mut Shell, text: &str) -> String {
    let before = model.output.len();
    for byte in text.bytes() {
        shell.input(model, encode(Source::Serial, byte));
    }
    model.output[before..].to_owned()
}

/// Types `line` and Enter; returns the lines the command printed (without
/// the echo of the line and the next prompt, which it checks).
fn answer(model: &mut Model, shell: &mut Shell, line: &str) -> Vec<String> {
    let printed = typed(model, shell, &format!("{line}\r"));
    let rest =
        printed.strip_prefix(&format!("{line}\n")).unwrap_or_else(|| panic!("echo of {line:?}: {printed:?}"));
    let rest = rest.strip_suffix(PROMPT).unwrap_or_else(|| panic!("no prompt after {line:?}: {printed:?}"));
    rest.lines().map(str::to_owned).collect()
}

/// The one line `line` gets.
fn one_line(model: &mut Model, shell: &mut Shell, line: &str) -> String {
    let lines = answer(model, shell, line);
    assert_eq!(lines.len(), 1, "{line:?} printed {lines:?}");
    lines.into_iter().next().unwrap()
}

#[test]
fn boot_prints_where_the_child_starts_then_the_prompt() {
    let (mut model, mut shell) = start();
    assert_eq!(shell.run(&mut model), Err(Error::ChannelClosed), "the model ends the run");
    assert_eq!(
        model.output,
        "Child entry should be at: 0x401a20 (4200992)\n\
         Child stack pointer should be at: 0x41fff0 (4325360)\n\
         Type help for the commands.\n\
         rinit> "
    );
}

#[test]
fn run_serves_the_input_channel() {
    let (mut model, mut shell) = start();
    model.input.extend(b"echo hi\r".map(|byte| encode(Source::Serial, byte)));
    assert_eq!(shell.run(&mut model), Err(Error::ChannelClosed));
    assert!(model.output.ends_with("rinit> echo hi\nhi\nrinit> "), "{:?}", model.output);
}

#[test]
fn help_lists_every_command_with_its_arguments() {
    let (mut model, mut shell) = start();
    let lines = answer(&mut model, &mut shell, "help");
    assert_eq!(lines.len(), 1 + COMMANDS.len() + 1);
    assert_eq!(lines[0], "Commands (numbers in decimal or 0x-hex, slots 0 to 255):");
    assert_eq!(lines[1], "  help                            lists the commands with their arguments");
    assert!(lines.contains(&"  set active <task> 1|0           starts (1) or stops (0) the task".to_owned()));
    assert!(lines.contains(
        &"  run <name>                      starts a program GRUB loaded (listed below)".to_owned()
    ));
    for (line, command) in lines[1..].iter().zip(COMMANDS) {
        assert!(line.starts_with(&format!("  {}", crate::commands::Usage(command))), "{line}");
        assert!(line.len() <= 80, "fits the VGA screen: {line}");
    }
    assert_eq!(lines.last().unwrap(), "Programs to run: none");
}

#[test]
fn help_names_the_programs() {
    let (mut model, mut shell) = start_with("program=hello@240 program=sh@241");
    let lines = answer(&mut model, &mut shell, "help");
    assert_eq!(lines.last().unwrap(), "Programs to run: hello, sh");
}

#[test]
fn echo_prints_the_message() {
    let (mut model, mut shell) = start();
    assert_eq!(one_line(&mut model, &mut shell, "echo Hello,   world!"), "Hello,   world!");
    assert_eq!(one_line(&mut model, &mut shell, "echo"), "");
}

#[test]
fn list_prints_each_occupied_slot() {
    let (mut model, mut shell) = start();
    let lines = answer(&mut model, &mut shell, "list");
    assert_eq!(
        lines,
        [
            "  0: CPool, 11 slots used",
            "  1: DevicePage",
            "  2: Untyped, 65536 bytes free",
            "  3: PML4",
            "  4: Task 1004",
            "  5: CPool, 0 slots used",
            "  6: RawPage",
            "  7: Channel",
            "  8: Untyped, 1048576 bytes free",
            "250: RawPage",
            "255: Channel",
        ]
    );
}

#[test]
fn the_walkthrough_of_shell_md() {
    let (mut model, mut shell) = start();
    let lines = [
        ("retype task 2 249".to_owned(), "slot 249: a Task made from untyped slot 2"),
        (format!("set stack 249 {}", CHILD.stack_pointer), "task 249: stack pointer 0x41fff0"),
        (format!("set instruction 249 {}", CHILD.entry), "task 249: instruction pointer 0x401a20"),
        ("set cpool 249 0".to_owned(), "task 249: root CPool from slot 0"),
        ("set table 249 3".to_owned(), "task 249: page table from slot 3"),
        ("set buffer 249 250".to_owned(), "task 249: task buffer from slot 250"),
        ("set active 249 1".to_owned(), "task 249: started (the kernel's task 1249)"),
    ];
    for (line, expected) in &lines {
        assert_eq!(one_line(&mut model, &mut shell, line), *expected);
    }
    assert_eq!(answer(&mut model, &mut shell, "send raw 5"), Vec::<String>::new(), "the child answers");
    assert_eq!(model.channel(), &[Sent::Raw(5)]);
    assert_eq!(model.yields, 1, "the shell lets the child print first");
    let fields =
        [Some(CHILD.stack_pointer), Some(CHILD.entry), Some(0x0001), Some(0x0301), Some(0xfa01), None];
    assert_eq!(model.slot(CHILD_TASK), Some(&Object::Task { fields, running: true }));
    assert_eq!(one_line(&mut model, &mut shell, "set active 249 0"), "task 249: stopped");
}

#[test]
fn hex_works_wherever_numbers_do() {
    let (mut model, mut shell) = start();
    assert_eq!(
        one_line(&mut model, &mut shell, "retype task 0x2 0xf9"),
        "slot 249: a Task made from untyped slot 2"
    );
    assert_eq!(
        one_line(&mut model, &mut shell, "set stack 0xf9 0x41fff0"),
        "task 249: stack pointer 0x41fff0"
    );
}

#[test]
fn start_child_does_the_walkthrough_in_one_step_once() {
    let (mut model, mut shell) = start();
    assert_eq!(
        answer(&mut model, &mut shell, "start child"),
        [
            "task 249: the child, entry 0x401a20, stack pointer 0x41fff0",
            "task 249: started (the kernel's task 1249)"
        ]
    );
    assert_eq!(
        model.calls,
        [
            "retype(2, Task, 249)",
            "task_set(249, Stack, 0x41fff0)",
            "task_set(249, Instruction, 0x401a20)",
            "task_set(249, CPool, 0x1)",
            "task_set(249, Table, 0x301)",
            "task_set(249, Buffer, 0xfa01)",
            "task_start(249)",
            // For the task's number, which the start line shows.
            "list_pool(0)",
        ]
    );
    let before = model.slots.clone();
    assert_eq!(
        one_line(&mut model, &mut shell, "start child"),
        "start child: slot 249 is not empty: the child was made already (one child at a time)"
    );
    assert_eq!(model.slots, before, "nothing changed");
    assert_eq!(model.calls.len(), 9, "only the refused retype");
    assert_eq!(answer(&mut model, &mut shell, "send raw 5"), Vec::<String>::new());
    assert_eq!(model.channel(), &[Sent::Raw(5)]);
}

#[test]
fn set_active_names_the_required_fields_still_missing() {
    let (mut model, mut shell) = start();
    one_line(&mut model, &mut shell, "retype task 2 249");
    let refused = |model: &mut Model, shell: &mut Shell| one_line(model, shell, "set active 249 1");
    assert_eq!(
        refused(&mut model, &mut shell),
        "set active: the task is not fully configured: set instruction, cpool, table first"
    );
    // The stack pointer and the buffer are optional: not named, not needed.
    one_line(&mut model, &mut shell, "set stack 249 0x1000");
    one_line(&mut model, &mut shell, "set cpool 249 0");
    assert_eq!(
        refused(&mut model, &mut shell),
        "set active: the task is not fully configured: set instruction, table first"
    );
    one_line(&mut model, &mut shell, "set instruction 249 0x401000");
    assert_eq!(
        refused(&mut model, &mut shell),
        "set active: the task is not fully configured: set table first"
    );
    one_line(&mut model, &mut shell, "set table 249 3");
    assert_eq!(refused(&mut model, &mut shell), "task 249: started (the kernel's task 1249)");
    // A new task in the slot starts from nothing again.
    one_line(&mut model, &mut shell, "set active 249 0");
    one_line(&mut model, &mut shell, "retype task 2 248");
    assert_eq!(
        one_line(&mut model, &mut shell, "set active 248 1"),
        "set active: the task is not fully configured: set instruction, cpool, table first"
    );
}

#[test]
fn list_names_the_programs_of_slots_240_on() {
    let (mut model, mut shell) = start_with("program=hello@241");
    let lines = answer(&mut model, &mut shell, "list");
    assert!(lines.contains(&"241: Task 1241, the program hello (run hello)".to_owned()), "{lines:?}");
}

#[test]
fn send_cap_and_send_text() {
    let (mut model, mut shell) = start();
    assert_eq!(answer(&mut model, &mut shell, "send cap 0"), Vec::<String>::new());
    assert_eq!(answer(&mut model, &mut shell, "send text hello child"), Vec::<String>::new());
    assert_eq!(
        model.channel(),
        &[Sent::Capability(ObjectKind::CPool), Sent::Payload(b"hello child".to_vec())]
    );
}

#[test]
fn send_before_a_child_queues_until_the_channel_is_full() {
    let (mut model, mut shell) = start();
    for n in 0..CHANNEL_CAPACITY {
        assert_eq!(answer(&mut model, &mut shell, &format!("send raw {n}")), Vec::<String>::new());
    }
    assert_eq!(
        one_line(&mut model, &mut shell, "send raw 16"),
        "send raw: the channel is full: no task takes its messages (start child?)"
    );
    assert_eq!(model.channel().len(), CHANNEL_CAPACITY);
    assert_eq!(model.channel()[0], Sent::Raw(0), "in order");
    assert_eq!(one_line(&mut model, &mut shell, "echo still here"), "still here");
}

#[test]
fn kernel_refusals_are_one_line_with_the_kernel_text() {
    let (mut model, mut shell) = start();
    let cases = [
        ("retype task 100 101", "retype task: the capability slot is empty"),
        ("retype task 5 101", "retype task: the capability is of the wrong kind for this call"),
        ("retype cpool 2 0", "retype cpool: the destination slot is not empty"),
        ("set stack 100 0x1000", "set stack: the capability slot is empty"),
        ("set stack 2 0x1000", "set stack: the capability is of the wrong kind for this call"),
        ("set cpool 4 0", "set cpool: the object is in use: the task runs (set active <task> 0 stops it)"),
        ("set active 4 1", "set active: the object is in use: the task runs (set active <task> 0 stops it)"),
        ("set active 100 1", "set active: the capability slot is empty"),
        ("set active 3 1", "set active: the capability is of the wrong kind for this call"),
        ("send cap 100", "send cap: the capability slot is empty"),
    ];
    for (line, expected) in cases {
        let before = model.slots.clone();
        assert_eq!(one_line(&mut model, &mut shell, line), expected);
        assert_eq!(model.slots, before, "{line}: a refusal changes nothing");
    }
    one_line(&mut model, &mut shell, "retype task 2 249");
    let cases = [
        ("set stack 249 0xffff800000000000", "set stack: the address is not in the user half"),
        ("set table 249 0", "set table: the capability is of the wrong kind for this call"),
        ("set buffer 249 100", "set buffer: the capability slot is empty"),
        ("set fault 249 0", "set fault: the capability is of the wrong kind for this call"),
        ("set fault 249 100", "set fault: the capability slot is empty"),
        ("set fault 4 255", "set fault: the object is in use: the task runs (set active <task> 0 stops it)"),
        ("set fault 249 255", "task 249: fault channel from slot 255"),
        (
            "set active 249 1",
            "set active: the task is not fully configured: set instruction, cpool, table first",
        ),
    ];
    for (line, expected) in cases {
        assert_eq!(one_line(&mut model, &mut shell, line), expected);
    }
    // Until the untyped runs out.
    for slot in 100..115 {
        one_line(&mut model, &mut shell, &format!("retype cpool {UNTYPED} {slot}"));
    }
    assert_eq!(
        one_line(&mut model, &mut shell, "retype cpool 2 115"),
        "retype cpool: not enough untyped memory left"
    );
}

#[test]
fn what_users_will_also_try_gets_one_line_and_the_shell_goes_on() {
    let (mut model, mut shell) = start();
    let mistakes = [
        ("lsit", "unknown command \"lsit\" (did you mean list?): type help"),
        ("frobnicate 1 2", "unknown command \"frobnicate\": type help"),
        ("retype", "retype: expected cpool or task after retype"),
        ("retype task", "retype task: missing <src> (usage: retype task <src> <dst>)"),
        ("retype task two 249", "retype task: <src> \"two\": not a number (use decimal, or hex after 0x)"),
        ("retype task 2 256", "retype task: <dst> \"256\": slots are numbered 0 to 255"),
        ("send raw 0x", "send raw: <n> \"0x\": 0x must be followed by hex digits"),
        ("send raw -5", "send raw: <n> \"-5\": numbers cannot be negative"),
        (
            "send raw 99999999999999999999",
            "send raw: <n> \"99999999999999999999\": too large: numbers fit in 64 bits (at most 0xffffffffffffffff)",
        ),
        ("set active 249 2", "set active: \"2\" is neither 1 (start) nor 0 (stop)"),
        ("list everything", "list: unexpected \"everything\" (usage: list)"),
    ];
    for (line, expected) in mistakes {
        assert_eq!(one_line(&mut model, &mut shell, line), expected);
        assert_eq!(one_line(&mut model, &mut shell, "echo ok"), "ok", "after {line:?}");
    }
    assert!(model.calls.is_empty(), "no mistake reached the kernel: {:?}", model.calls);
}

#[test]
fn empty_lines_just_prompt_again() {
    let (mut model, mut shell) = start();
    assert_eq!(typed(&mut model, &mut shell, "\r"), "\nrinit> ");
    assert_eq!(typed(&mut model, &mut shell, "   \r"), "   \nrinit> ");
}

#[test]
fn backspace_erases_on_screen_and_in_the_line() {
    let (mut model, mut shell) = start();
    let printed = typed(&mut model, &mut shell, "echo hellp\x7fo\x08\x08lo\r");
    assert_eq!(printed, "echo hellp\x08 \x08o\x08 \x08\x08 \x08lo\nhello\nrinit> ");
    assert_eq!(typed(&mut model, &mut shell, "\x7f\x7f"), "", "nothing to erase");
}

#[test]
fn a_long_line_is_refused_and_the_next_one_runs() {
    let (mut model, mut shell) = start();
    let long = format!("echo {}", "x".repeat(200));
    let printed = typed(&mut model, &mut shell, &format!("{long}\r"));
    assert_eq!(
        printed,
        format!(
            "{}\nline too long: 120 characters at most; 85 more were dropped; nothing ran\nrinit> ",
            &long[..120]
        )
    );
    assert_eq!(one_line(&mut model, &mut shell, "echo fine"), "fine");
}

#[test]
fn typed_on_the_keyboard() {
    let (mut model, mut shell) = start();
    // "echo Hi", Enter: make and break codes, with shift for the H.
    let scancodes = [
        0x12, 0x92, 0x2e, 0xae, 0x23, 0xa3, 0x18, 0x98, 0x39, 0xb9, 0x2a, 0x23, 0xa3, 0xaa, 0x17, 0x97, 0x1c,
        0x9c,
    ];
    for code in scancodes {
        shell.input(&mut model, encode(Source::Keyboard, code));
    }
    assert_eq!(model.output, "echo Hi\nHi\nrinit> ");
}

// ANCHOR: run_tests
#[test]
fn run_starts_a_program_by_name() {
    let (mut model, mut shell) = start_with("console=serial program=hello@240 program=sh@241");
    assert_eq!(one_line(&mut model, &mut shell, "run hello"), "run: started hello (task in slot 240)");
    assert_eq!(model.calls, ["task_start(240)"]);
    assert_eq!(model.yields, 1, "the shell lets the program print first");
    assert_eq!(model.slot(240), Some(&Object::Task { fields: [Some(1); 6], running: true }));
    assert_eq!(model.slot(241), Some(&Object::Task { fields: [Some(1); 6], running: false }));
    assert_eq!(one_line(&mut model, &mut shell, "run sh"), "run: started sh (task in slot 241)");
}

#[test]
fn run_again_once_the_program_has_exited() {
    let (mut model, mut shell) = start_with("program=hello@240");
    one_line(&mut model, &mut shell, "run hello");
    let before = model.slots.clone();
    assert_eq!(
        one_line(&mut model, &mut shell, "run hello"),
        "run: hello is still running: it has not exited yet (set active 240 0 stops it)"
    );
    assert_eq!(model.slots, before, "a refusal changes nothing");
    model.task_exits(240);
    assert_eq!(one_line(&mut model, &mut shell, "run hello"), "run: started hello (task in slot 240)");
    assert_eq!(model.calls, ["task_start(240)", "task_start(240)", "task_start(240)"]);
}

#[test]
fn run_names_the_programs_there_are() {
    let (mut model, mut shell) = start_with("program=hello@240 program=sh@241");
    assert_eq!(
        one_line(&mut model, &mut shell, "run hallo"),
        "run: no program named \"hallo\" (programs: hello, sh)"
    );
    assert_eq!(
        one_line(&mut model, &mut shell, "run HELLO"),
        "run: no program named \"HELLO\" (programs: hello, sh)"
    );
    let (mut model, mut shell) = start();
    assert_eq!(
        one_line(&mut model, &mut shell, "run hello"),
        "run: no program named \"hello\" (no programs)"
    );
    assert!(model.calls.is_empty(), "no name reached the kernel: {:?}", model.calls);
}

#[test]
fn run_with_a_bad_argument_or_slot() {
    let (mut model, mut shell) = start_with("program=hello@240");
    assert_eq!(one_line(&mut model, &mut shell, "run"), "run: missing <name> (usage: run <name>)");
    assert_eq!(one_line(&mut model, &mut shell, "run hello 2"), "run: unexpected \"2\" (usage: run <name>)");
    // A long name is shortened inside its quotes: the line closes them.
    let long = "x".repeat(110);
    let line = one_line(&mut model, &mut shell, &format!("run {long}"));
    assert_eq!(line, format!("run: no program named \"{}...\" (programs: hello)", &long[..Quoted::MAX]));
    assert!(model.calls.is_empty());
    // The kernel named a slot that does not hold the task (any more).
    let (mut model, mut shell) = (Model::new(), Shell::new(CHILD, Programs::from_args("program=ghost@241")));
    assert_eq!(one_line(&mut model, &mut shell, "run ghost"), "run: the capability slot is empty");
}
// ANCHOR_END: run_tests

#[test]
fn an_explained_refusal_is_cut_between_characters() {
    // Cut, a line ends in `...` (said in the line's last bytes), never in
    // half a character.
    let failure = Failure::explained(format_args!("{}", "é".repeat(Line::MAX)));
    assert_eq!(failure.to_string(), format!("{}...", "é".repeat((Line::MAX - 3) / 2)));
    let failure = Failure::explained(format_args!("a{}", "é".repeat(Line::MAX)));
    assert_eq!(failure.to_string(), format!("a{}...", "é".repeat((Line::MAX - 4) / 2)), "not half an é");
    let fits = "y".repeat(Line::MAX);
    assert_eq!(Failure::explained(format_args!("{fits}")).to_string(), fits, "a line that fits is not cut");
}

#[test]
fn quoted_text_is_shortened_inside_its_quotes() {
    assert_eq!(Quoted("hello").to_string(), "\"hello\"");
    let long = "é".repeat(40);
    assert_eq!(Quoted(&long).to_string(), format!("\"{}...\"", "é".repeat(Quoted::MAX)));
    let exact = "z".repeat(Quoted::MAX);
    assert_eq!(Quoted(&exact).to_string(), format!("\"{exact}\""));
}

#[test]
fn the_shell_will_not_stop_itself() {
    let (mut model, mut shell) = start();
    let before = model.slots.clone();
    assert_eq!(
        one_line(&mut model, &mut shell, "set active 4 0"),
        "set active: the shell will not stop itself (slot 4 is its own task; shutdown stops the machine)"
    );
    assert!(model.calls.is_empty(), "nothing reached the kernel: {:?}", model.calls);
    assert_eq!(model.slots, before);
    assert_eq!(one_line(&mut model, &mut shell, "echo still here"), "still here");
}

#[test]
fn shutdown_exits_with_zero() {
    let (mut model, mut shell) = start();
    assert_eq!(one_line(&mut model, &mut shell, "shutdown"), "shutting down");
    assert_eq!(model.exit_code, Some(0));
}

/// Words that make up lines the shell understands, partly.
fn word() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        Just("help"),
        Just("echo"),
        Just("list"),
        Just("retype"),
        Just("cpool"),
        Just("task"),
        Just("set"),
        Just("stack"),
        Just("instruction"),
        Just("table"),
        Just("buffer"),
        Just("active"),
        Just("start"),
        Just("child"),
        Just("send"),
        Just("raw"),
        Just("cap"),
        Just("text"),
        Just("run"),
        Just("hello"),
        Just("0"),
        Just("1"),
        Just("2"),
        Just("3"),
        Just("249"),
        Just("250"),
        Just("255"),
        Just("256"),
        Just("0x"),
        Just("-1"),
        Just("x"),
    ]
}

proptest! {
    /// Arbitrary bytes over serial: the shell never panics, and each Enter
    /// gives a prompt.
    #[test]
    fn any_serial_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let (mut model, mut shell) = start();
        for byte in bytes {
            shell.input(&mut model, encode(Source::Serial, byte));
        }
    }

    /// Lines of command words and numbers against the model: every line
    /// ends in a prompt, and every refusal is one line.
    #[test]
    fn any_commands(lines in proptest::collection::vec(proptest::collection::vec(word(), 0..5), 0..30)) {
        let (mut model, mut shell) = start_with("program=hello@240");
        for words in lines {
            let line = words.join(" ");
            let printed = answer(&mut model, &mut shell, &line);
            if parse(&line).is_err() {
                prop_assert!(printed.len() <= 1, "{:?}: {:?}", line, printed);
            }
        }
    }
}

#[test]
fn run_lazy_gives_it_the_pager_first() {
    let (mut model, mut shell) = start_with("program=lazy@240 program=pager@241");
    assert_eq!(one_line(&mut model, &mut shell, "run lazy"), "run: started lazy (task in slot 240)");
    assert_eq!(model.calls[model.calls.len() - 2..], ["attach_pager(240, 241)", "task_start(240)"]);
    let Some(Object::Task { fields, running: true }) = model.slot(240) else { panic!("lazy runs") };
    assert!(fields[5].is_some(), "lazy has a fault channel");
    assert!(matches!(model.slot(241), Some(Object::Task { running: true, .. })), "the pager runs");
    // Both still running: refused, with how to stop them.
    let before = model.slots.clone();
    assert_eq!(
        one_line(&mut model, &mut shell, "run lazy"),
        "run: lazy or its pager is still running (set active 240 0, set active 241 0 stop them)"
    );
    assert_eq!(model.slots, before, "a refusal changes nothing");
    // Other programs start as before.
    let (mut model, mut shell) = start_with("program=hello@240 program=pager@241");
    assert_eq!(one_line(&mut model, &mut shell, "run hello"), "run: started hello (task in slot 240)");
    assert_eq!(model.calls, ["task_start(240)"]);
}

#[test]
fn run_lazy_without_its_pager_or_beside_a_child_is_refused() {
    let (mut model, mut shell) = start_with("program=lazy@240");
    let before = model.slots.clone();
    assert_eq!(
        one_line(&mut model, &mut shell, "run lazy"),
        "run: lazy needs the pager program, which was not loaded"
    );
    assert_eq!(model.slots, before);
    let (mut model, mut shell) = start_with("program=lazy@240 program=pager@241");
    one_line(&mut model, &mut shell, "retype task 2 249");
    let before = model.slots.clone();
    assert_eq!(
        one_line(&mut model, &mut shell, "run lazy"),
        "run: lazy's pager is handed its capabilities on channel 255, where the child in 249 takes"
    );
    assert_eq!(model.slots, before);
}

#[test]
fn help_says_lazy_is_paged_when_it_was_loaded() {
    let paged = "  (run lazy: its buffer is mapped by the pager, one page fault per page)";
    let (mut model, mut shell) = start_with("program=lazy@240 program=pager@241");
    assert!(answer(&mut model, &mut shell, "help").iter().any(|line| line == paged));
    let (mut model, mut shell) = start_with("program=hello@240");
    assert!(!answer(&mut model, &mut shell, "help").iter().any(|line| line == paged));
}

/// The programs of a full system, drivers among them, as the kernel names
/// them.
const WITH_DRIVERS: &str = "program=hello@237 program=keyboard@239 program=serial@244";

/// A shell with the drivers' programs, booted: the drivers started.
fn booted_with_drivers() -> (Model, Shell) {
    let (model, mut shell) = start_with(WITH_DRIVERS);
    let mut model = model.with_devices();
    assert_eq!(shell.run(&mut model), Err(Error::ChannelClosed));
    (model, shell)
}

#[test]
fn boot_starts_the_drivers_before_the_prompt() {
    let (model, _) = booted_with_drivers();
    assert!(
        model.output.contains(
            "driver serial: started (task in slot 244): IRQ 4, COM1, read only\n\
             driver keyboard: started (task in slot 239): IRQ 1, PS/2 data port 0x60\n\
             Type help for the commands.\n"
        ),
        "{}",
        model.output
    );
    let started: Vec<&String> = model.calls.iter().filter(|call| call.starts_with("start_driver")).collect();
    assert_eq!(started, ["start_driver(244, serial)", "start_driver(239, keyboard)"]);
    assert!(matches!(model.slot(237), Some(Object::Task { running: false, .. })), "hello waits for run");
}

#[test]
fn a_driver_that_cannot_start_is_said_and_the_shell_goes_on() {
    // No devices pool (a kernel without drivers).
    let (mut model, mut shell) = start_with("program=serial@244");
    assert_eq!(shell.run(&mut model), Err(Error::ChannelClosed));
    assert!(
        model.output.contains("driver serial: not started: the capability slot is empty\n"),
        "{}",
        model.output
    );
    assert_eq!(one_line(&mut model, &mut shell, "echo on"), "on");
}

#[test]
fn tasks_names_each_task_and_its_state() {
    let (mut model, mut shell) = booted_with_drivers();
    let all_running =
        ["4: rinit running", "237: hello inactive", "239: keyboard running", "244: serial running"];
    assert_eq!(answer(&mut model, &mut shell, "tasks"), all_running);
    assert_eq!(one_line(&mut model, &mut shell, "set active 244 0"), "task 244: stopped");
    answer(&mut model, &mut shell, "run hello");
    model.task_exits(237);
    answer(&mut model, &mut shell, "start child");
    assert_eq!(
        answer(&mut model, &mut shell, "tasks"),
        [
            "4: rinit running",
            "249: child running",
            "237: hello ended",
            "239: keyboard running",
            "244: serial stopped"
        ]
    );
    // A driver that a fault stopped is no longer live either.
    model.task_exits(239);
    assert!(answer(&mut model, &mut shell, "tasks").contains(&"239: keyboard ended".to_owned()));
    // The probe changed no task: every field is as the kernel made it.
    for slot in [237, 239, 244] {
        assert!(matches!(model.slot(slot), Some(Object::Task { fields, .. }) if fields == &[Some(1); 6]));
    }
}

#[test]
fn run_starts_a_stopped_driver_again_with_fresh_capabilities() {
    let (mut model, mut shell) = booted_with_drivers();
    assert_eq!(
        one_line(&mut model, &mut shell, "run serial"),
        "run: serial is still running (set active 244 0 stops it)"
    );
    answer(&mut model, &mut shell, "set active 244 0");
    assert_eq!(
        one_line(&mut model, &mut shell, "run serial"),
        "driver serial: started (task in slot 244): IRQ 4, COM1, read only"
    );
    answer(&mut model, &mut shell, "set active 239 0");
    // `set active 1` on a driver hands it fresh capabilities too.
    assert_eq!(
        one_line(&mut model, &mut shell, "set active 239 1"),
        "driver keyboard: started (task in slot 239): IRQ 1, PS/2 data port 0x60"
    );
    let started = model.calls.iter().filter(|call| call.starts_with("start_driver")).count();
    assert_eq!(started, 4, "twice at boot, then once each: {:?}", model.calls);
    assert!(
        !model
            .calls
            .iter()
            .any(|call| call.starts_with("task_start(244") || call.starts_with("task_start(239"))
    );
    assert!(answer(&mut model, &mut shell, "tasks").contains(&"239: keyboard running".to_owned()));
}

#[test]
fn a_driver_is_not_started_while_a_child_takes_from_255() {
    let (mut model, mut shell) = booted_with_drivers();
    answer(&mut model, &mut shell, "start child");
    answer(&mut model, &mut shell, "set active 244 0");
    assert_eq!(
        one_line(&mut model, &mut shell, "run serial"),
        "run: the serial driver is handed its capabilities on channel 255, where the child in 249 takes"
    );
    assert!(answer(&mut model, &mut shell, "tasks").contains(&"244: serial stopped".to_owned()));
}

#[test]
fn revoke_destroys_what_an_untyped_made_and_refuses_anything_else() {
    let (mut model, mut shell) = start();
    assert_eq!(one_line(&mut model, &mut shell, "revoke 8"), "slot 8: everything made from it is destroyed");
    assert_eq!(model.calls.last().map(String::as_str), Some("revoke(8)"));
    assert_eq!(
        one_line(&mut model, &mut shell, "revoke 7"),
        "revoke: the capability is of the wrong kind for this call"
    );
    assert_eq!(one_line(&mut model, &mut shell, "revoke 100"), "revoke: the capability slot is empty");
}
