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
//! - the task, with its instruction pointer at the program's entry, its
//!   stack pointer at the top of its stack, and its arguments (the kernel's
//!   command line) at the start of its buffer, their length in `rdi`.

use crate::objects::mapping::{self, MapError};
use crate::objects::{
    AnyObject, CPool, ManagedArc, ObjectKind, PAGE, Pml4, RawPage, RetypeError, Task, Untyped, window,
};
use crate::paging::{PagingError, Rights};
use abi::syscall::MapRights;
use abi::task_root as root;
use abi::{STACK_PAGES, STACK_TOP};
use common::elf::{self, ElfError, SegmentSink};
use core::fmt;
use x86_64::PhysAddr;

/// Bytes set aside for the first task's own objects: its pools, address
/// space, image, stack and buffers.
pub const FIRST_TASK_MEMORY: u64 = 1024 * 1024;
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

/// What the kernel gives the first task.
pub struct Grant<'a> {
    /// Every untyped region, the largest included.
    pub untypeds: &'a [Option<ManagedArc<Untyped>>],
    /// The VGA text buffer page.
    pub vga: ManagedArc<AnyObject>,
    /// The program, an ELF file.
    pub image: &'a [u8],
    /// The argument string.
    pub arguments: &'a str,
}

// ANCHOR: create
/// Builds the first task from `grant`; it is ready to run.
pub fn create(grant: &Grant) -> Result<ManagedArc<Task>, SetupError> {
    let region =
        grant.untypeds.iter().flatten().max_by_key(|untyped| untyped.free()).ok_or(SetupError::NoMemory)?;
    let own = region.retype_untyped(FIRST_TASK_MEMORY)?;
    let pool = own.retype::<CPool>()?;
    let image_pool = own.retype::<CPool>()?;
    let space = own.retype::<Pml4>()?.into_any();
    let task = own.retype::<Task>()?;
    let buffer = own.retype::<RawPage>()?.into_any();
    let spare_buffer = own.retype::<RawPage>()?;
    let rest = rest_of(region)?.into_any();

    let named: [(u8, &ManagedArc<AnyObject>); 7] = [
        (root::CPOOL, &pool.clone().into_any()),
        (root::VGA, &grant.vga),
        (root::UNTYPED, &rest),
        (root::PML4, &space),
        (root::TASK, &task.clone().into_any()),
        (root::IMAGE_POOL, &image_pool.clone().into_any()),
        (root::TASK_BUFFER, &buffer),
    ];
    for (slot, object) in named {
        pool.slot(slot).downgrade(object).expect("a new pool's slots are empty");
    }
    pool.slot(root::SPARE_BUFFER).downgrade(&spare_buffer).expect("an empty slot");
    let others = grant.untypeds.iter().flatten().filter(|untyped| !untyped.same_object(region));
    for (slot, untyped) in (root::FIRST_UNTYPED..root::FIRST_FREE).zip(others) {
        pool.slot(slot).downgrade(untyped).expect("an empty slot");
    }

    let mut builder = SpaceBuilder { untyped: &own, pool: &image_pool, space: &space, next_slot: 0 };
    let entry = builder.load(grant.image)?;
    for page in 0..STACK_PAGES {
        builder.new_page(STACK_TOP - (page + 1) * PAGE, Rights::WRITE)?;
    }
    builder.map(&buffer, abi::TASK_BUFFER, Rights::WRITE)?;
    let arguments = write_arguments(&buffer, grant.arguments);

    task.cpool_slot().downgrade(&pool).expect("a new task names nothing");
    task.table_slot().downgrade(&space).expect("a new task names nothing");
    task.buffer_slot().downgrade(&buffer).expect("a new task names nothing");
    task.set_entry(entry);
    task.set_stack(STACK_TOP);
    task.set_start_argument(arguments);
    crate::objects::task::make_ready(&task);
    Ok(task)
}
// ANCHOR_END: create

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
