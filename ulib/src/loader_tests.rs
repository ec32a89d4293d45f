//! Host tests of the loader, against a model of the kernel that refuses
//! what the kernel refuses (kinds, occupied slots, memory, tables, the user
//! half, read-only pages), and fed corrupted images.

use super::*;
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::vec::Vec;

const ROOT_UNTYPED: u8 = root::UNTYPED;
const OWN_SPACE: u8 = root::PML4;
const MODULE: u8 = root::FIRST_PROGRAM;
const CHANNEL: u8 = root::CHANNEL;
const TASK_SLOT: u8 = 200;
const TABLES: [u8; 3] = [230, 231, 232];
/// The model's user half ends here, as the kernel's does.
const USER_END: u64 = 1 << 47;

/// One object of the model kernel.
struct Object {
    kind: ObjectKind,
    parent: Option<usize>,
    alive: bool,
    /// An untyped's size and watermark, in bytes; its objects.
    size: u64,
    used: u64,
    headers: u64,
    /// A pool's slots.
    slots: Vec<Option<usize>>,
    /// A page's bytes.
    bytes: Box<[u8; PAGE]>,
    read_only: bool,
    /// Where a page or a table is mapped: the space and the address (a
    /// table's: its level's key).
    mapped: Option<(usize, u64)>,
    /// A task's fields, and whether it runs.
    fields: BTreeMap<u64, u64>,
    running: bool,
}

impl Object {
    fn new(kind: ObjectKind, parent: Option<usize>, size: u64) -> Object {
        let slots = if kind == ObjectKind::CPool { vec![None; 256] } else { Vec::new() };
        Object {
            kind,
            parent,
            alive: true,
            size,
            used: 0,
            headers: 0,
            slots,
            bytes: Box::new([0; PAGE]),
            read_only: false,
            mapped: None,
            fields: BTreeMap::new(),
            running: false,
        }
    }
}

/// The model kernel: objects, a root pool, address spaces as maps.
struct Model {
    objects: Vec<Object>,
    /// Per PML4: its pages by address, its tables by `level << 56 | block`.
    pages: BTreeMap<usize, BTreeMap<u64, usize>>,
    tables: BTreeMap<usize, BTreeMap<u64, usize>>,
    /// The rights each page was mapped with, by space and address.
    rights: BTreeMap<(usize, u64), MapRights>,
    /// The loader's window, as its own space shows it.
    window: Vec<u8>,
    /// Calls made, and the call that is refused (out of memory), if any.
    calls: usize,
    fail_at: Option<usize>,
}

/// The (size, align) in bytes of an object of `kind`, near the kernel's.
fn layout(kind: ObjectKind, size: u64) -> (u64, u64) {
    match kind {
        ObjectKind::Untyped => (size, 4096),
        ObjectKind::CPool => (256 * 24, 8),
        ObjectKind::Task => (1500, 16),
        ObjectKind::Channel => (1100, 8),
        ObjectKind::RawPage => (4096, 4096),
        _ => (8192, 4096),
    }
}

impl Model {
    /// A loader's world: its root pool, an untyped of `pages` pages, its
    /// own PML4, the module `image` as read-only pages, a channel.
    fn new(image: &[u8], pages: u64) -> Model {
        let mut model = Model {
            objects: Vec::new(),
            pages: BTreeMap::new(),
            tables: BTreeMap::new(),
            rights: BTreeMap::new(),
            window: vec![0; 257 * PAGE],
            calls: 0,
            fail_at: None,
        };
        let root = model.add(Object::new(ObjectKind::CPool, None, 0));
        model.put(&[0], root);
        let mut untyped = Object::new(ObjectKind::Untyped, None, pages * PAGE_SIZE);
        untyped.headers = pages;
        let untyped = model.add(untyped);
        model.put(&[ROOT_UNTYPED], untyped);
        let space = model.add(Object::new(ObjectKind::Pml4, None, 0));
        model.put(&[OWN_SPACE], space);
        let channel = model.add(Object::new(ObjectKind::Channel, None, 0));
        model.put(&[CHANNEL], channel);
        let pool = model.add(Object::new(ObjectKind::CPool, None, 0));
        model.put(&[MODULE], pool);
        for (index, chunk) in image.chunks(PAGE).enumerate() {
            let mut page = Object::new(ObjectKind::RawPage, None, 0);
            page.bytes[..chunk.len()].copy_from_slice(chunk);
            page.read_only = true;
            let page = model.add(page);
            model.objects[pool].slots[index] = Some(page);
        }
        model
    }

    fn add(&mut self, object: Object) -> usize {
        self.objects.push(object);
        self.objects.len() - 1
    }

    fn put(&mut self, path: &[u8], object: usize) {
        let (pool, slot) = self.slot_of(CAddr::new(path).unwrap()).unwrap();
        self.objects[pool].slots[slot] = Some(object);
    }

    /// The pool and index of the slot `at` names.
    fn slot_of(&self, at: CAddr) -> Result<(usize, usize), Error> {
        let path = at.path();
        let mut pool = 0;
        for &index in &path[..path.len() - 1] {
            let next = self.objects[pool].slots[usize::from(index)].ok_or(Error::EmptySlot)?;
            if self.objects[next].kind != ObjectKind::CPool {
                return Err(Error::WrongKind);
            }
            pool = next;
        }
        Ok((pool, usize::from(path[path.len() - 1])))
    }

    fn lookup(&self, at: CAddr) -> Result<usize, Error> {
        let (pool, slot) = self.slot_of(at)?;
        self.objects[pool].slots[slot].ok_or(Error::EmptySlot)
    }

    fn lookup_kind(&self, at: CAddr, kinds: &[ObjectKind]) -> Result<usize, Error> {
        let object = self.lookup(at)?;
        match kinds.contains(&self.objects[object].kind) {
            true => Ok(object),
            false => Err(Error::WrongKind),
        }
    }

    /// Counts a call; the `fail_at`th is refused as out of memory. (An
    /// unmap is not counted: the kernel never refuses to unmap a mapped
    /// page.)
    fn count(&mut self) -> Result<(), Error> {
        self.calls += 1;
        match self.fail_at == Some(self.calls) {
            true => Err(Error::OutOfMemory),
            false => Ok(()),
        }
    }

    fn descends_from(&self, mut object: usize, ancestor: usize) -> bool {
        while let Some(parent) = self.objects[object].parent {
            if parent == ancestor {
                return true;
            }
            object = parent;
        }
        false
    }

    /// Live objects made from `untyped`, at any depth.
    fn live_descendants(&self, untyped: usize) -> usize {
        (0..self.objects.len()).filter(|&o| self.objects[o].alive && self.descends_from(o, untyped)).count()
    }

    fn unmap(&mut self, object: usize) {
        if let Some((space, key)) = self.objects[object].mapped.take() {
            let map = match self.objects[object].kind {
                ObjectKind::RawPage | ObjectKind::DevicePage => &mut self.pages,
                _ => &mut self.tables,
            };
            map.entry(space).or_default().remove(&key);
        }
    }

    /// The page mapped at `address` in the PML4 `space`.
    fn page_in(&self, space: usize, address: u64) -> Option<usize> {
        self.pages.get(&space).and_then(|pages| pages.get(&address)).copied()
    }

    fn own_space(&self) -> usize {
        self.lookup(CAddr::root(OWN_SPACE)).unwrap()
    }
}

impl Kernel for Model {
    fn retype(&mut self, untyped: CAddr, kind: ObjectKind, to: CAddr, size: u64) -> Result<(), Error> {
        self.count()?;
        let parent = self.lookup_kind(untyped, &[ObjectKind::Untyped])?;
        let (pool, slot) = self.slot_of(to)?;
        if self.objects[pool].slots[slot].is_some() {
            return Err(Error::SlotOccupied);
        }
        if kind == ObjectKind::DevicePage {
            return Err(Error::NotRetypable);
        }
        if (kind == ObjectKind::Untyped) != (size != 0) || !size.is_multiple_of(PAGE_SIZE) {
            return Err(Error::OutOfRange);
        }
        let (bytes, align) = layout(kind, size);
        let untyped = &self.objects[parent];
        let start = untyped.used.next_multiple_of(align);
        if start + bytes > untyped.size || untyped.headers == 0 {
            return Err(Error::OutOfMemory);
        }
        let untyped = &mut self.objects[parent];
        untyped.used = start + bytes;
        untyped.headers -= 1;
        let mut object = Object::new(kind, Some(parent), size);
        object.headers = size / PAGE_SIZE;
        let object = self.add(object);
        self.objects[pool].slots[slot] = Some(object);
        Ok(())
    }

    fn copy(&mut self, from: CAddr, to: CAddr) -> Result<(), Error> {
        self.count()?;
        let object = self.lookup(from)?;
        let (pool, slot) = self.slot_of(to)?;
        if self.objects[pool].slots[slot].is_some() {
            return Err(Error::SlotOccupied);
        }
        self.objects[pool].slots[slot] = Some(object);
        Ok(())
    }

    fn revoke(&mut self, untyped: CAddr) -> Result<(), Error> {
        self.count()?;
        let untyped = self.lookup_kind(untyped, &[ObjectKind::Untyped])?;
        let doomed: Vec<usize> = (0..self.objects.len())
            .filter(|&o| self.objects[o].alive && self.descends_from(o, untyped))
            .collect();
        for &object in &doomed {
            self.unmap(object);
            self.objects[object].alive = false;
        }
        for object in &mut self.objects {
            for slot in &mut object.slots {
                if slot.is_some_and(|target| doomed.contains(&target)) {
                    *slot = None;
                }
            }
        }
        let untyped = &mut self.objects[untyped];
        untyped.used = 0;
        untyped.headers = untyped.size / PAGE_SIZE;
        Ok(())
    }

    fn map_table(&mut self, table: CAddr, space: CAddr, address: u64) -> Result<(), Error> {
        self.count()?;
        let table = self.lookup_kind(table, &[ObjectKind::Pdpt, ObjectKind::Pd, ObjectKind::Pt])?;
        let space = self.lookup_kind(space, &[ObjectKind::Pml4])?;
        if self.objects[table].mapped.is_some() {
            return Err(Error::AlreadyMapped);
        }
        if address >= USER_END {
            return Err(Error::NotUserAddress);
        }
        let (level, shift) = match self.objects[table].kind {
            ObjectKind::Pdpt => (0u64, 39),
            ObjectKind::Pd => (1, 30),
            _ => (2, 21),
        };
        let tables = self.tables.entry(space).or_default();
        if level > 0 && !tables.contains_key(&((level - 1) << 56 | address >> (shift + 9))) {
            return Err(Error::MissingTable);
        }
        let key = level << 56 | address >> shift;
        if tables.contains_key(&key) {
            return Err(Error::AlreadyMapped);
        }
        tables.insert(key, table);
        self.objects[table].mapped = Some((space, key));
        Ok(())
    }

    fn map_page(&mut self, page: CAddr, space: CAddr, address: u64, rights: MapRights) -> Result<(), Error> {
        self.count()?;
        let page = self.lookup_kind(page, &[ObjectKind::RawPage, ObjectKind::DevicePage])?;
        let space = self.lookup_kind(space, &[ObjectKind::Pml4])?;
        if address >= USER_END {
            return Err(Error::NotUserAddress);
        }
        if !address.is_multiple_of(PAGE_SIZE) {
            return Err(Error::Misaligned);
        }
        if self.objects[page].mapped.is_some() {
            return Err(Error::AlreadyMapped);
        }
        if rights.contains(MapRights::WRITABLE) && self.objects[page].read_only {
            return Err(Error::ReadOnly);
        }
        if !self.tables.get(&space).is_some_and(|tables| tables.contains_key(&(2 << 56 | address >> 21))) {
            return Err(Error::MissingTable);
        }
        if self.page_in(space, address).is_some() {
            return Err(Error::AlreadyMapped);
        }
        self.pages.entry(space).or_default().insert(address, page);
        self.rights.insert((space, address), rights);
        self.objects[page].mapped = Some((space, address));
        // What the loader's own space shows in its window.
        if space == self.own_space() && (MODULE_WINDOW..SCRATCH).contains(&address) {
            let at = (address - MODULE_WINDOW) as usize;
            let bytes = *self.objects[page].bytes;
            self.window[at..at + PAGE].copy_from_slice(&bytes);
        }
        Ok(())
    }

    fn unmap_page(&mut self, page: CAddr) -> Result<(), Error> {
        let page = self.lookup_kind(page, &[ObjectKind::RawPage, ObjectKind::DevicePage])?;
        if self.objects[page].mapped.is_none() {
            return Err(Error::MissingTable);
        }
        self.unmap(page);
        Ok(())
    }

    fn task_set(&mut self, task: CAddr, field: TaskField, value: u64) -> Result<(), Error> {
        self.count()?;
        let task = self.lookup_kind(task, &[ObjectKind::Task])?;
        if self.objects[task].running {
            return Err(Error::InUse);
        }
        let expected = match field {
            TaskField::Stack | TaskField::Instruction => {
                if value >= USER_END {
                    return Err(Error::NotUserAddress);
                }
                None
            }
            TaskField::CPool => Some(ObjectKind::CPool),
            TaskField::Table => Some(ObjectKind::Pml4),
            TaskField::Buffer => Some(ObjectKind::RawPage),
            TaskField::FaultChannel => Some(ObjectKind::Channel),
        };
        let value = match expected {
            None => value,
            Some(kind) => {
                let object =
                    self.lookup_kind(CAddr::from_raw(value).map_err(|_| Error::MalformedAddress)?, &[kind])?;
                if self.objects[object].read_only {
                    return Err(Error::ReadOnly);
                }
                object as u64
            }
        };
        self.objects[task].fields.insert(field as u64, value);
        Ok(())
    }

    unsafe fn read(&self, address: u64, len: usize) -> &[u8] {
        let space = self.own_space();
        for page in (address..address + len as u64).step_by(PAGE) {
            assert!(
                self.page_in(space, page & !(PAGE_SIZE - 1)).is_some(),
                "the loader reads {page:#x}, unmapped"
            );
        }
        let at = (address - MODULE_WINDOW) as usize;
        &self.window[at..at + len]
    }

    unsafe fn page_at(&mut self, address: u64) -> &mut [u8; PAGE] {
        assert_eq!(address, SCRATCH, "the loader writes only through its scratch page");
        let page = self.page_in(self.own_space(), address).expect("a page is mapped at SCRATCH");
        &mut self.objects[page].bytes
    }
}

fn workspace() -> Workspace {
    Workspace {
        untyped: CAddr::root(ROOT_UNTYPED),
        space: CAddr::root(OWN_SPACE),
        tables: TABLES.map(CAddr::root),
    }
}

fn grants() -> Grants {
    Grants { channel: CAddr::root(CHANNEL), task: CAddr::root(TASK_SLOT) }
}

fn module(image: &[u8]) -> Module {
    Module { slot: MODULE, length: image.len() as u64 }
}

// ---- ELF files to load ------------------------------------------------------

const R: u32 = 4;
const W: u32 = 2;
const X: u32 = 1;

/// An ELF64 x86-64 executable: for each segment (flags, address, file
/// bytes, memory size), a program header, its bytes after the table.
fn elf_file(entry: u64, segments: &[(u32, u64, &[u8], u64)]) -> Vec<u8> {
    let mut file = vec![0u8; 64];
    file[..8].copy_from_slice(&[0x7f, b'E', b'L', b'F', 2, 1, 1, 0]);
    file[16..18].copy_from_slice(&2u16.to_le_bytes());
    file[18..20].copy_from_slice(&0x3eu16.to_le_bytes());
    file[20..24].copy_from_slice(&1u32.to_le_bytes());
    file[24..32].copy_from_slice(&entry.to_le_bytes());
    file[32..40].copy_from_slice(&64u64.to_le_bytes());
    file[52..54].copy_from_slice(&64u16.to_le_bytes());
    file[54..56].copy_from_slice(&56u16.to_le_bytes());
    file[56..58].copy_from_slice(&(segments.len() as u16).to_le_bytes());
    let mut offset = 64 + 56 * segments.len() as u64;
    for &(flags, address, bytes, memory) in segments {
        for (value, len) in [
            (1, 4),
            (u64::from(flags), 4),
            (offset, 8),
            (address, 8),
            (address, 8),
            (bytes.len() as u64, 8),
            (memory, 8),
            (4096, 8),
        ] {
            file.extend_from_slice(&u64::to_le_bytes(value)[..len]);
        }
        offset += bytes.len() as u64;
    }
    for &(_, _, bytes, _) in segments {
        file.extend_from_slice(bytes);
    }
    file
}

/// Code, read-only data on the code's page, and data with zeroes after it.
fn typical_program() -> Vec<u8> {
    let code: Vec<u8> = (0..200u32).map(|i| (i * 7) as u8 | 1).collect();
    elf_file(
        0x40_0010,
        &[(R | X, 0x40_0010, &code, 200), (R, 0x40_0100, b"constant", 8), (R | W, 0x40_1ff0, &[9; 40], 9000)],
    )
}

/// What every load that succeeded must have built in `model`.
fn check_loaded(model: &Model, image: &[u8], entry: u64) {
    let task = model.lookup(CAddr::root(TASK_SLOT)).expect("the task is named");
    let fields = &model.objects[task].fields;
    assert_eq!(fields.get(&(TaskField::Instruction as u64)), Some(&entry));
    assert_eq!(fields.get(&(TaskField::Stack as u64)), Some(&STACK_TOP));
    let space = fields[&(TaskField::Table as u64)] as usize;
    let buffer = fields[&(TaskField::Buffer as u64)] as usize;
    assert_eq!(model.page_in(space, TASK_BUFFER), Some(buffer));
    let pool = fields[&(TaskField::CPool as u64)] as usize;
    assert_eq!(model.objects[pool].slots[usize::from(root::CPOOL)], Some(pool));
    let channel = model.lookup(CAddr::root(CHANNEL)).unwrap();
    assert_eq!(model.objects[pool].slots[usize::from(root::CHANNEL)], Some(channel));
    for page in 0..STACK_PAGES {
        let address = STACK_TOP - (page + 1) * PAGE_SIZE;
        assert!(model.page_in(space, address).is_some(), "stack page {page}");
        assert_eq!(model.rights[&(space, address)], MapRights::WRITABLE);
    }
    assert!(model.page_in(space, STACK_TOP - (STACK_PAGES + 1) * PAGE_SIZE).is_none(), "the guard page");
    // Every page of the plan, with the segments' bytes and zeroes.
    let plan = elf::plan(image).expect("it loaded, so it plans");
    for (page, rights) in plan.pages() {
        let object = model.page_in(space, page).unwrap_or_else(|| panic!("{page:#x} is mapped"));
        assert!(!rights.contains(MapRights::WRITABLE | MapRights::EXECUTABLE));
        assert_eq!(model.rights[&(space, page)], rights, "{page:#x} has its segments' rights");
        assert!((PAGE_SIZE..USER_END).contains(&page));
        for (offset, &byte) in model.objects[object].bytes.iter().enumerate() {
            let address = page + offset as u64;
            let expected = plan
                .segments()
                .iter()
                .find(|s| (s.address..s.address + s.file_size).contains(&address))
                .map_or(0, |s| image[(s.file_offset + address - s.address) as usize]);
            assert_eq!(byte, expected, "the byte at {address:#x}");
        }
    }
    let mapped = model.pages.get(&space).map_or(0, BTreeMap::len) as u64;
    assert_eq!(mapped, plan.page_count() + STACK_PAGES + 1, "nothing else is mapped");
    check_nothing_left_mapped(model, image);
}

/// The loader's own space keeps only its window's tables: no module
/// page, no scratch page.
fn check_nothing_left_mapped(model: &Model, image: &[u8]) {
    let own = model.own_space();
    assert_eq!(model.pages.get(&own).map_or(0, BTreeMap::len), 0, "the loader's window is empty again");
    let pool = model.lookup(CAddr::root(MODULE)).unwrap();
    for index in 0..image.len().div_ceil(PAGE) {
        let page = model.objects[pool].slots[index].unwrap();
        assert!(model.objects[page].mapped.is_none(), "module page {index} is unmapped");
    }
}

#[test]
fn loads_a_program_with_its_bytes_zeroes_and_rights() {
    let image = typical_program();
    let mut model = Model::new(&image, 400);
    let entry = load(&mut model, &workspace(), module(&image), &grants()).expect("it loads");
    assert_eq!(entry, 0x40_0010);
    // Checked against a copy of the file: the plan reads it in place.
    let copy = elf_aligned(&image);
    check_loaded(&model, copy.bytes(), entry);
}

#[test]
fn loading_again_builds_in_the_same_room_and_takes_no_more_memory() {
    let image = typical_program();
    let mut model = Model::new(&image, 400);
    load(&mut model, &workspace(), module(&image), &grants()).unwrap();
    let untyped = model.lookup(CAddr::root(ROOT_UNTYPED)).unwrap();
    let used = model.objects[untyped].used;
    let room = model.lookup(CAddr::new(&[MODULE, ROOM_SLOT]).unwrap()).unwrap();
    let objects = model.live_descendants(room);
    // The task exited: its slot is emptied by the rebuild, and filled again.
    load(&mut model, &workspace(), module(&image), &grants()).expect("it loads again");
    assert_eq!(model.objects[untyped].used, used, "the same room");
    assert_eq!(model.live_descendants(room), objects, "the old objects are gone, as many new ones");
    check_loaded(&model, elf_aligned(&image).bytes(), 0x40_0010);
}

#[test]
fn a_running_program_is_not_loaded_again() {
    let image = typical_program();
    let mut model = Model::new(&image, 400);
    load(&mut model, &workspace(), module(&image), &grants()).unwrap();
    let task = model.lookup(CAddr::root(TASK_SLOT)).unwrap();
    model.objects[task].running = true;
    assert_eq!(load(&mut model, &workspace(), module(&image), &grants()), Err(LoadError::StillRunning));
    assert!(model.objects[task].alive, "untouched");
}

#[test]
fn the_room_is_sized_before_anything_is_made_and_holds_the_build() {
    let image = typical_program();
    let plan_image = elf_aligned(&image);
    let plan = elf::plan(plan_image.bytes()).unwrap();
    let mut model = Model::new(&image, 400);
    load(&mut model, &workspace(), module(&image), &grants()).unwrap();
    let room = model.lookup(CAddr::new(&[MODULE, ROOM_SLOT]).unwrap()).unwrap();
    assert_eq!(model.objects[room].size, room_pages(&plan) * PAGE_SIZE);
    // Two pools, the task, the PML4, the buffer; the image pool's.
    assert_eq!(model.live_descendants(room) as u64, 5 + plan.image_pool_slots());
}

/// Malformed programs, each with the error the loader must give.
fn malformed() -> Vec<(&'static str, Vec<u8>, LoadError)> {
    let code = [0xc3u8; 16];
    let one = |flags, address, memory| elf_file(address, &[(flags, address, &code[..], memory)]);
    let stack = STACK_TOP - PAGE_SIZE;
    let elf = LoadError::Elf;
    vec![
        ("W+X", one(R | W | X, 0x40_0000, 16), elf(ElfError::WritableAndExecutable { page: 0x40_0000 })),
        ("page 0", one(R | X, 0x800, 16), elf(ElfError::NotUserAddress { segment: 0 })),
        ("kernel half", one(R | X, 0xffff_8000_0000_0000, 16), elf(ElfError::NotUserAddress { segment: 0 })),
        ("filesz > memsz", one(R | X, 0x40_0000, 8), elf(ElfError::FileSizeOverMemorySize { segment: 0 })),
        (
            "overlap",
            elf_file(0x40_0000, &[(R | X, 0x40_0000, &code, 16), (R, 0x40_000f, &[], 4)]),
            elf(ElfError::Overlap { first: 0, second: 1 }),
        ),
        (
            "over the stack",
            one(R | X, stack, 16),
            elf(ElfError::Reserved {
                segment: 0,
                what: "the stack and its guard page",
                start: STACK_TOP - (STACK_PAGES + 1) * PAGE_SIZE,
                end: STACK_TOP,
            }),
        ),
        (
            "over the buffer",
            one(R | X, TASK_BUFFER, 16),
            elf(ElfError::Reserved {
                segment: 0,
                what: "the task buffer",
                start: TASK_BUFFER,
                end: TASK_BUFFER + PAGE_SIZE,
            }),
        ),
        ("too big", one(R | X, 0x40_0000, 300 * PAGE_SIZE), LoadError::TooManyPages { slots: 323 }),
        ("not ELF", b"#!/bin/sh\necho hello\n".repeat(4), elf(ElfError::NotElf)),
    ]
}

#[test]
fn malformed_programs_are_refused_having_taken_nothing() {
    for (what, bad, error) in malformed() {
        let mut model = Model::new(&bad, 400);
        // The window's tables are made at the first load, whatever it
        // loads: make them first, then nothing more may be taken.
        make_window(&mut model, &workspace()).unwrap();
        let untyped = model.lookup(CAddr::root(ROOT_UNTYPED)).unwrap();
        let (used, objects) = (model.objects[untyped].used, model.objects.len());
        assert_eq!(load(&mut model, &workspace(), module(&bad), &grants()), Err(error), "{what}");
        assert_eq!(
            (model.objects[untyped].used, model.objects.len()),
            (used, objects),
            "{what}: nothing made"
        );
        assert_eq!(model.lookup(CAddr::new(&[MODULE, ROOM_SLOT]).unwrap()), Err(Error::EmptySlot), "{what}");
        check_nothing_left_mapped(&model, &bad);
    }
    let empty = Module { slot: MODULE, length: 0 };
    let mut model = Model::new(&[], 400);
    assert_eq!(load(&mut model, &workspace(), empty, &grants()), Err(LoadError::TooLarge { length: 0 }));
    assert_eq!(model.calls, 0, "refused before any call");
}

#[test]
fn a_refusal_in_the_middle_gives_back_everything_the_build_made() {
    let image = typical_program();
    let mut clean = Model::new(&image, 400);
    load(&mut clean, &workspace(), module(&image), &grants()).unwrap();
    let all_calls = clean.calls;
    let mut failed = 0;
    for fail_at in 1..=all_calls {
        let mut model = Model::new(&image, 400);
        model.fail_at = Some(fail_at);
        match load(&mut model, &workspace(), module(&image), &grants()) {
            // Only the first call's refusal is harmless: it asks whether an
            // old task still runs, and "no" is what a refusal means.
            Ok(_) => assert_eq!(fail_at, 1, "call {fail_at} of {all_calls} refused, yet loaded"),
            Err(_) => failed += 1,
        }
        if failed == 0 {
            continue;
        }
        check_given_back(&model, &image);
        // And the next try loads it.
        model.fail_at = None;
        let entry = load(&mut model, &workspace(), module(&image), &grants()).expect("loads after a refusal");
        check_loaded(&model, elf_aligned(&image).bytes(), entry);
    }
    assert_eq!(failed, all_calls - 1);
}

/// After a failed load: the room, if made, holds nothing; the task slot
/// is empty; the loader's window is empty.
fn check_given_back(model: &Model, image: &[u8]) {
    if let Ok(room) = model.lookup(CAddr::new(&[MODULE, ROOM_SLOT]).unwrap()) {
        assert_eq!(model.live_descendants(room), 0, "the room is empty");
    }
    assert_eq!(model.lookup(CAddr::root(TASK_SLOT)), Err(Error::EmptySlot));
    check_nothing_left_mapped(model, image);
}

#[test]
fn too_little_memory_is_refused_before_the_build_starts() {
    let image = typical_program();
    let mut model = Model::new(&image, 20);
    let error = load(&mut model, &workspace(), module(&image), &grants()).unwrap_err();
    assert_eq!(error, LoadError::Refused { what: "making the program's memory", error: Error::OutOfMemory });
    check_given_back(&model, &image);
}

/// Bytes copied to 8-byte aligned memory, as `elf::plan` needs.
struct Aligned(Vec<u64>, usize);

impl Aligned {
    fn bytes(&self) -> &[u8] {
        // SAFETY: the words hold at least `self.1` initialised bytes.
        unsafe { std::slice::from_raw_parts(self.0.as_ptr().cast(), self.1) }
    }
}

fn elf_aligned(bytes: &[u8]) -> Aligned {
    let mut words = vec![0u64; bytes.len().div_ceil(8)];
    for (word, chunk) in words.iter_mut().zip(bytes.chunks(8)) {
        let mut full = [0; 8];
        full[..chunk.len()].copy_from_slice(chunk);
        *word = u64::from_ne_bytes(full);
    }
    Aligned(words, bytes.len())
}

// ANCHOR: corrupted
proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    /// Corrupted images, cut short or not, and a kernel that may refuse
    /// any one call: the loader never panics, reads only what it mapped,
    /// writes only its scratch page, and either builds exactly the plan's
    /// pages or gives back everything it made.
    #[test]
    fn corrupted_images_load_correctly_or_take_nothing(
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
        header_flips in proptest::collection::vec((0usize..240, any::<u8>()), 0..4),
        cut in proptest::option::of(any::<prop::sample::Index>()),
        fail_at in proptest::option::of(1usize..120),
    ) {
        let mut image = typical_program();
        for (index, value) in flips {
            let at = index.index(image.len());
            image[at] = value;
        }
        for (at, value) in header_flips {
            image[at] ^= value;
        }
        if let Some(cut) = cut {
            image.truncate(cut.index(image.len() + 1));
        }
        let mut model = Model::new(&image, 600);
        model.fail_at = fail_at;
        match load(&mut model, &workspace(), module(&image), &grants()) {
            Ok(entry) => check_loaded(&model, elf_aligned(&image).bytes(), entry),
            Err(_) => check_given_back(&model, &image),
        }
    }
}
// ANCHOR_END: corrupted
