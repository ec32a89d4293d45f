//! The program loader: builds a task from an ELF file that the kernel
//! handed over as read-only pages, with the same system calls any program
//! could make. In stage 6 the kernel loads only the first task (rinit);
//! every other boot module reaches rinit as a pool of read-only pages
//! (`abi::task_root::FIRST_PROGRAM`), and rinit loads it with [`load`].
//!
//! What [`load`] does, in order, and what it has spent when it stops:
//!
//! 1. It maps the module's pages read-only into the loader's own address
//!    space, at [`MODULE_WINDOW`] (the kernel refuses them writable), and
//!    reads the ELF file there in place.
//! 2. It checks the file with [`crate::elf::plan`], the checks the
//!    kernel's loader made when it loaded every program (W^X, page 0, the
//!    kernel half, `filesz <= memsz`, overlapping segments, segments over
//!    the stack or the task buffer), and counts the pages and page tables
//!    the program needs against the image pool's 256 slots. A program
//!    refused here has taken nothing: its pages are unmapped again.
//! 3. It sizes an untyped for everything the task needs (its room: pools,
//!    task, PML4, buffer, pages, tables; see [`room_pages`]) and retypes it
//!    from the untyped it was given, or, when the program was loaded before
//!    (its room exists), revokes the old room and builds in it again.
//! 4. For each page the plan names, it retypes a zeroed page in the room,
//!    maps it writable at [`SCRATCH`] in its own space, copies the
//!    segments' file bytes into it (what lies between `filesz` and `memsz`
//!    stays zero), unmaps it and maps it into the program's space with the
//!    segment's rights, making the page tables on the way. Then the stack
//!    and the task buffer, and the task's fields.
//! 5. If anything fails after step 3 it revokes the room: every object
//!    made for the program is destroyed, and the room is empty again for
//!    the next attempt. Either way the module's pages are unmapped.
//!
//! The kernel still checks every call on its own (a loader is a user
//! program, as hostile as any): a page is mapped only in the user half,
//! only where its tables are, once; a module's page never writable; a
//! task's addresses are user addresses. The loader's checks are for the
//! program's sake (a clear error, no half-built task); the kernel's are
//! for the kernel's.
//!
//! The system calls go through [`Kernel`], so that the host tests run the
//! loader against a model of the kernel (and feed it corrupted images).

use crate::elf::{self, ElfError, SegmentSink};
use abi::syscall::{MapRights, TaskField};
use abi::task_root as root;
use abi::{CAddr, CPOOL_SLOTS, Error, ObjectKind, PAGE_SIZE, STACK_PAGES, STACK_TOP, TASK_BUFFER};
use core::fmt;

/// Where the loader maps a module's pages in its own address space, to
/// read it: page `i` at `MODULE_WINDOW + i * PAGE_SIZE`. The window and
/// [`SCRATCH`] share one page table (a 2 MiB block), which the loader
/// makes at its first load ([`Workspace::tables`]).
pub const MODULE_WINDOW: u64 = 0x6000_0000_0000;
/// Where the loader maps each new page of a program in its own address
/// space while it fills it.
pub const SCRATCH: u64 = MODULE_WINDOW + 256 * PAGE_SIZE;
/// The slots of a module's pool (above its pages, `abi::task_root::
/// MODULE_PAGES`) where the loader keeps what it builds for the program:
/// its room (an untyped) and the task's root pool.
pub const ROOM_SLOT: u8 = 255;
/// See [`ROOM_SLOT`].
pub const TASK_POOL_SLOT: u8 = 254;

/// Page size as a `usize`, for buffers.
const PAGE: usize = PAGE_SIZE as usize;

// ANCHOR: kernel
/// The system calls the loader makes (`ulib::syscall`'s, on the real
/// kernel), and its view of its own address space.
pub trait Kernel {
    fn retype(&mut self, untyped: CAddr, kind: ObjectKind, to: CAddr, size: u64) -> Result<(), Error>;
    fn copy(&mut self, from: CAddr, to: CAddr) -> Result<(), Error>;
    fn revoke(&mut self, untyped: CAddr) -> Result<(), Error>;
    fn map_table(&mut self, table: CAddr, space: CAddr, address: u64) -> Result<(), Error>;
    fn map_page(&mut self, page: CAddr, space: CAddr, address: u64, rights: MapRights) -> Result<(), Error>;
    fn unmap_page(&mut self, page: CAddr) -> Result<(), Error>;
    fn task_set(&mut self, task: CAddr, field: TaskField, value: u64) -> Result<(), Error>;
    /// The `len` bytes mapped at `address` in the loader's own space.
    ///
    /// # Safety
    /// They are mapped there, and nothing writes them while they are used.
    unsafe fn read(&self, address: u64, len: usize) -> &[u8];
    /// The page mapped writable at `address` in the loader's own space.
    ///
    /// # Safety
    /// A page is mapped there, writable, that nothing else uses.
    unsafe fn page_at(&mut self, address: u64) -> &mut [u8; PAGE];
}
// ANCHOR_END: kernel

/// The loader's system calls on the real kernel: `ulib::syscall`'s
/// wrappers, and its own address space read and written in place.
pub struct Syscalls;

impl Kernel for Syscalls {
    fn retype(&mut self, untyped: CAddr, kind: ObjectKind, to: CAddr, size: u64) -> Result<(), Error> {
        crate::syscall::retype(untyped, kind, to, size).map(drop)
    }
    fn copy(&mut self, from: CAddr, to: CAddr) -> Result<(), Error> {
        crate::syscall::copy(from, to).map(drop)
    }
    fn revoke(&mut self, untyped: CAddr) -> Result<(), Error> {
        crate::syscall::revoke(untyped).map(drop)
    }
    fn map_table(&mut self, table: CAddr, space: CAddr, address: u64) -> Result<(), Error> {
        crate::syscall::map_table(table, space, address).map(drop)
    }
    fn map_page(&mut self, page: CAddr, space: CAddr, address: u64, rights: MapRights) -> Result<(), Error> {
        crate::syscall::map_page(page, space, address, rights).map(drop)
    }
    fn unmap_page(&mut self, page: CAddr) -> Result<(), Error> {
        crate::syscall::unmap_page(page).map(drop)
    }
    fn task_set(&mut self, task: CAddr, field: TaskField, value: u64) -> Result<(), Error> {
        crate::syscall::task_set(task, field, value).map(drop)
    }
    unsafe fn read(&self, address: u64, len: usize) -> &[u8] {
        // SAFETY: the caller's promise (`load` reads only the module's
        // pages, which it has just mapped read-only at `address`).
        unsafe { core::slice::from_raw_parts(address as *const u8, len) }
    }
    unsafe fn page_at(&mut self, address: u64) -> &mut [u8; PAGE] {
        // SAFETY: the caller's promise (`load` asks only for SCRATCH, where
        // it has just mapped a new page writable).
        unsafe { &mut *(address as *mut [u8; PAGE]) }
    }
}

/// A module the kernel handed over: its pool of read-only pages and its
/// length in bytes (from the word `program=NAME@SLOT:LENGTH`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Module {
    /// The root slot of its pool.
    pub slot: u8,
    /// Its length in bytes.
    pub length: u64,
}

/// What the loader uses of the loader's own task: the untyped it makes
/// rooms from, its address space, and three free root slots for the page
/// tables of its window (made at the first load, kept).
#[derive(Clone, Copy, Debug)]
pub struct Workspace {
    pub untyped: CAddr,
    pub space: CAddr,
    pub tables: [CAddr; 3],
}

/// What a task built by [`load`] gets besides its own objects.
#[derive(Clone, Copy, Debug)]
pub struct Grants {
    /// A channel put in the task's slot 255 (`abi::task_root::CHANNEL`):
    /// its way to the loader's program.
    pub channel: CAddr,
    /// Where in the loader's root pool to put a capability to the task.
    pub task: CAddr,
}

// ANCHOR: load_error
/// Why a program was not loaded. A program refused before its room was
/// made ([`LoadError::Elf`], [`LoadError::TooLarge`],
/// [`LoadError::TooManyPages`], [`LoadError::StillRunning`]) took nothing;
/// after, its room was revoked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoadError {
    /// The module is empty, or has more pages than a module pool holds.
    TooLarge { length: u64 },
    /// The file is not a loadable program.
    Elf(ElfError),
    /// The program and its stack need more pages and tables than the image
    /// pool has slots.
    TooManyPages { slots: u64 },
    /// The task built from it last time has not exited.
    StillRunning,
    /// A system call was refused: what the loader was doing, and why.
    Refused { what: &'static str, error: Error },
}
// ANCHOR_END: load_error

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            LoadError::TooLarge { length } => {
                write!(f, "a module of {length} bytes: not 1 to {} pages", root::MODULE_PAGES)
            }
            LoadError::Elf(error) => write!(f, "not a loadable ELF file: {error}"),
            LoadError::TooManyPages { slots } => write!(
                f,
                "the program needs {slots} pages and page tables, more than the image pool's {CPOOL_SLOTS} slots"
            ),
            LoadError::StillRunning => f.write_str("it is still running: it has not exited yet"),
            LoadError::Refused { what, error } => write!(f, "{what}: {error}"),
        }
    }
}

/// A refused call, with what the loader was doing.
fn refused(what: &'static str) -> impl Fn(Error) -> LoadError {
    move |error| LoadError::Refused { what, error }
}

/// The address in the module's pool of its page `index`.
fn module_page(module: Module, index: u64) -> CAddr {
    CAddr::new(&[module.slot, index as u8]).expect("depth 2")
}

/// The pages of `module`.
fn module_pages(module: Module) -> Result<u64, LoadError> {
    let pages = module.length.div_ceil(PAGE_SIZE);
    if pages == 0 || pages > u64::from(root::MODULE_PAGES) {
        return Err(LoadError::TooLarge { length: module.length });
    }
    Ok(pages)
}

// ANCHOR: load
/// Loads `module` into a new task, configured and inactive, a capability
/// to it in `grants.task`; returns the program's entry point. See the
/// module documentation for the steps.
pub fn load(
    k: &mut impl Kernel,
    work: &Workspace,
    module: Module,
    grants: &Grants,
) -> Result<u64, LoadError> {
    let pages = module_pages(module)?;
    if still_running(k, grants.task) {
        return Err(LoadError::StillRunning);
    }
    make_window(k, work)?;
    let mapped = map_module(k, work, module, pages);
    let result = mapped.and_then(|()| {
        // The window is page aligned, as `elf::plan` needs.
        // SAFETY: `map_module` mapped the module there; the bytes stay
        // mapped, read-only and unchanged (the kernel refuses module pages
        // writable), until `unmap_module` below, after the last use of the
        // plan that reads them.
        let image = unsafe { detach(k.read(MODULE_WINDOW, module.length as usize)) };
        let plan = elf::plan(image).map_err(LoadError::Elf)?;
        let slots = plan.image_pool_slots();
        if slots > CPOOL_SLOTS as u64 {
            return Err(LoadError::TooManyPages { slots });
        }
        let room = CAddr::new(&[module.slot, ROOM_SLOT]).expect("depth 2");
        make_room(k, work.untyped, room, room_pages(&plan))?;
        build(k, work, module, &plan, room, grants).inspect_err(|_| {
            // Everything the build made came from the room.
            let _ = k.revoke(room);
        })
    });
    unmap_module(k, module, pages);
    result
}
// ANCHOR_END: load

/// The module's bytes, no longer tied to the borrow of the kernel they
/// were read through (the build needs the kernel mutably meanwhile).
///
/// # Safety
/// The bytes must stay where they are, unchanged, for as long as the
/// result is used.
unsafe fn detach<'a>(image: &[u8]) -> &'a [u8] {
    // SAFETY: the caller's promise.
    unsafe { core::slice::from_raw_parts(image.as_ptr(), image.len()) }
}

/// Whether the task in `task` (if any) runs: a running task's fields
/// cannot be set (`InUse`), so setting one to what it is tells.
fn still_running(k: &mut impl Kernel, task: CAddr) -> bool {
    k.task_set(task, TaskField::Stack, STACK_TOP) == Err(Error::InUse)
}

// ANCHOR: room_pages
/// The pages of untyped memory that building `plan` takes, at most: two
/// pools and the task (less than a page of padding after them, as they are
/// made first), the PML4 and the buffer, the program's pages and stack,
/// and its page tables (`abi::ObjectKind::max_pages`).
pub fn room_pages(plan: &elf::LoadPlan) -> u64 {
    let small = 2 * ObjectKind::CPool.max_pages() + ObjectKind::Task.max_pages() + 1;
    let fixed = ObjectKind::Pml4.max_pages() + ObjectKind::RawPage.max_pages();
    let pages = (plan.page_count() + STACK_PAGES) * ObjectKind::RawPage.max_pages();
    let tables = plan.table_count() * ObjectKind::Pt.max_pages();
    small + fixed + pages + tables
}
// ANCHOR_END: room_pages

/// The page tables of the loader's window in its own space, made and
/// mapped at the first load (there afterwards; each step is done again
/// only if an earlier load stopped before it).
fn make_window(k: &mut impl Kernel, work: &Workspace) -> Result<(), LoadError> {
    let kinds = [ObjectKind::Pdpt, ObjectKind::Pd, ObjectKind::Pt];
    for (table, kind) in work.tables.into_iter().zip(kinds) {
        match k.retype(work.untyped, kind, table, 0) {
            Ok(()) | Err(Error::SlotOccupied) => {}
            Err(error) => return Err(LoadError::Refused { what: "making the window", error }),
        }
        match k.map_table(table, work.space, MODULE_WINDOW) {
            Ok(()) | Err(Error::AlreadyMapped) => {}
            Err(error) => return Err(LoadError::Refused { what: "mapping the window", error }),
        }
    }
    Ok(())
}

/// Maps the module's pages read-only into the window; on a refusal, the
/// ones mapped are unmapped again.
fn map_module(k: &mut impl Kernel, work: &Workspace, module: Module, pages: u64) -> Result<(), LoadError> {
    for index in 0..pages {
        let address = MODULE_WINDOW + index * PAGE_SIZE;
        if let Err(error) = k.map_page(module_page(module, index), work.space, address, MapRights::empty()) {
            unmap_module(k, module, index);
            return Err(LoadError::Refused { what: "mapping the module", error });
        }
    }
    Ok(())
}

/// Unmaps the first `pages` pages of the module.
fn unmap_module(k: &mut impl Kernel, module: Module, pages: u64) {
    for index in 0..pages {
        // A page not mapped (the map failed) is refused, harmlessly.
        let _ = k.unmap_page(module_page(module, index));
    }
}

/// The room: retyped from `untyped` with `pages` pages the first time;
/// revoked (emptied) when it is there from an earlier load.
fn make_room(k: &mut impl Kernel, untyped: CAddr, room: CAddr, pages: u64) -> Result<(), LoadError> {
    match k.retype(untyped, ObjectKind::Untyped, room, pages * PAGE_SIZE) {
        Ok(()) => Ok(()),
        Err(Error::SlotOccupied) => k.revoke(room).map_err(refused("emptying the program's memory")),
        Err(error) => Err(LoadError::Refused { what: "making the program's memory", error }),
    }
}

// ANCHOR: build
/// Builds the task in `room`: the objects first, then the address space,
/// then the task's fields.
fn build(
    k: &mut impl Kernel,
    work: &Workspace,
    module: Module,
    plan: &elf::LoadPlan,
    room: CAddr,
    grants: &Grants,
) -> Result<u64, LoadError> {
    let pool = CAddr::new(&[module.slot, TASK_POOL_SLOT]).expect("depth 2");
    let _ = work;
    let in_pool = |slot: u8| CAddr::new(&[module.slot, TASK_POOL_SLOT, slot]).expect("depth 3");
    let made = refused("making the task's objects");
    // The small objects first: the padding before the page-aligned ones
    // comes once (`room_pages`).
    k.retype(room, ObjectKind::CPool, pool, 0).map_err(&made)?;
    k.retype(room, ObjectKind::CPool, in_pool(root::IMAGE_POOL), 0).map_err(&made)?;
    k.retype(room, ObjectKind::Task, in_pool(root::TASK), 0).map_err(&made)?;
    k.retype(room, ObjectKind::Pml4, in_pool(root::PML4), 0).map_err(&made)?;
    k.retype(room, ObjectKind::RawPage, in_pool(root::TASK_BUFFER), 0).map_err(&made)?;
    k.copy(pool, in_pool(root::CPOOL)).map_err(&made)?;
    k.copy(grants.channel, in_pool(root::CHANNEL)).map_err(refused("giving the task its channel"))?;

    let mut space =
        SpaceBuilder { k, work, module, room, next_slot: 0, tables: [0; 256], table_count: 0, pending: None };
    plan.load(&mut space)?;
    space.finish()?;
    for page in 0..STACK_PAGES {
        let stack_page = space.new_object(ObjectKind::RawPage)?;
        space.map(stack_page, STACK_TOP - (page + 1) * PAGE_SIZE, MapRights::WRITABLE)?;
    }
    space.map(in_pool(root::TASK_BUFFER), TASK_BUFFER, MapRights::WRITABLE)?;

    let k = space.k;
    let task = in_pool(root::TASK);
    let set = refused("configuring the task");
    k.task_set(task, TaskField::CPool, pool.to_raw()).map_err(&set)?;
    k.task_set(task, TaskField::Table, in_pool(root::PML4).to_raw()).map_err(&set)?;
    k.task_set(task, TaskField::Buffer, in_pool(root::TASK_BUFFER).to_raw()).map_err(&set)?;
    k.task_set(task, TaskField::Stack, STACK_TOP).map_err(&set)?;
    k.task_set(task, TaskField::Instruction, plan.entry()).map_err(&set)?;
    k.copy(task, grants.task).map_err(refused("naming the task"))?;
    Ok(plan.entry())
}
// ANCHOR_END: build

// ANCHOR: space_builder
/// Fills the program's address space with pages, and the tables they
/// need, made in its room and kept in its image pool.
struct SpaceBuilder<'a, K: Kernel> {
    k: &'a mut K,
    work: &'a Workspace,
    module: Module,
    room: CAddr,
    /// The next free slot of the image pool.
    next_slot: usize,
    /// The tables made so far, each `level << 56 | block` (the block of
    /// addresses it covers); the space is new, so these are all it has.
    tables: [u64; CPOOL_SLOTS],
    table_count: usize,
    /// The page being filled at [`SCRATCH`]: its slot, and where and how
    /// it goes in the program's space.
    pending: Option<(CAddr, u64, MapRights)>,
}

impl<K: Kernel> SpaceBuilder<'_, K> {
    fn path(&self, rest: &[u8]) -> CAddr {
        let mut path = [self.module.slot, TASK_POOL_SLOT, 0, 0];
        path[2..2 + rest.len()].copy_from_slice(rest);
        CAddr::new(&path[..2 + rest.len()]).expect("depth 4 at most")
    }

    /// A new object of `kind` in the next slot of the image pool.
    fn new_object(&mut self, kind: ObjectKind) -> Result<CAddr, LoadError> {
        // `load` counted the slots against the pool (`image_pool_slots`).
        let slot = u8::try_from(self.next_slot).map_err(|_| LoadError::TooManyPages { slots: 257 })?;
        let at = self.path(&[root::IMAGE_POOL, slot]);
        self.k.retype(self.room, kind, at, 0).map_err(refused("making the program's pages"))?;
        self.next_slot += 1;
        Ok(at)
    }

    /// Maps `page` at `address` in the program's space, making the tables
    /// on the way that are not there yet.
    fn map(&mut self, page: CAddr, address: u64, rights: MapRights) -> Result<(), LoadError> {
        let space = self.path(&[root::PML4]);
        for (level, (kind, shift)) in
            [(ObjectKind::Pdpt, 39), (ObjectKind::Pd, 30), (ObjectKind::Pt, 21)].into_iter().enumerate()
        {
            let key = (level as u64) << 56 | address >> shift;
            if self.tables[..self.table_count].contains(&key) {
                continue;
            }
            let table = self.new_object(kind)?;
            self.k.map_table(table, space, address).map_err(refused("mapping a page table"))?;
            self.tables[self.table_count] = key;
            self.table_count += 1;
        }
        self.k.map_page(page, space, address, rights).map_err(refused("mapping a page"))
    }

    /// Moves the page filled at [`SCRATCH`], if any, to its place.
    fn finish(&mut self) -> Result<(), LoadError> {
        let Some((page, address, rights)) = self.pending.take() else { return Ok(()) };
        self.k.unmap_page(page).map_err(refused("unmapping a filled page"))?;
        self.map(page, address, rights)
    }
}

impl<K: Kernel> SegmentSink for SpaceBuilder<'_, K> {
    type Error = LoadError;

    fn page(&mut self, address: u64, rights: MapRights) -> Result<&mut [u8; PAGE], LoadError> {
        self.finish()?;
        let page = self.new_object(ObjectKind::RawPage)?;
        let own = self.work.space;
        self.k
            .map_page(page, own, SCRATCH, MapRights::WRITABLE)
            .map_err(refused("mapping a page to fill"))?;
        self.pending = Some((page, address, rights));
        // SAFETY: the page just made is mapped writable at SCRATCH, and
        // only this builder uses SCRATCH, one page at a time.
        Ok(unsafe { self.k.page_at(SCRATCH) })
    }
}
// ANCHOR_END: space_builder

#[cfg(test)]
#[path = "loader_tests.rs"]
mod tests;
