//! `bench-boot` (`make bench-boot`, part of `make bench`): where the time of
//! a boot of the newest stage to its shell prompt goes, and how fast the
//! fast boot of the tests is.
//!
//! ```text
//! bench-boot [--runs N] [--output FILE]
//! ```
//!
//! Wall clock: it boots the stage N times each in three ways, taking turns
//! so that a change in the machine's load touches all three alike: the
//! fast boot (qboot, then QEMU's own loader), the same loader after SeaBIOS,
//! and SeaBIOS with GRUB from the ISO (`make run`'s boot). For each it
//! notes when the first byte of the serial console arrived (the kernel's
//! first line: neither firmware nor GRUB prints there), when the kernel
//! started rinit (`first task:`), and when rinit printed its prompt, and
//! prints the medians. SeaBIOS's part is the second way's first byte,
//! GRUB's the third's less the second's.
//!
//! Instructions: it boots the fast way and the GRUB way once each under
//! `-icount shift=0` with `bench=1`, where rinit prints the counter at its
//! prompt, and reads the counter the boot stub saved as it began
//! (`boot_entry_tsc`): the firmware and loader's part and the kernel and
//! rinit's part, exactly.

use qemu_test::{Boot, Transcript, bench, image, stage_build_dir};
use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::Duration;

const STAGE: u32 = 6;
const PROMPT: &str = "rinit> ";
/// The kernel's line as it starts rinit.
const FIRST_TASK: &str = "first task:";
/// What rinit prints at its prompt under `bench=`.
const BOOT_COUNT: &str = "bench: boot-to-prompt instructions=";
/// The bench's next line: the count above is complete.
const AFTER_BOOT_COUNT: &str = "bench: thousand-nops";
/// The fast boot's goal: to the prompt within this, median, on an idle
/// machine.
const GOAL: Duration = Duration::from_millis(400);

/// One way of booting.
#[derive(Clone, Copy)]
struct Way {
    name: &'static str,
    boot: fn() -> Boot,
}

const WAYS: [Way; 3] = [
    Way { name: "fast: qboot, QEMU's loader", boot: || Boot::stage(STAGE) },
    Way { name: "SeaBIOS, QEMU's loader", boot: || Boot::stage(STAGE).with_seabios() },
    Way { name: "SeaBIOS, GRUB (make run)", boot: || Boot::stage(STAGE).through_grub() },
];

/// When one boot reached each point, from QEMU's start.
#[derive(Clone, Copy, Debug)]
struct Times {
    first_byte: Duration,
    first_task: Duration,
    prompt: Duration,
}

/// The medians of one way's runs: the first byte, the kernel until it
/// starts rinit, rinit until its prompt, and the whole boot.
struct Medians {
    first_byte: Duration,
    kernel: Duration,
    rinit: Duration,
    prompt: Duration,
}

fn timed_boot(way: Way) -> Times {
    let run = (way.boot)().without_exit_device().stop_at(PROMPT).timeout_secs(120).run();
    let at = |text: &str| run.arrival(text).unwrap_or_else(|| run.fail(&format!("no {text:?} printed")));
    Times { first_byte: at(""), first_task: at(FIRST_TASK), prompt: at(PROMPT) }
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

fn ms(duration: Duration) -> String {
    format!("{:.0} ms", duration.as_secs_f64() * 1000.0)
}

/// The instructions before the kernel (firmware and loader) and from the
/// kernel's entry to rinit's prompt.
fn counted_boot(boot: Boot, entry_counter: u64) -> (u64, u64) {
    let run: Transcript = boot
        .icount()
        .without_exit_device()
        .command_line(&bench::command_line(1))
        .read_word_after(BOOT_COUNT, entry_counter)
        .stop_at(AFTER_BOOT_COUNT)
        .timeout_secs(300)
        .run();
    let at_prompt = run.number_after(BOOT_COUNT);
    let at_entry = run.words()[0];
    if at_entry == 0 || at_entry > at_prompt {
        run.fail(&format!("the counter at the kernel's entry, {at_entry}, is not before the prompt's"));
    }
    (at_entry, at_prompt - at_entry)
}

fn main() -> ExitCode {
    let mut runs = 7;
    let mut output = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--runs" => runs = args.next().and_then(|n| n.parse().ok()).filter(|&n| n > 0).expect("--runs N"),
            "--output" => output = Some(args.next().expect("--output FILE")),
            other => {
                eprintln!(
                    "bench-boot: unknown argument {other:?}\nusage: bench-boot [--runs N] [--output FILE]"
                );
                return ExitCode::FAILURE;
            }
        }
    }
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: String = load.split_whitespace().take(3).collect::<Vec<_>>().join(" ");
    println!("bench-boot: stage {STAGE} to its prompt, {runs} runs of each way (load average {load}) ...");

    let mut times: Vec<Vec<Times>> = vec![Vec::new(); WAYS.len()];
    for _ in 0..runs {
        for (way, times) in WAYS.iter().zip(&mut times) {
            times.push(timed_boot(*way));
        }
    }
    let medians: Vec<Medians> = times
        .iter()
        .map(|runs| Medians {
            first_byte: median(runs.iter().map(|t| t.first_byte).collect()),
            kernel: median(runs.iter().map(|t| t.first_task.saturating_sub(t.first_byte)).collect()),
            rinit: median(runs.iter().map(|t| t.prompt.saturating_sub(t.first_task)).collect()),
            prompt: median(runs.iter().map(|t| t.prompt).collect()),
        })
        .collect();

    let kernel = std::fs::read(stage_build_dir(STAGE).join("kernel.elf")).expect("run `make image-6` first");
    let entry = image::symbol_address(&kernel, "boot_entry_tsc").expect("the boot stub's boot_entry_tsc");
    println!("counting instructions (-icount shift=0) ...");
    let (fast_before, fast_kernel) = counted_boot(Boot::stage(STAGE), entry);
    let (grub_before, grub_kernel) = counted_boot(Boot::stage(STAGE).through_grub(), entry);

    let mut table = String::new();
    let _ = writeln!(
        table,
        "| Boot of stage {STAGE} to its prompt | first kernel byte | kernel until rinit | rinit until its prompt | prompt |"
    );
    let _ = writeln!(table, "|:--|--:|--:|--:|--:|");
    for (way, median) in WAYS.iter().zip(&medians) {
        let _ = writeln!(
            table,
            "| {} | {} | {} | {} | {} |",
            way.name,
            ms(median.first_byte),
            ms(median.kernel),
            ms(median.rinit),
            ms(median.prompt)
        );
    }
    let (fast, seabios, grub) = (&medians[0], &medians[1], &medians[2]);
    let _ = writeln!(
        table,
        "\nWall clock, medians of {runs} runs each (load average {load} as the runs began). Where a GRUB \
         boot's time goes: SeaBIOS {} (QEMU's start included), GRUB {}, the kernel until it starts \
         rinit {}, rinit until its prompt {}.",
        ms(seabios.first_byte),
        ms(grub.first_byte.saturating_sub(seabios.first_byte)),
        ms(grub.kernel),
        ms(grub.rinit),
    );
    let _ = writeln!(
        table,
        "\nInstructions (`-icount shift=0`): the fast boot runs {fast_before} before the kernel's first \
         instruction (qboot and QEMU's loader) and {fast_kernel} from there to rinit's prompt (the \
         kernel and rinit); the GRUB boot {grub_before} before the kernel (SeaBIOS and GRUB) and \
         {grub_kernel} after."
    );
    println!("\n{table}");
    let verdict = match fast.prompt <= GOAL {
        true => format!("within the goal of {}", ms(GOAL)),
        false => {
            format!("over the goal of {} (the goal is for an idle machine; load average {load})", ms(GOAL))
        }
    };
    println!("fast boot to the prompt: median {} of {runs} runs, {verdict}", ms(fast.prompt));
    if let Some(path) = output {
        let text = format!(
            "<!-- Generated by `make bench-boot` (tools/qemu-test/src/bin/bench-boot.rs): do not edit. -->\n\n{table}"
        );
        std::fs::write(&path, text).unwrap_or_else(|error| panic!("cannot write {path}: {error}"));
        println!("wrote {path}");
    }
    ExitCode::SUCCESS
}
