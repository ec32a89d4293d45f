//! The first task: the kernel builds `rinit` from the program GRUB loaded
//! as a module, out of the same objects any task could make for itself.
//!
//! It carves the task's objects from a part of the largest untyped region
//! that the task is not given (so it cannot revoke itself out of
//! existence), and the rest of that region becomes the untyped in root
//! slot 2 for the task's own use. Then it builds:
//!
//! - the root pool, laid out as `abi::task_root` says;
//! - an address space (a PML4 sharing the kernel half), the program's
//!   segments loaded into pages, a stack with an unmapped guard page below
//!   it, and the task buffer, every page and table kept in the image pool
//!   (root slot 5) so the task can see them;
//! - the input channel (root slot 7), where the kernel puts what is typed,
//!   and the channel to a child (root slot 255);
//! - the task, with its instruction pointer at the program's entry, its
//!   stack pointer at the top of its stack, and its arguments (the kernel's
//!   command line) at the start of its buffer, their length in `rdi`;
//! - for every other program GRUB loaded, the same again: a task with its
//!   own pool, address space, stack and buffer, inactive, in the first
//!   task's root slots 240 on, and a word `program=NAME@SLOT` added to the
//!   first task's arguments so that the shell can start it by name. A
//!   program that cannot be loaded is left out having taken nothing: no
//!   memory (it is built in an untyped of its own, revoked if the build
//!   fails) and no slot.

use crate::objects::channel::Channel;
use crate::objects::irq_line::IrqLine;
use crate::objects::mapping::{self, MapError};
use crate::objects::port_range::PortRange;
use crate::objects::{
    AnyObject, CPool, ManagedArc, ObjectKind, PAGE, Pml4, RawPage, RetypeError, Task, Untyped, window,
};
use crate::paging::{PagingError, Rights};
use abi::syscall::MapRights;
use abi::task_root as root;
use abi::{CPOOL_SLOTS, STACK_PAGES, STACK_TOP};
use common::elf::{self, ElfError, LoadPlan, SegmentSink};
use core::fmt;
use x86_64::PhysAddr;

/// Bytes set aside for the first task's own objects and the other
/// programs': pools, address spaces, images, stacks and buffers.
pub const FIRST_TASK_MEMORY: u64 = 4 * 1024 * 1024;
/// Why the first task could not be built.
#[derive(Debug)]
pub enum SetupError {
    /// No untyped region is large enough.
    NoMemory,
    /// Retype refused.
    Retype(RetypeError),
    /// Mapping refused.
    Map(MapError),
    /// The image pool is full.
    ImagePoolFull,
    /// The program is not a loadable ELF file.
    Elf(ElfError),
    /// The program and its stack need more pages and tables than the
    /// image pool has slots.
    TooManyPages { slots: u64 },
    /// The programs before this one took all the memory.
    NoMemoryLeft,
}

impl fmt::Display for SetupError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            SetupError::NoMemory => write!(f, "no untyped region has room for the first task"),
            SetupError::Retype(error) => write!(f, "{error}"),
            SetupError::Map(error) => write!(f, "{error}"),
            SetupError::ImagePoolFull => {
                write!(f, "the program has more pages than the image pool has slots")
            }
            SetupError::Elf(error) => write!(f, "the program is not a loadable ELF file: {error}"),
            SetupError::TooManyPages { slots } => write!(
                f,
                "the program needs {slots} pages and page tables, more than the image pool's {CPOOL_SLOTS} slots"
            ),
            SetupError::NoMemoryLeft => write!(f, "no memory is left for it"),
        }
    }
}

impl From<RetypeError> for SetupError {
    fn from(error: RetypeError) -> Self {
        SetupError::Retype(error)
    }
}

impl From<MapError> for SetupError {
    fn from(error: MapError) -> Self {
        SetupError::Map(error)
    }
}

/// A program GRUB loaded besides the first task's.
#[derive(Clone, Copy)]
pub struct Program<'a> {
    /// Its module's name: 1 to 16 of `a-z`, `0-9` and `-`.
    pub name: &'a str,
    /// The ELF file.
    pub image: &'a [u8],
}

/// What the kernel gives the first task.
pub struct Grant<'a> {
    /// Every untyped region, the largest included.
    pub untypeds: &'a [Option<ManagedArc<Untyped>>],
    /// The VGA text buffer page.
    pub vga: ManagedArc<AnyObject>,
    /// The first task's program, an ELF file.
    pub image: &'a [u8],
    /// The other programs, made into tasks for the first task to start.
    pub programs: &'a [Option<Program<'a>>],
    /// The argument string (the kernel's command line).
    pub arguments: &'a str,
    /// The devices pool ([`devices_pool`]).
    pub devices: ManagedArc<CPool>,
}

// ANCHOR: create
/// Builds the first task from `grant`, and a task for each other program;
/// the first task is ready to run.
pub fn create(grant: &Grant) -> Result<ManagedArc<Task>, SetupError> {
    let region =
        grant.untypeds.iter().flatten().max_by_key(|untyped| untyped.free()).ok_or(SetupError::NoMemory)?;
    let own = region.retype_untyped(FIRST_TASK_MEMORY)?;
    let first = build(&own, grant.image)?;
    let spare_buffer = own.retype::<RawPage>()?;
    let input = own.retype::<Channel>()?;
    let to_child = own.retype::<Channel>()?;
    let rest = rest_of(region)?;

    let pool = &first.pool;
    pool.slot(root::VGA).downgrade(&grant.vga).expect("an empty slot");
    pool.slot(root::UNTYPED).downgrade(&rest).expect("an empty slot");
    pool.slot(root::SPARE_BUFFER).downgrade(&spare_buffer).expect("an empty slot");
    pool.slot(root::INPUT).downgrade(&input).expect("an empty slot");
    pool.slot(root::CHANNEL).downgrade(&to_child).expect("an empty slot");
    pool.slot(root::DEVICES).downgrade(&grant.devices).expect("an empty slot");
    crate::devices::attach_input(input);
    let others = grant.untypeds.iter().flatten().filter(|untyped| !untyped.same_object(region));
    for (slot, untyped) in (root::FIRST_UNTYPED..root::FIRST_FREE).zip(others) {
        pool.slot(slot).downgrade(untyped).expect("an empty slot");
    }

    let mut arguments = Arguments::new(grant.arguments);
    let mut slots = root::FIRST_PROGRAM..root::FIRST_PROGRAM + root::MAX_PROGRAMS;
    // The untyped the next program is built in: all the memory left.
    let mut room = rest_of(&own).ok();
    for program in grant.programs.iter().flatten() {
        match load_program(room.as_ref(), program.image) {
            Ok(built) => {
                let slot = slots.next().expect("no more programs than slots");
                pool.slot(slot).downgrade(&built.task).expect("an empty slot");
                // The program's way to the first task: the same channel.
                built.pool.slot(root::CHANNEL).downgrade(&to_child).expect("an empty slot");
                arguments.push(format_args!(" program={}@{slot}", program.name));
                // The program stays in `room`: the next is built in what
                // it left, so that a failure there cannot revoke this one.
                room = room.and_then(|full| rest_of(&full).ok());
            }
            Err(error) => common::println!("program {}: cannot load it: {error}; left out", program.name),
        }
    }
    let length = write_arguments(&first.buffer, arguments.as_str());
    first.task.set_start_argument(length);
    crate::objects::task::make_ready(&first.task);
    Ok(first.task)
}
// ANCHOR_END: create

// ANCHOR: devices_pool
/// The objects the devices pool holds: the pool, an IrqLine per line a
/// capability may name, a PortRange per device handed out.
pub const DEVICE_OBJECTS: u64 = 1 + handable_lines() + abi::device::HANDED_PORTS.len() as u64;
/// The pages of memory the devices pool takes beside its header slots:
/// the pool's slots (under two pages) and the small device objects.
pub const DEVICE_PAGES: u64 = 2;

/// How many lines a capability may name.
const fn handable_lines() -> u64 {
    let (mut count, mut line) = (0, 0);
    while line < abi::device::LINES as u64 {
        count += abi::device::is_handable_line(line) as u64;
        line += 1;
    }
    count
}

/// Makes the pool of the devices the kernel hands out, for the first
/// task's root slot `DEVICES`: in slot `n` an IrqLine for each line `n` a
/// capability may name, then a PortRange for each of
/// `abi::device::HANDED_PORTS`, laid out as `abi::device::slot` says. They
/// are made from `kernel`, the kernel's own untyped, which no task holds,
/// and pinned as the kernel's page tables are: no revoke reaches them. A
/// driver gets revocable objects of its own from these (`IrqDerive`,
/// `PortDerive`).
pub fn devices_pool(kernel: &ManagedArc<Untyped>) -> Result<ManagedArc<CPool>, RetypeError> {
    use abi::device::{HANDED_PORTS, LINES, is_handable_line, slot};
    let pool = kernel.retype::<CPool>()?;
    for line in (0..LINES).filter(|&line| is_handable_line(u64::from(line))) {
        let irq = kernel.retype::<IrqLine>()?;
        irq.set_line(line);
        pool.slot(slot::irq(line)).downgrade(&irq).expect("a new pool's slots are empty");
        irq.leak();
    }
    for (index, span, _) in HANDED_PORTS {
        let range = kernel.retype::<PortRange>()?;
        range.set_span(span);
        pool.slot(index).downgrade(&range).expect("a new pool's slots are empty");
        range.leak();
    }
    Ok(pool)
}
// ANCHOR_END: devices_pool

// ANCHOR: load_program
/// Builds the program `image` in `room`, an untyped that holds nothing
/// yet, or refuses it having taken nothing: what cannot fit the image pool
/// is refused before anything is made, and if the build fails all the same
/// (out of memory, say), revoking `room` destroys whatever it made, and
/// the memory is free again for the next program.
fn load_program(room: Option<&ManagedArc<Untyped>>, image: &[u8]) -> Result<Built, SetupError> {
    let room = room.ok_or(SetupError::NoMemoryLeft)?;
    let plan = elf::plan(image).map_err(SetupError::Elf)?;
    let slots = image_pool_slots(&plan);
    if slots > CPOOL_SLOTS as u64 {
        return Err(SetupError::TooManyPages { slots });
    }
    build(room, image).inspect_err(|_| {
        // What the failed build made is held by `room`'s derivation list
        // alone: `build` has dropped its own pointers.
        room.revoke().expect("nothing holds what a failed build made");
    })
}
// ANCHOR_END: load_program

// ANCHOR: image_pool_slots
/// How many slots of the image pool loading `plan` fills: one for each
/// page (the program's and its stack's) and for each page table that maps
/// them or the task buffer (a PDPT per 512 GiB touched, a PD per GiB, a PT
/// per 2 MiB; the PML4 is not kept there).
pub fn image_pool_slots(plan: &LoadPlan) -> u64 {
    // Every range of pages that is mapped, sorted: those of the segments
    // (two may share a page), the stack's and the buffer's (which no
    // segment touches: `elf::plan` checked).
    let mut spans = [(0, 0); elf::MAX_SEGMENTS + 2];
    let segments = plan.segments();
    for (span, segment) in spans.iter_mut().zip(segments) {
        *span = (segment.first_page(), segment.last_page() + PAGE);
    }
    spans[segments.len()] = (STACK_TOP - STACK_PAGES * PAGE, STACK_TOP);
    spans[segments.len() + 1] = (abi::TASK_BUFFER, abi::TASK_BUFFER + PAGE);
    let spans = &mut spans[..segments.len() + 2];
    spans.sort_unstable();
    let tables: u64 = [1 << 21, 1 << 30, 1 << 39].into_iter().map(|reach| blocks_touched(spans, reach)).sum();
    plan.page_count() + STACK_PAGES + tables
}

/// How many aligned blocks of `size` bytes the sorted `spans` touch (each
/// `(start, end)`, not empty; neighbours may share a block).
fn blocks_touched(spans: &[(u64, u64)], size: u64) -> u64 {
    let mut count = 0;
    let mut last_block = None;
    for &(start, end) in spans {
        let (first, last) = (start / size, (end - 1) / size);
        count += last - first + 1;
        if last_block == Some(first) {
            count -= 1;
        }
        last_block = Some(last);
    }
    count
}
// ANCHOR_END: image_pool_slots

/// What [`build`] makes for a program.
struct Built {
    task: ManagedArc<Task>,
    pool: ManagedArc<CPool>,
    buffer: ManagedArc<AnyObject>,
}

// ANCHOR: build
/// Makes, from `own`, a task for the ELF program `image`, configured and
/// inactive: its root pool (the pool itself, its PML4, itself, its image
/// pool, its buffer, in the slots `abi::task_root` names), an address
/// space with the program, a stack and the buffer mapped.
fn build(own: &ManagedArc<Untyped>, image: &[u8]) -> Result<Built, SetupError> {
    let pool = own.retype::<CPool>()?;
    let image_pool = own.retype::<CPool>()?;
    let space = own.retype::<Pml4>()?.into_any();
    let task = own.retype::<Task>()?;
    let buffer = own.retype::<RawPage>()?.into_any();
    let named: [(u8, &ManagedArc<AnyObject>); 5] = [
        (root::CPOOL, &pool.clone().into_any()),
        (root::PML4, &space),
        (root::TASK, &task.clone().into_any()),
        (root::IMAGE_POOL, &image_pool.clone().into_any()),
        (root::TASK_BUFFER, &buffer),
    ];
    for (slot, object) in named {
        pool.slot(slot).downgrade(object).expect("a new pool's slots are empty");
    }

    let mut builder = SpaceBuilder { untyped: own, pool: &image_pool, space: &space, next_slot: 0 };
    let entry = builder.load(image)?;
    for page in 0..STACK_PAGES {
        builder.new_page(STACK_TOP - (page + 1) * PAGE, Rights::WRITE)?;
    }
    builder.map(&buffer, abi::TASK_BUFFER, Rights::WRITE)?;

    task.cpool_slot().downgrade(&pool).expect("a new task names nothing");
    task.table_slot().downgrade(&space).expect("a new task names nothing");
    task.buffer_slot().downgrade(&buffer).expect("a new task names nothing");
    task.set_entry(entry);
    task.set_stack(STACK_TOP);
    Ok(Built { task, pool, buffer })
}
// ANCHOR_END: build

/// The first task's argument string, built without a heap: the kernel's
/// command line and a word for each other program, cut at a page.
struct Arguments {
    bytes: [u8; PAGE as usize],
    len: usize,
}

impl Arguments {
    fn new(start: &str) -> Self {
        let mut arguments = Arguments { bytes: [0; PAGE as usize], len: 0 };
        arguments.push(format_args!("{start}"));
        arguments
    }

    /// Appends `text`, as much of it as fits.
    fn push(&mut self, text: core::fmt::Arguments) {
        let _ = core::fmt::Write::write_fmt(self, text);
    }

    fn as_str(&self) -> &str {
        core::str::from_utf8(&self.bytes[..self.len]).unwrap_or("")
    }
}

impl core::fmt::Write for Arguments {
    fn write_str(&mut self, text: &str) -> core::fmt::Result {
        let room = self.bytes.len() - self.len;
        let mut take = text.len().min(room);
        while !text.is_char_boundary(take) {
            take -= 1;
        }
        self.bytes[self.len..self.len + take].copy_from_slice(&text.as_bytes()[..take]);
        self.len += take;
        Ok(())
    }
}

/// The rest of `region` after the first task's own memory, as one untyped
/// (the first task's slot 2).
fn rest_of(region: &ManagedArc<Untyped>) -> Result<ManagedArc<Untyped>, SetupError> {
    // An untyped of N pages takes N pages and N + 1 header slots: with
    // every page free, all but one page's worth fits.
    let size = region.free().saturating_sub(PAGE) & !(PAGE - 1);
    Ok(region.retype_untyped(size)?)
}

/// Copies `arguments` to the start of the task buffer `buffer` (cut at a
/// character boundary to fit) and returns their length in bytes.
fn write_arguments(buffer: &ManagedArc<AnyObject>, arguments: &str) -> u64 {
    let mut len = arguments.len().min(PAGE as usize);
    while !arguments.is_char_boundary(len) {
        len -= 1;
    }
    // SAFETY: a RawPage's body is a page of RAM, just made, not yet mapped
    // anywhere a CPU could be using it.
    let bytes = unsafe { page_bytes(buffer) };
    bytes[..len].copy_from_slice(&arguments.as_bytes()[..len]);
    len as u64
}

/// The bytes of the page object `page`, through the window.
///
/// # Safety
/// `page` must be a RawPage, and no other reference to its bytes alive.
unsafe fn page_bytes<'a>(page: &ManagedArc<AnyObject>) -> &'a mut [u8; 4096] {
    let address = window().virtual_address(PhysAddr::new(page.address()));
    // SAFETY: the caller's promise; the page is live while `page` is held,
    // and the returned reference does not outlive the caller's use.
    unsafe { &mut *(address as *mut [u8; 4096]) }
}

// ANCHOR: space_builder
/// Fills an address space with pages, and the tables they need, made from
/// one untyped and kept in one pool.
struct SpaceBuilder<'a> {
    untyped: &'a ManagedArc<Untyped>,
    pool: &'a ManagedArc<CPool>,
    space: &'a ManagedArc<AnyObject>,
    next_slot: usize,
}

impl SpaceBuilder<'_> {
    /// A new object of `kind`, named in the pool.
    fn new_object(&mut self, kind: ObjectKind) -> Result<ManagedArc<AnyObject>, SetupError> {
        let slot = u8::try_from(self.next_slot).map_err(|_| SetupError::ImagePoolFull)?;
        let object = self.untyped.retype_kind(kind, 0)?;
        self.pool.slot(slot).downgrade(&object).expect("the builder fills the pool in order");
        self.next_slot += 1;
        Ok(object)
    }

    /// Maps `page` at `address`, making the tables on the way as needed.
    fn map(&mut self, page: &ManagedArc<AnyObject>, address: u64, rights: Rights) -> Result<(), SetupError> {
        loop {
            match mapping::map_page(self.space, page, address, rights) {
                Err(MapError::Paging(PagingError::MissingLevel(level))) => {
                    let table = self.new_object(level.kind())?;
                    mapping::map_table(self.space, &table, address)?;
                }
                result => return Ok(result?),
            }
        }
    }

    /// A new zeroed page, mapped at `address`.
    fn new_page(&mut self, address: u64, rights: Rights) -> Result<&'static mut [u8; 4096], SetupError> {
        let page = self.new_object(ObjectKind::RawPage)?;
        self.map(&page, address, rights)?;
        // SAFETY: a RawPage just made; its untyped keeps it alive for ever
        // (the kernel never revokes the first task's memory), and only the
        // loader writes it, before the task runs.
        Ok(unsafe { page_bytes(&page) })
    }

    /// Loads the ELF program `image`; returns its entry point.
    fn load(&mut self, image: &[u8]) -> Result<u64, SetupError> {
        let plan = elf::plan(image).map_err(SetupError::Elf)?;
        plan.load(self)?;
        Ok(plan.entry())
    }
}
// ANCHOR_END: space_builder

impl SegmentSink for SpaceBuilder<'_> {
    type Error = SetupError;

    fn page(&mut self, address: u64, rights: MapRights) -> Result<&mut [u8; 4096], SetupError> {
        self.new_page(address, crate::syscalls::page_rights(rights))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::objects::testing::Arena;

    /// An x86-64 executable with one R+X segment at 0x40_0000 of `file`
    /// bytes (`ret`s) and `memory` bytes, its entry at the start; in
    /// 8-byte aligned memory, as the kernel's modules are.
    fn program(file: usize, memory: u64) -> Vec<u64> {
        let mut bytes = vec![0u8; 120];
        bytes[..8].copy_from_slice(&[0x7f, b'E', b'L', b'F', 2, 1, 1, 0]);
        let words: [(usize, u64, usize); 13] = [
            (16, 2, 2),             // ET_EXEC
            (18, 0x3e, 2),          // x86-64
            (20, 1, 4),             // version
            (24, 0x40_0000, 8),     // entry
            (32, 64, 8),            // program headers follow
            (52, 64, 2),            // header size
            (54, 56, 2),            // program header size
            (56, 1, 2),             // one program header
            (64, 1 | (5 << 32), 8), // PT_LOAD, R+X
            (72, 120, 8),           // file offset
            (80, 0x40_0000, 8),     // address
            (96, file as u64, 8),   // file size
            (104, memory, 8),       // memory size
        ];
        for (at, value, len) in words {
            bytes[at..at + len].copy_from_slice(&value.to_le_bytes()[..len]);
        }
        bytes.extend(std::iter::repeat_n(0xc3, file));
        bytes
            .chunks(8)
            .map(|chunk| chunk.iter().rev().fold(0, |word, &byte| word << 8 | u64::from(byte)))
            .collect()
    }

    fn bytes(words: &[u64]) -> &[u8] {
        // SAFETY: any u64 is 8 valid bytes; the slice covers the words.
        unsafe { core::slice::from_raw_parts(words.as_ptr().cast(), words.len() * 8) }
    }

    #[test]
    fn the_image_pool_count_is_what_the_build_fills() {
        let arena = Arena::for_pages(200);
        let room = arena.untyped();
        let image = program(11, 40 * PAGE);
        let plan = elf::plan(bytes(&image)).unwrap();
        // 40 pages, 16 of stack; PTs at 0x40_0000, the buffer and the
        // stack, PDs and PDPTs for the low GiB and the stack's.
        assert_eq!(image_pool_slots(&plan), 40 + 16 + 3 + 2 + 2);
        let built = load_program(Some(&room), bytes(&image)).unwrap();
        // Two pools, the PML4, the task, the buffer; the image pool's.
        assert_eq!(room.children().count() as u64, 5 + image_pool_slots(&plan));
        drop(built);
    }

    #[test]
    fn a_program_too_big_for_the_image_pool_is_refused_before_anything_is_made() {
        let arena = Arena::for_pages(400);
        let room = arena.untyped();
        let free = room.free();
        let error = load_program(Some(&room), bytes(&program(11, 300 * PAGE))).map(drop).unwrap_err();
        assert!(matches!(error, SetupError::TooManyPages { slots: 323 }), "{error}");
        assert_eq!((room.free(), room.children().count()), (free, 0));
    }

    #[test]
    fn a_failed_build_gives_back_everything_it_took() {
        let arena = Arena::for_pages(100);
        let room = arena.untyped();
        let free = room.free();
        // Fits the image pool, not the memory: fails part way through.
        let error = load_program(Some(&room), bytes(&program(11, 200 * PAGE))).map(drop).unwrap_err();
        assert!(matches!(error, SetupError::Retype(RetypeError::OutOfMemory { .. })), "{error}");
        assert_eq!((room.free(), room.children().count()), (free, 0), "all of it back");
        // And a program that fits loads in the same memory.
        let built = load_program(Some(&room), bytes(&program(11, 50 * PAGE)));
        assert!(built.is_ok());
    }
}
