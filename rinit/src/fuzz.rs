//! rinit's fuzz mode: with `fuzz=SEED,COUNT` on the kernel command line,
//! rinit loads and starts the fuzz program (`programs/fuzz`, a GRUB module
//! named to rinit as `program=fuzz@SLOT:LENGTH`; `launch::start`) instead
//! of the shell, hands it
//! what it fuzzes with over the channel in slot 255 (an untyped arena, an
//! untyped for its own tasks, a channel for its answer, the seed and the
//! count), waits for the answer and exits: the kernel then audits itself
//! once more and stops the machine.

use abi::syscall::MessageKind;
use abi::task_root::{CHANNEL, FIRST_FREE, UNTYPED};
use abi::{CAddr, Error, ObjectKind};
use rinit::programs::Programs;
use ulib::println;
use ulib::syscall::{channel_put, channel_take, exit, retype};

/// The arena the fuzzer's random calls use, and the untyped for its own
/// tasks, stacks and tables.
const ARENA_SIZE: u64 = 1 << 20;
const OWN_SIZE: u64 = 256 * 1024;

/// The seed and count of `fuzz=SEED,COUNT` in `args`, if the word is there.
pub fn requested(args: &str) -> Option<Result<(u64, u64), &str>> {
    let word = args.split_whitespace().find_map(|word| word.strip_prefix("fuzz="))?;
    let parsed =
        word.split_once(',').and_then(|(seed, count)| Some((seed.parse().ok()?, count.parse().ok()?)));
    Some(parsed.ok_or(word))
}

/// Runs the fuzzer and exits with 0 if it reports every audit passed.
pub fn run(args: &str, seed: u64, count: u64) -> ! {
    let code = match start(args, seed, count) {
        Ok(0) => 0,
        Ok(verdict) => {
            println!("rinit: the fuzzer reported a failure ({verdict})");
            1
        }
        Err(error) => {
            println!("rinit: cannot run the fuzzer: {error}");
            1
        }
    };
    exit(code)
}

fn start(args: &str, seed: u64, count: u64) -> Result<u64, Error> {
    let programs = Programs::from_args(args);
    if programs.find("fuzz").is_none() {
        println!("rinit: fuzz= given, but no program named fuzz was loaded");
        return Err(Error::EmptySlot);
    }
    let (arena, own, answer) =
        (CAddr::root(FIRST_FREE), CAddr::root(FIRST_FREE + 1), CAddr::root(FIRST_FREE + 2));
    retype(CAddr::root(UNTYPED), ObjectKind::Untyped, arena, ARENA_SIZE)?;
    retype(CAddr::root(UNTYPED), ObjectKind::Untyped, own, OWN_SIZE)?;
    retype(CAddr::root(UNTYPED), ObjectKind::Channel, answer, 0)?;
    let channel = CAddr::root(CHANNEL);
    for capability in [arena, own, answer] {
        channel_put(channel, MessageKind::Capability, capability.to_raw())?;
    }
    channel_put(channel, MessageKind::Raw, seed)?;
    channel_put(channel, MessageKind::Raw, count)?;
    // Said before the start: once started, the fuzzer may print first.
    println!("rinit: fuzzing with seed {seed}, {count} calls");
    if let Err(error) = crate::launch::start(&programs, "fuzz") {
        println!("rinit: cannot start the fuzzer: {error}");
        return Err(Error::NotConfigured);
    }
    let (_, verdict) = channel_take(answer, CAddr::root(FIRST_FREE + 3))?;
    Ok(verdict)
}
