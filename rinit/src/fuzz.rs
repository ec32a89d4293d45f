//! rinit's fuzz mode: with `fuzz=SEED,COUNT` on the kernel command line,
//! rinit starts the fuzz program (`programs/fuzz`, loaded by GRUB and
//! named to rinit as `program=fuzz@SLOT`) instead of the shell, hands it
//! what it fuzzes with over the channel in slot 255 (an untyped arena, an
//! untyped for its own tasks, a channel for its answer, the seed and the
//! count), waits for the answer and exits: the kernel then audits itself
//! once more and stops the machine.

use abi::syscall::MessageKind;
use abi::task_root::{CHANNEL, DEVICES, FIRST_FREE, UNTYPED};
use abi::{CAddr, Error, ObjectKind};
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

/// The slot of the program named `name` (`program=NAME@SLOT` in `args`).
fn program_slot(args: &str, name: &str) -> Option<u8> {
    args.split_whitespace()
        .filter_map(|word| word.strip_prefix("program="))
        .find_map(|word| word.strip_prefix(name)?.strip_prefix('@')?.parse().ok())
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
    let Some(slot) = program_slot(args, "fuzz") else {
        println!("rinit: fuzz= given, but no program named fuzz was loaded");
        return Err(Error::EmptySlot);
    };
    let (arena, own, answer) =
        (CAddr::root(FIRST_FREE), CAddr::root(FIRST_FREE + 1), CAddr::root(FIRST_FREE + 2));
    retype(CAddr::root(UNTYPED), ObjectKind::Untyped, arena, ARENA_SIZE)?;
    retype(CAddr::root(UNTYPED), ObjectKind::Untyped, own, OWN_SIZE)?;
    retype(CAddr::root(UNTYPED), ObjectKind::Channel, answer, 0)?;
    let channel = CAddr::root(CHANNEL);
    // And the devices pool, from which the fuzzer takes the lines and
    // ports it may play with (never the keyboard's or COM1's).
    for capability in [arena, own, answer, CAddr::root(DEVICES)] {
        channel_put(channel, MessageKind::Capability, capability.to_raw())?;
    }
    channel_put(channel, MessageKind::Raw, seed)?;
    channel_put(channel, MessageKind::Raw, count)?;
    println!("rinit: fuzzing with seed {seed}, {count} calls (program in slot {slot})");
    // SAFETY: the program runs in its own address space.
    unsafe { ulib::syscall::task_start(CAddr::root(slot)) }?;
    let (_, verdict) = channel_take(answer, CAddr::root(FIRST_FREE + 3))?;
    Ok(verdict)
}
