//! `teardown`: tasks that destroy the address space they run in, or
//! another task's, by revoking the untyped it was made from. The kernel
//! must stay up whatever they do.
//!
//! Started with `run teardown`, it waits on channel 255 for an untyped
//! (the shell's `send cap 2` sends one) and makes, each time from a new
//! untyped of 16 pages made from it, an address space of its own: a PML4,
//! the tables under it, and a code page holding a few instructions (a
//! *stub*), mapped where a task of it starts. Getting code into a page that
//! only the new space maps takes a helper: a page is mapped in one place,
//! so the program cannot write it through a mapping of its own; a helper
//! task, sharing this program's memory, is given the page as its task
//! buffer and takes the stub from a channel as a payload, which the kernel
//! copies into the page. Then, in turn:
//!
//! 1. **A task revokes the untyped its own PML4, tables, code and task
//!    object came from.** While a task runs, the kernel holds its task and
//!    its PML4, so the revoke is refused: `InUse`. The stub puts the answer
//!    on a channel and exits; this program prints it, then revokes that
//!    untyped itself, which now succeeds.
//! 2. **This program revokes the untyped of a ready task's address space**
//!    (its task object made elsewhere): the kernel stops the task with
//!    `stopped: its page table was destroyed` when it is next picked, and
//!    it cannot be started again (`NotConfigured`).
//! 3. **The same, with the task object made from that untyped too**: the
//!    task is destroyed with its space, and its slot is empty.
//! 4. **This program runs code in a page of its own address space made
//!    from an untyped, with the tables that map it, and revokes that
//!    untyped from there.** The revoke succeeds (none of it is held), and
//!    the return to the next instruction, in a page that is no longer
//!    mapped, faults: the kernel stops the program with a page fault at
//!    that address. If it came back, the program prints a line starting
//!    `teardown: STILL RUNNING`, which its boot test refuses.
//!
//! Its root pool is a program's (see `hello`), with slot 255 the channel
//! shared with the shell; it uses slots 10 to 56 for what it makes.

#![no_std]
#![no_main]
#![deny(unsafe_op_in_unsafe_fn)]

use ulib::abi::ObjectKind;
use ulib::abi::syscall::{Call, MapRights, MessageKind, TaskField};
use ulib::abi::task_root::{CPOOL, PML4};
use ulib::syscall::{
    channel_put, channel_put_payload, channel_take, map_page, map_table, retype, revoke, task_set,
    task_start, yield_now,
};
use ulib::task::{self, Stack};
use ulib::{CAddr, Error, println};

ulib::entry!(main);

/// The channel the shell sends on; what this program keeps for itself.
const CHANNEL: u8 = 255;
const UNTYPED: u8 = 10;
/// Where the stub tasks and the helper report (a number each).
const REPORT: u8 = 11;
/// Where the stubs wait as payloads for the helper to take.
const STAGING: u8 = 12;
const HELPER: u8 = 13;
/// A slot no take puts anything in (the messages taken here are numbers
/// and payloads).
const NOWHERE: u8 = 14;
/// The first slot of each case: its untyped, then the PML4, PDPT, PD, PT,
/// the code page and the task (`Space`).
const OWN_REVOKE: u8 = 20;
const READY_TASK: u8 = 30;
const READY_TASK_WITH_SPACE: u8 = 40;
const FROM_HERE: u8 = 50;
/// The size of each case's untyped.
const CASE_PAGES: u64 = 16;
/// Where each space has its code: far from what the program has mapped
/// (PML4 entry 32, as `revoke` uses, and 33 for the last case, which maps
/// into this program's own space), so that every table on the way is new.
const CODE: u64 = 0x1000_0000_0000;
const CODE_HERE: u64 = 0x1080_0000_0000;

#[unsafe(link_section = ".stacks")]
static HELPER_STACK: Stack<{ 4 * 4096 }> = Stack::new();

fn main(_args: &str) -> Result<(), Error> {
    println!("teardown: waiting for an untyped on channel {CHANNEL}");
    channel_take(CAddr::root(CHANNEL), CAddr::root(UNTYPED))?;
    let untyped = CAddr::root(UNTYPED);
    retype(untyped, ObjectKind::Channel, CAddr::root(REPORT), 0)?;
    retype(untyped, ObjectKind::Channel, CAddr::root(STAGING), 0)?;
    retype(untyped, ObjectKind::Task, CAddr::root(HELPER), 0)?;
    revoke_own_space()?;
    revoke_ready_task(READY_TASK, false)?;
    revoke_ready_task(READY_TASK_WITH_SPACE, true)?;
    revoke_from_here()
}

// ANCHOR: own_space
/// Case 1: a task revokes the untyped everything it runs with came from.
fn revoke_own_space() -> Result<(), Error> {
    let space = Space::build(OWN_REVOKE, &stub(Stub::RevokeAndReport, OWN_REVOKE), true)?;
    // SAFETY: the task runs the stub in its own address space, which
    // shares no memory with this program's.
    unsafe { task_start(space.task())? };
    let (_, answer) = channel_take(CAddr::root(REPORT), CAddr::root(NOWHERE))?;
    let answer = match answer {
        0 => Ok(()),
        code => Err(Error::try_from(code).map_err(|_| Error::OutOfRange)?),
    };
    println!("teardown: a task revoking the untyped its own address space and task came from got {answer:?}");
    // The task has answered: it runs no more (this program does), so
    // nothing holds its space now.
    revoke(space.untyped())?;
    println!("teardown: revoked that untyped from here, where none of it runs");
    Ok(())
}
// ANCHOR_END: own_space

// ANCHOR: ready_task
/// Cases 2 and 3: this program revokes the untyped of a ready task's
/// address space, and of its task object too if `with_task`.
fn revoke_ready_task(first: u8, with_task: bool) -> Result<(), Error> {
    let space = Space::build(first, &stub(Stub::YieldForEver, first), with_task)?;
    // SAFETY: as in case 1: the stub runs in its own address space.
    unsafe { task_start(space.task())? };
    yield_now()?; // the task runs, yields back, and waits in the run queue
    revoke(space.untyped())?;
    let what = if with_task { "and task" } else { "(its task made elsewhere)" };
    println!("teardown: revoked the untyped of a ready task's address space {what}");
    // Let the kernel pick the task (and find its table gone) before asking.
    for _ in 0..3 {
        yield_now()?;
    }
    // SAFETY: a start the kernel must refuse; were it to start, the task
    // would run nothing of this program's.
    let restart = unsafe { task_start(space.task()) };
    println!("teardown: starting that task again: {:?}", restart.map(|_| ()));
    Ok(())
}
// ANCHOR_END: ready_task

// ANCHOR: from_here
/// Case 4: this program runs code from a page of its own address space,
/// made (with the tables that map it) from an untyped it then revokes,
/// from that very page.
fn revoke_from_here() -> Result<(), Error> {
    let first = FROM_HERE;
    let (room, here) = (CAddr::root(first), CAddr::root(PML4));
    retype(CAddr::root(UNTYPED), ObjectKind::Untyped, room, CASE_PAGES * 4096)?;
    for (offset, kind) in [(2, ObjectKind::Pdpt), (3, ObjectKind::Pd), (4, ObjectKind::Pt)] {
        retype(room, kind, CAddr::root(first + offset), 0)?;
        map_table(CAddr::root(first + offset), here, CODE_HERE)?;
    }
    let page = CAddr::root(first + 5);
    retype(room, ObjectKind::RawPage, page, 0)?;
    map_page(page, here, CODE_HERE, MapRights::WRITABLE | MapRights::EXECUTABLE)?;
    let code = stub(Stub::RevokeAndReturn, first);
    // SAFETY: the page is mapped writable at CODE_HERE, and nothing else
    // in this program uses it; the stub is shorter than a page.
    unsafe { core::ptr::copy_nonoverlapping(code.bytes.as_ptr(), CODE_HERE as *mut u8, code.len) };
    println!("teardown: revoking, from code in a page made from it, the untyped of that page and its tables");
    let answer: u64;
    // SAFETY: the stub makes one system call (rax, rdi: a revoke of the
    // case's untyped) and returns; the call clobbers rcx, r11, rdx and
    // rsi. The revoke unmaps the page the stub runs from, so the return to
    // it must fault and this task be stopped; were it to come back, the
    // program only prints that it did.
    unsafe {
        core::arch::asm!(
            "call {code}",
            code = in(reg) CODE_HERE,
            inlateout("rax") u64::from(Call::Revoke) => answer,
            in("rdi") room.to_raw(),
            lateout("rcx") _,
            lateout("rdx") _,
            lateout("rsi") _,
            lateout("r11") _,
        );
    }
    println!("teardown: STILL RUNNING after the revoke (answer {answer}) in the page it unmapped");
    Ok(())
}
// ANCHOR_END: from_here

/// A case's objects, in slots `first` (the untyped) to `first + 6` (the
/// task): an address space with the stub mapped at [`CODE`].
struct Space {
    first: u8,
}

impl Space {
    /// Makes the case's untyped (from the program's), its address space,
    /// and its task, from the case's untyped if `task_inside`, else from
    /// the program's; loads `code` and configures the task to run it in
    /// that space with this program's root pool.
    fn build(first: u8, code: &Code, task_inside: bool) -> Result<Space, Error> {
        let space = Space { first };
        let (room, pml4) = (space.untyped(), CAddr::root(first + 1));
        retype(CAddr::root(UNTYPED), ObjectKind::Untyped, room, CASE_PAGES * 4096)?;
        retype(room, ObjectKind::Pml4, pml4, 0)?;
        for (offset, kind) in [(2, ObjectKind::Pdpt), (3, ObjectKind::Pd), (4, ObjectKind::Pt)] {
            retype(room, kind, CAddr::root(first + offset), 0)?;
            map_table(CAddr::root(first + offset), pml4, CODE)?;
        }
        let page = CAddr::root(first + 5);
        retype(room, ObjectKind::RawPage, page, 0)?;
        load(page, code)?;
        map_page(page, pml4, CODE, MapRights::EXECUTABLE)?;
        let task = space.task();
        retype(if task_inside { room } else { CAddr::root(UNTYPED) }, ObjectKind::Task, task, 0)?;
        task_set(task, TaskField::CPool, CAddr::root(CPOOL).to_raw())?;
        task_set(task, TaskField::Table, pml4.to_raw())?;
        task_set(task, TaskField::Instruction, CODE)?;
        // The stubs use no stack; a task must have a stack pointer all the same.
        task_set(task, TaskField::Stack, CODE + 4096)?;
        Ok(space)
    }

    fn untyped(&self) -> CAddr {
        CAddr::root(self.first)
    }

    fn task(&self) -> CAddr {
        CAddr::root(self.first + 6)
    }
}

// ANCHOR: load
/// Writes `code` into `page`, a page this program has not mapped: the
/// helper task, given `page` as its task buffer, takes the code from the
/// staging channel as a payload, which the kernel copies into its buffer.
fn load(page: CAddr, code: &Code) -> Result<(), Error> {
    channel_put_payload(CAddr::root(STAGING), &code.bytes[..code.len])?;
    let helper = CAddr::root(HELPER);
    // SAFETY: the helper's buffer is `page`, which no Rust data uses; it
    // has no mapping here, so the helper must not print (it does not); it
    // runs on its own stack, one task at a time (it is waited for).
    // (It is told the program's own buffer address, so that a print by
    // mistake would land in a mapped page.)
    let start = unsafe { task::prepare(&HELPER_STACK, ulib::abi::TASK_BUFFER, helper_main) }
        .map_err(|_| Error::OutOfMemory)?;
    task_set(helper, TaskField::CPool, CAddr::root(CPOOL).to_raw())?;
    task_set(helper, TaskField::Table, CAddr::root(PML4).to_raw())?;
    task_set(helper, TaskField::Buffer, page.to_raw())?;
    task_set(helper, TaskField::Instruction, start.instruction_pointer)?;
    task_set(helper, TaskField::Stack, start.stack_pointer)?;
    // SAFETY: the helper runs `helper_main` on its own stack and touches
    // no memory of this task's.
    unsafe { task_start(helper)? };
    match channel_take(CAddr::root(REPORT), CAddr::root(NOWHERE))? {
        (MessageKind::Raw, 0) => Ok(()),
        _ => Err(Error::NotConfigured),
    }
}

/// The helper: takes the payload waiting on the staging channel into its
/// buffer (the page being loaded) and reports 0, or the error's code.
fn helper_main() -> Result<(), Error> {
    let answer = match channel_take(CAddr::root(STAGING), CAddr::root(NOWHERE)) {
        Ok((MessageKind::Payload, _)) => 0,
        Ok(_) => u64::from(Error::WrongKind),
        Err(error) => u64::from(error),
    };
    channel_put(CAddr::root(REPORT), MessageKind::Raw, answer)?;
    Ok(())
}
// ANCHOR_END: load

// ANCHOR: stubs
/// The stubs, position-independent code copied into a page of their own.
/// Each ends with two words the copy fills in: the capability address of
/// the case's untyped and of the report channel.
#[derive(Clone, Copy)]
enum Stub {
    /// Revokes the untyped, puts the answer on the report channel, exits.
    RevokeAndReport,
    /// Yields for ever.
    YieldForEver,
    /// Makes the system call in rax with rdi (set by the caller) and returns.
    RevokeAndReturn,
}

core::arch::global_asm!(
    ".pushsection .rodata.teardown_stubs, \"a\"",
    ".global teardown_revoke_and_report, teardown_revoke_and_report_end",
    ".global teardown_yield_for_ever, teardown_yield_for_ever_end",
    ".global teardown_revoke_and_return, teardown_revoke_and_return_end",
    "teardown_revoke_and_report:",
    "mov eax, {revoke}",
    "mov rdi, [rip + teardown_revoke_and_report_end - 16]",
    "syscall",
    "mov rdx, rax",
    "mov eax, {put}",
    "mov rdi, [rip + teardown_revoke_and_report_end - 8]",
    "mov esi, {raw}",
    "syscall",
    "mov eax, {exit}",
    "xor edi, edi",
    "syscall",
    "ud2",
    ".balign 8",
    ".quad 0, 0",
    "teardown_revoke_and_report_end:",
    "teardown_yield_for_ever:",
    "mov eax, {yield_}",
    "syscall",
    "jmp teardown_yield_for_ever",
    ".balign 8",
    ".quad 0, 0",
    "teardown_yield_for_ever_end:",
    "teardown_revoke_and_return:",
    "syscall",
    "ret",
    ".balign 8",
    ".quad 0, 0",
    "teardown_revoke_and_return_end:",
    ".popsection",
    revoke = const Call::Revoke as u32,
    put = const Call::ChannelPut as u32,
    raw = const MessageKind::Raw as u32,
    exit = const Call::Exit as u32,
    yield_ = const Call::Yield as u32,
);

unsafe extern "C" {
    static teardown_revoke_and_report: u8;
    static teardown_revoke_and_report_end: u8;
    static teardown_yield_for_ever: u8;
    static teardown_yield_for_ever_end: u8;
    static teardown_revoke_and_return: u8;
    static teardown_revoke_and_return_end: u8;
}

/// A stub's bytes, ready to copy.
struct Code {
    bytes: [u8; 256],
    len: usize,
}

/// The stub `which`, with the untyped of the case at `first` and the
/// report channel filled in.
fn stub(which: Stub, first: u8) -> Code {
    let (start, end) = match which {
        Stub::RevokeAndReport => {
            (&raw const teardown_revoke_and_report, &raw const teardown_revoke_and_report_end)
        }
        Stub::YieldForEver => (&raw const teardown_yield_for_ever, &raw const teardown_yield_for_ever_end),
        Stub::RevokeAndReturn => {
            (&raw const teardown_revoke_and_return, &raw const teardown_revoke_and_return_end)
        }
    };
    let len = end as usize - start as usize;
    let mut code = Code { bytes: [0; 256], len };
    // SAFETY: the stub's bytes lie between its two labels, in the program's
    // read-only data, and fit the buffer (a few dozen bytes).
    let bytes = unsafe { core::slice::from_raw_parts(start, len) };
    code.bytes[..len].copy_from_slice(bytes);
    code.bytes[len - 16..len - 8].copy_from_slice(&CAddr::root(first).to_raw().to_le_bytes());
    code.bytes[len - 8..len].copy_from_slice(&CAddr::root(REPORT).to_raw().to_le_bytes());
    code
}
// ANCHOR_END: stubs
