//! Loading a user program from an ELF file, in two steps in the style of
//! seL4: [`plan`] checks everything and can fail; [`LoadPlan::load`] acts and
//! fails only if the page provider does (say, it runs out of memory).
//!
//! The file is untrusted (it arrives as a boot module): every offset, size
//! and address is checked, and a malformed file gets an [`ElfError`], never a
//! panic. `xmas-elf` parses the headers; because it asserts (panics) on a
//! header it cannot read, [`plan`] first checks what it would assert: the
//! file is 8-byte aligned in memory, and the program header table has
//! 64-bit entries that lie inside the file.
//!
//! What [`plan`] accepts:
//! - a 64-bit, little-endian, x86-64 executable (`ET_EXEC`: linked at fixed
//!   addresses, nothing to relocate, no interpreter, no dynamic section);
//! - at most [`MAX_SEGMENTS`] non-empty `PT_LOAD` segments, each with its file
//!   bytes inside the file, `filesz <= memsz`, and its memory entirely in the
//!   user half but not in page 0 (so that a null pointer always faults);
//! - segments that do not overlap. They need not be page aligned, so two may
//!   share a page: **a shared page gets the union of their rights**, except
//!   that a page both writable and executable is refused (W^X: no page the
//!   program can rewrite is ever code), whether from one segment or two;
//! - segments whose pages keep off what the kernel maps itself in every
//!   task it builds ([`RESERVED`]: the stack, its guard page, the task
//!   buffer);
//! - an entry point inside the file bytes of an executable segment.
//!
//! How [`LoadPlan::load`] loads: each page any segment touches is asked for
//! once, in ascending order, from a [`SegmentSink`] (the kernel retypes a
//! zeroed page and maps it through capabilities), then filled with the file
//! bytes of every segment on it. Everything else on the page (the bytes
//! between `filesz` and `memsz`, the gaps) stays zero. Rights follow the
//! segment flags: writable only with `PF_W`, executable only with `PF_X`;
//! every user page is readable (x86 has no unreadable present page).

use abi::syscall::{MapRights, PAGE_SIZE, STACK_PAGES, STACK_TOP, TASK_BUFFER, USER_END};
use core::fmt;
use xmas_elf::ElfFile;
use xmas_elf::header::{Class, Data, Machine, Type as FileType, Version};
use xmas_elf::program::{self, ProgramHeader};

/// The most loadable segments a program may have.
pub const MAX_SEGMENTS: usize = 16;
/// The most program headers (of every type) the loader reads.
pub const MAX_PROGRAM_HEADERS: usize = 64;
/// The size of one 64-bit program header.
const PROGRAM_HEADER_SIZE: usize = 56;
/// The size of the 64-bit ELF file header.
const FILE_HEADER_SIZE: usize = 64;
/// Page size as a `usize`, for buffers.
const PAGE: usize = PAGE_SIZE as usize;

// ANCHOR: reserved
/// The user addresses the kernel maps itself in every task it builds from
/// a module, which no segment may touch: the stack with the guard page
/// below it (unmapped, so that an overflow faults), and the task buffer.
/// Each is `(start, end, what)`, page aligned.
pub const RESERVED: [(u64, u64, &str); 2] = [
    (STACK_TOP - (STACK_PAGES + 1) * PAGE_SIZE, STACK_TOP, "the stack and its guard page"),
    (TASK_BUFFER, TASK_BUFFER + PAGE_SIZE, "the task buffer"),
];
// ANCHOR_END: reserved

// ANCHOR: elf_error
/// Why an ELF file cannot be loaded. `segment` numbers are indices in the
/// program header table, as `readelf -l` counts them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ElfError {
    /// The file is not 8-byte aligned in memory (the headers are read in place).
    Misaligned,
    /// Too short for an ELF header, or no ELF magic number.
    NotElf,
    /// Not a 64-bit file.
    Not64Bit,
    /// Not little-endian.
    NotLittleEndian,
    /// Not ELF version 1.
    UnknownVersion,
    /// Not for x86-64.
    NotX86_64,
    /// Not an executable linked at fixed addresses (`ET_EXEC`).
    NotExecutable,
    /// The program header table is missing, of the wrong entry size,
    /// misaligned or not inside the file.
    BadProgramHeaders,
    /// More program headers than [`MAX_PROGRAM_HEADERS`].
    TooManyProgramHeaders(u16),
    /// The program needs a dynamic linker or relocation (`PT_INTERP`,
    /// `PT_DYNAMIC`).
    NeedsDynamicLinking { segment: u16 },
    /// More loadable segments than [`MAX_SEGMENTS`].
    TooManySegments,
    /// A segment's file bytes are not all inside the file.
    OutsideFile { segment: u16 },
    /// A segment has more file bytes than memory bytes.
    FileSizeOverMemorySize { segment: u16 },
    /// A segment is not entirely in the user half, or touches page 0.
    NotUserAddress { segment: u16 },
    /// A segment touches a page the kernel maps itself ([`RESERVED`]).
    Reserved { segment: u16, what: &'static str, start: u64, end: u64 },
    /// Two segments overlap.
    Overlap { first: u16, second: u16 },
    /// A page would be both writable and executable.
    WritableAndExecutable { page: u64 },
    /// No loadable segment.
    NoSegments,
    /// The entry point is not in the file bytes of an executable segment.
    EntryNotExecutable { entry: u64 },
}
// ANCHOR_END: elf_error

impl fmt::Display for ElfError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match *self {
            ElfError::Misaligned => f.write_str("the ELF file is not 8-byte aligned in memory"),
            ElfError::NotElf => f.write_str("not an ELF file"),
            ElfError::Not64Bit => f.write_str("not a 64-bit ELF file"),
            ElfError::NotLittleEndian => f.write_str("not a little-endian ELF file"),
            ElfError::UnknownVersion => f.write_str("not ELF version 1"),
            ElfError::NotX86_64 => f.write_str("not an x86-64 program"),
            ElfError::NotExecutable => f.write_str("not an executable linked at fixed addresses (ET_EXEC)"),
            ElfError::BadProgramHeaders => f.write_str("the program header table is malformed"),
            ElfError::TooManyProgramHeaders(count) => {
                write!(f, "{count} program headers, more than the {MAX_PROGRAM_HEADERS} allowed")
            }
            ElfError::NeedsDynamicLinking { segment } => {
                write!(f, "segment {segment} asks for dynamic linking, which is not supported")
            }
            ElfError::TooManySegments => write!(f, "more than {MAX_SEGMENTS} loadable segments"),
            ElfError::OutsideFile { segment } => write!(f, "segment {segment} lies outside the file"),
            ElfError::FileSizeOverMemorySize { segment } => {
                write!(f, "segment {segment} has more file bytes than memory bytes")
            }
            ElfError::NotUserAddress { segment } => {
                write!(f, "segment {segment} is not in the user half (or touches page 0)")
            }
            ElfError::Reserved { segment, what, start, end } => {
                write!(f, "segment {segment} lies over {what} ({start:#x}..{end:#x}), which the kernel maps")
            }
            ElfError::Overlap { first, second } => write!(f, "segments {first} and {second} overlap"),
            ElfError::WritableAndExecutable { page } => {
                write!(f, "the page at {page:#x} would be both writable and executable")
            }
            ElfError::NoSegments => f.write_str("no loadable segment"),
            ElfError::EntryNotExecutable { entry } => {
                write!(f, "the entry point {entry:#x} is not in an executable segment")
            }
        }
    }
}

/// One loadable segment, checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    /// Its first address in memory (any alignment).
    pub address: u64,
    /// Its size in memory, more than 0.
    pub memory_size: u64,
    /// Where its bytes start in the file.
    pub file_offset: u64,
    /// How many bytes come from the file; the rest are zero.
    pub file_size: u64,
    /// How its pages are mapped.
    pub rights: MapRights,
    /// Its index in the program header table.
    pub index: u16,
}

impl Segment {
    /// The first address past the segment.
    pub const fn end(&self) -> u64 {
        self.address + self.memory_size
    }

    /// The address of its first page.
    pub const fn first_page(&self) -> u64 {
        self.address & !(PAGE_SIZE - 1)
    }

    /// The address of its last page.
    pub const fn last_page(&self) -> u64 {
        (self.end() - 1) & !(PAGE_SIZE - 1)
    }

    /// Whether any of its bytes lie on the page at `page`.
    pub const fn touches(&self, page: u64) -> bool {
        self.first_page() <= page && page <= self.last_page()
    }
}

/// A checked program, ready to load: its segments sorted by address.
#[derive(Clone, Debug)]
pub struct LoadPlan<'a> {
    image: &'a [u8],
    entry: u64,
    segments: [Segment; MAX_SEGMENTS],
    count: usize,
    pages: u64,
}

// ANCHOR: sink
/// Where the loader gets the pages it fills: the kernel implements it by
/// retyping zeroed pages and mapping them through capabilities.
pub trait SegmentSink {
    /// Why a page could not be had (for example, out of memory).
    type Error;

    /// A zeroed page, mapped (or to be mapped) at the user address `page`
    /// (page aligned) with `rights`, for the loader to fill. The loader asks
    /// for each page once, in ascending order.
    fn page(&mut self, page: u64, rights: MapRights) -> Result<&mut [u8; PAGE], Self::Error>;
}
// ANCHOR_END: sink

// ANCHOR: plan
/// Checks an ELF file and plans how to load it (see the module
/// documentation for what is accepted).
pub fn plan(image: &[u8]) -> Result<LoadPlan<'_>, ElfError> {
    let elf = parse_file_header(image)?;
    let header = &elf.header.pt2;
    let mut segments = [EMPTY_SEGMENT; MAX_SEGMENTS];
    let mut count = 0;
    for index in 0..header.ph_count() {
        let program_header = elf.program_header(index).map_err(|_| ElfError::BadProgramHeaders)?;
        let Some(segment) = check_segment(image, index, program_header)? else { continue };
        *segments.get_mut(count).ok_or(ElfError::TooManySegments)? = segment;
        count += 1;
    }
    let segments_found = &mut segments[..count];
    segments_found.sort_unstable_by_key(|segment| segment.address);
    let pages = check_layout(segments_found)?;
    let entry = header.entry_point();
    let executable = |segment: &Segment| {
        segment.rights.contains(MapRights::EXECUTABLE)
            && entry >= segment.address
            && entry - segment.address < segment.file_size
    };
    if !segments_found.iter().any(executable) {
        return Err(ElfError::EntryNotExecutable { entry });
    }
    Ok(LoadPlan { image, entry, segments, count, pages })
}
// ANCHOR_END: plan

const EMPTY_SEGMENT: Segment = Segment {
    address: 0,
    memory_size: 0,
    file_offset: 0,
    file_size: 0,
    rights: MapRights::empty(),
    index: 0,
};

/// Checks the file header, and everything `xmas-elf` would otherwise assert
/// on when it reads the program headers.
fn parse_file_header(image: &[u8]) -> Result<ElfFile<'_>, ElfError> {
    if image.len() < FILE_HEADER_SIZE {
        return Err(ElfError::NotElf);
    }
    if !(image.as_ptr() as usize).is_multiple_of(8) {
        return Err(ElfError::Misaligned);
    }
    let elf = ElfFile::new(image).map_err(|_| ElfError::NotElf)?;
    let identity = elf.header.pt1;
    match identity.class() {
        Class::SixtyFour => {}
        _ => return Err(ElfError::Not64Bit),
    }
    if identity.data() != Data::LittleEndian {
        return Err(ElfError::NotLittleEndian);
    }
    if identity.version() != Version::Current || elf.header.pt2.version() != 1 {
        return Err(ElfError::UnknownVersion);
    }
    let header = &elf.header.pt2;
    if header.machine().as_machine() != Machine::X86_64 {
        return Err(ElfError::NotX86_64);
    }
    if header.type_().as_type() != FileType::Executable {
        return Err(ElfError::NotExecutable);
    }
    let count = usize::from(header.ph_count());
    if count > MAX_PROGRAM_HEADERS {
        return Err(ElfError::TooManyProgramHeaders(header.ph_count()));
    }
    // xmas-elf indexes the file with these without checking, and asserts
    // that each entry is large enough and aligned.
    let table_fits = usize::try_from(header.ph_offset())
        .ok()
        .filter(|&offset| offset > 0 && offset.is_multiple_of(8))
        .and_then(|offset| offset.checked_add(count * PROGRAM_HEADER_SIZE))
        .is_some_and(|end| end <= image.len());
    if usize::from(header.ph_entry_size()) != PROGRAM_HEADER_SIZE || !table_fits {
        return Err(ElfError::BadProgramHeaders);
    }
    Ok(elf)
}

// ANCHOR: check_segment
/// Checks one program header: `Ok(None)` for what is not loaded (other
/// types, empty segments).
fn check_segment(image: &[u8], index: u16, header: ProgramHeader) -> Result<Option<Segment>, ElfError> {
    match header.get_type() {
        Ok(program::Type::Load) => {}
        Ok(program::Type::Interp | program::Type::Dynamic) => {
            return Err(ElfError::NeedsDynamicLinking { segment: index });
        }
        // Notes, the stack marker, and types this loader does not know
        // carry nothing to load (Linux ignores unknown types too).
        _ => return Ok(None),
    }
    let (address, memory_size) = (header.virtual_addr(), header.mem_size());
    let (file_offset, file_size) = (header.offset(), header.file_size());
    if file_size > memory_size {
        return Err(ElfError::FileSizeOverMemorySize { segment: index });
    }
    if memory_size == 0 {
        return Ok(None);
    }
    let in_file = file_offset.checked_add(file_size).is_some_and(|end| end <= image.len() as u64);
    if file_size > 0 && !in_file {
        return Err(ElfError::OutsideFile { segment: index });
    }
    let in_user_half = address.checked_add(memory_size).is_some_and(|end| end <= USER_END);
    if address < PAGE_SIZE || !in_user_half {
        return Err(ElfError::NotUserAddress { segment: index });
    }
    let (first_page, last_page) =
        (address & !(PAGE_SIZE - 1), (address + memory_size - 1) & !(PAGE_SIZE - 1));
    if let Some(&(start, end, what)) =
        RESERVED.iter().find(|&&(start, end, _)| first_page < end && last_page >= start)
    {
        return Err(ElfError::Reserved { segment: index, what, start, end });
    }
    let flags = header.flags();
    let mut rights = MapRights::empty();
    rights.set(MapRights::WRITABLE, flags.is_write());
    rights.set(MapRights::EXECUTABLE, flags.is_execute());
    Ok(Some(Segment { address, memory_size, file_offset, file_size, rights, index }))
}
// ANCHOR_END: check_segment

// ANCHOR: check_layout
/// Checks segments sorted by address: no overlap, no page writable and
/// executable. Returns the number of distinct pages they touch.
fn check_layout(segments: &[Segment]) -> Result<u64, ElfError> {
    if segments.is_empty() {
        return Err(ElfError::NoSegments);
    }
    let mut pages = 0;
    // The last page of the segments seen so far, with the union of the
    // rights of every segment on it.
    let mut last: Option<(u64, MapRights)> = None;
    for (position, segment) in segments.iter().enumerate() {
        if let Some(previous) = position.checked_sub(1).map(|p| &segments[p])
            && previous.end() > segment.address
        {
            return Err(ElfError::Overlap { first: previous.index, second: segment.index });
        }
        let shares_first_page = last.is_some_and(|(page, _)| page == segment.first_page());
        let first_page_rights = match last {
            Some((_, rights)) if shares_first_page => rights | segment.rights,
            _ => segment.rights,
        };
        for rights in [first_page_rights, segment.rights] {
            if rights.contains(MapRights::WRITABLE | MapRights::EXECUTABLE) {
                return Err(ElfError::WritableAndExecutable { page: segment.first_page() });
            }
        }
        pages += (segment.last_page() - segment.first_page()) / PAGE_SIZE + 1;
        if shares_first_page {
            pages -= 1;
        }
        let last_page_rights =
            if segment.first_page() == segment.last_page() { first_page_rights } else { segment.rights };
        last = Some((segment.last_page(), last_page_rights));
    }
    Ok(pages)
}
// ANCHOR_END: check_layout

impl<'a> LoadPlan<'a> {
    /// The program's first instruction.
    pub fn entry(&self) -> u64 {
        self.entry
    }

    /// The loadable segments, sorted by address.
    pub fn segments(&self) -> &[Segment] {
        &self.segments[..self.count]
    }

    /// How many distinct pages the program occupies: what loading it costs.
    pub fn page_count(&self) -> u64 {
        self.pages
    }

    /// The union of the rights of the segments on `page`.
    pub fn page_rights(&self, page: u64) -> MapRights {
        let on_page = self.segments().iter().filter(|segment| segment.touches(page));
        on_page.fold(MapRights::empty(), |rights, segment| rights | segment.rights)
    }

    /// Every page the program occupies, in ascending order, with its rights.
    pub fn pages(&self) -> impl Iterator<Item = (u64, MapRights)> + '_ {
        let mut last_page: Option<u64> = None;
        self.segments()
            .iter()
            .flat_map(|segment| (segment.first_page()..=segment.last_page()).step_by(PAGE))
            .filter(move |&page| {
                // Sorted, non-overlapping segments meet pages in ascending
                // order: a shared page shows up again right after itself.
                let new = last_page.is_none_or(|last| page > last);
                last_page = Some(page);
                new
            })
            .map(|page| (page, self.page_rights(page)))
    }

    // ANCHOR: image_pool_slots
    /// How many pool slots loading the program fills, as every loader
    /// keeps them (the kernel's for the first task, `ulib::loader` for the
    /// others): one for each page (the program's and its stack's) and for
    /// each page table that maps them or the task buffer (a PDPT per
    /// 512 GiB touched, a PD per GiB, a PT per 2 MiB; the PML4 is not
    /// kept there). A loader counts them before it spends any memory.
    pub fn image_pool_slots(&self) -> u64 {
        self.page_count() + STACK_PAGES + self.table_count()
    }

    /// How many page tables below the PML4 the program's pages, the stack
    /// and the task buffer need.
    pub fn table_count(&self) -> u64 {
        // Every range of pages that is mapped, sorted: those of the segments
        // (two may share a page), the stack's and the buffer's (which no
        // segment touches: `plan` checked).
        let mut spans = [(0, 0); MAX_SEGMENTS + 2];
        let segments = self.segments();
        for (span, segment) in spans.iter_mut().zip(segments) {
            *span = (segment.first_page(), segment.last_page() + PAGE_SIZE);
        }
        spans[segments.len()] = (STACK_TOP - STACK_PAGES * PAGE_SIZE, STACK_TOP);
        spans[segments.len() + 1] = (TASK_BUFFER, TASK_BUFFER + PAGE_SIZE);
        let spans = &mut spans[..segments.len() + 2];
        spans.sort_unstable();
        [1 << 21, 1 << 30, 1 << 39].into_iter().map(|reach| blocks_touched(spans, reach)).sum()
    }
    // ANCHOR_END: image_pool_slots

    // ANCHOR: load
    /// Loads the program: asks `sink` for each page and copies the segments'
    /// file bytes into it. Fails only if `sink` does.
    pub fn load<S: SegmentSink>(&self, sink: &mut S) -> Result<(), S::Error> {
        for (page, rights) in self.pages() {
            let memory = sink.page(page, rights)?;
            for segment in self.segments().iter().filter(|segment| segment.touches(page)) {
                self.copy_file_bytes(segment, page, memory);
            }
        }
        Ok(())
    }
    // ANCHOR_END: load

    // ANCHOR: copy_file_bytes
    /// Copies the part of `segment`'s file bytes that lies on `page`.
    fn copy_file_bytes(&self, segment: &Segment, page: u64, memory: &mut [u8; PAGE]) {
        let file_end = segment.address + segment.file_size;
        let start = segment.address.max(page);
        let end = file_end.min(page + PAGE_SIZE);
        if start >= end {
            return; // only zero-filled bytes of this segment are on the page
        }
        // `plan` checked that the file bytes are inside the image, so these
        // offsets are in bounds and fit a usize.
        let from = (segment.file_offset + (start - segment.address)) as usize;
        let len = (end - start) as usize;
        let to = (start - page) as usize;
        memory[to..to + len].copy_from_slice(&self.image[from..from + len]);
    }
    // ANCHOR_END: copy_file_bytes
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;
    use std::vec::Vec;

    const R: u32 = 4;
    const W: u32 = 2;
    const X: u32 = 1;

    /// A program header for [`elf_file`]: type, flags, address, the file
    /// bytes and the memory size.
    struct Header {
        kind: u32,
        flags: u32,
        address: u64,
        bytes: Vec<u8>,
        memory_size: u64,
    }

    fn load(flags: u32, address: u64, bytes: &[u8], memory_size: u64) -> Header {
        Header { kind: 1, flags, address, bytes: bytes.to_vec(), memory_size }
    }

    /// An ELF64 x86-64 executable with these program headers, the data of
    /// each following the header table in order.
    fn elf_file(entry: u64, headers: &[Header]) -> Vec<u8> {
        let mut file = vec![0u8; 64];
        file[..16].copy_from_slice(&[0x7f, b'E', b'L', b'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        file[16..18].copy_from_slice(&2u16.to_le_bytes()); // ET_EXEC
        file[18..20].copy_from_slice(&0x3eu16.to_le_bytes()); // x86-64
        file[20..24].copy_from_slice(&1u32.to_le_bytes());
        file[24..32].copy_from_slice(&entry.to_le_bytes());
        file[32..40].copy_from_slice(&64u64.to_le_bytes()); // program headers follow
        file[52..54].copy_from_slice(&64u16.to_le_bytes());
        file[54..56].copy_from_slice(&56u16.to_le_bytes());
        file[56..58].copy_from_slice(&(headers.len() as u16).to_le_bytes());
        let mut offset = 64 + 56 * headers.len() as u64;
        for header in headers {
            let mut entry = Vec::new();
            entry.extend_from_slice(&header.kind.to_le_bytes());
            entry.extend_from_slice(&header.flags.to_le_bytes());
            entry.extend_from_slice(&offset.to_le_bytes());
            entry.extend_from_slice(&header.address.to_le_bytes());
            entry.extend_from_slice(&header.address.to_le_bytes());
            entry.extend_from_slice(&(header.bytes.len() as u64).to_le_bytes());
            entry.extend_from_slice(&header.memory_size.to_le_bytes());
            entry.extend_from_slice(&4096u64.to_le_bytes());
            file.extend_from_slice(&entry);
            offset += header.bytes.len() as u64;
        }
        for header in headers {
            file.extend_from_slice(&header.bytes);
        }
        file
    }

    /// Bytes copied into 8-byte aligned memory, as the kernel's modules are
    /// (a `Vec<u8>` promises no alignment).
    struct Aligned {
        words: Vec<u64>,
        len: usize,
    }

    impl Aligned {
        fn new(bytes: &[u8]) -> Aligned {
            let mut words = vec![0u64; bytes.len().div_ceil(8)];
            for (word, chunk) in words.iter_mut().zip(bytes.chunks(8)) {
                let mut full = [0; 8];
                full[..chunk.len()].copy_from_slice(chunk);
                *word = u64::from_ne_bytes(full);
            }
            Aligned { words, len: bytes.len() }
        }

        fn bytes(&self) -> &[u8] {
            // SAFETY: the words own at least `len` initialised bytes, and a
            // u8 has no alignment or validity requirement.
            unsafe { std::slice::from_raw_parts(self.words.as_ptr().cast::<u8>(), self.len) }
        }
    }

    /// A sink that keeps every page it hands out, up to a limit.
    #[derive(Default)]
    struct Pages {
        pages: BTreeMap<u64, (Box<[u8; PAGE]>, MapRights)>,
        order: Vec<u64>,
        limit: usize,
    }

    impl SegmentSink for Pages {
        type Error = &'static str;

        fn page(&mut self, page: u64, rights: MapRights) -> Result<&mut [u8; PAGE], &'static str> {
            if self.pages.len() >= self.limit {
                return Err("out of pages");
            }
            assert!(page.is_multiple_of(PAGE_SIZE), "page aligned");
            self.order.push(page);
            let (memory, _) = self.pages.entry(page).or_insert((Box::new([0; PAGE]), rights));
            Ok(memory)
        }
    }

    fn load_all(plan: &LoadPlan, limit: usize) -> Result<Pages, &'static str> {
        let mut pages = Pages { limit, ..Pages::default() };
        plan.load(&mut pages)?;
        Ok(pages)
    }

    /// A text segment that does not start on a page, read-only data sharing
    /// its last page, data and zero-filled bss on further pages.
    fn typical_program() -> Vec<u8> {
        let text: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8 + 1).collect();
        elf_file(
            0x40_0123,
            &[
                load(R | X, 0x40_0100, &text, 5000),
                load(R, 0x40_0100 + 5000 + 16, b"read-only data", 14),
                Header { kind: 0x6474_e551, flags: R | W, address: 0, bytes: Vec::new(), memory_size: 0 },
                load(R | W, 0x40_3ff0, &[7; 40], 0x3000),
            ],
        )
    }

    #[test]
    fn plans_and_loads_a_typical_program() {
        let file = Aligned::new(&typical_program());
        let plan = plan(file.bytes()).expect("a valid program");
        assert_eq!(plan.entry(), 0x40_0123);
        assert_eq!(plan.segments().len(), 3, "the stack marker is not loaded");
        // Text 0x400000..0x402000 (2 pages, the second shared with rodata),
        // data 0x403000..0x407000 (4 pages).
        assert_eq!(plan.page_count(), 6);
        let pages: Vec<_> = plan.pages().collect();
        assert_eq!(
            pages,
            [
                (0x40_0000, MapRights::EXECUTABLE),
                (0x40_1000, MapRights::EXECUTABLE),
                (0x40_3000, MapRights::WRITABLE),
                (0x40_4000, MapRights::WRITABLE),
                (0x40_5000, MapRights::WRITABLE),
                (0x40_6000, MapRights::WRITABLE),
            ]
        );
        let loaded = load_all(&plan, 100).unwrap();
        assert_eq!(loaded.order, pages.iter().map(|&(page, _)| page).collect::<Vec<_>>(), "each page once");
        let byte = |address: u64| loaded.pages[&(address & !0xfff)].0[(address & 0xfff) as usize];
        assert_eq!(byte(0x40_00ff), 0, "before the text");
        assert_eq!(byte(0x40_0100), 1);
        assert_eq!(byte(0x40_0100 + 4999), (4999 % 251) as u8 + 1);
        assert_eq!(byte(0x40_0100 + 5000), 0, "gap between text and rodata");
        assert_eq!(byte(0x40_0100 + 5016), b'r');
        assert_eq!(byte(0x40_3ff0 + 39), 7);
        assert_eq!(byte(0x40_3ff0 + 40), 0, "bss is zero");
        assert_eq!(byte(0x40_6fef), 0);
    }

    #[test]
    fn refuses_what_is_not_an_x86_64_executable() {
        let good = typical_program();
        let with = |offset: usize, bytes: &[u8]| {
            let mut file = good.clone();
            file[offset..offset + bytes.len()].copy_from_slice(bytes);
            plan(Aligned::new(&file).bytes()).map(|_| ()).unwrap_err()
        };
        assert_eq!(with(0, b"\x7fELG"), ElfError::NotElf);
        assert_eq!(with(4, &[1]), ElfError::Not64Bit);
        assert_eq!(with(5, &[2]), ElfError::NotLittleEndian);
        assert_eq!(with(6, &[2]), ElfError::UnknownVersion);
        assert_eq!(with(16, &[3, 0]), ElfError::NotExecutable, "a shared object (PIE)");
        assert_eq!(with(18, &[0xb7, 0]), ElfError::NotX86_64);
        assert_eq!(with(54, &[32, 0]), ElfError::BadProgramHeaders);
        assert_eq!(with(32, &[4]), ElfError::BadProgramHeaders, "misaligned table");
        assert_eq!(with(32, &[0xff; 8]), ElfError::BadProgramHeaders, "table past the end");
        assert_eq!(with(56, &[65, 0]), ElfError::TooManyProgramHeaders(65));
        assert_eq!(plan(Aligned::new(&good[..63]).bytes()).unwrap_err(), ElfError::NotElf);
        let shifted = Aligned::new(&[&[0][..], &good].concat());
        assert_eq!(plan(&shifted.bytes()[1..]).unwrap_err(), ElfError::Misaligned);
    }

    #[test]
    fn checks_every_segment() {
        let text = [0x90u8; 16];
        let refused = |headers: &[Header], entry: u64| {
            plan(Aligned::new(&elf_file(entry, headers)).bytes()).unwrap_err()
        };
        assert_eq!(refused(&[], 0x40_0000), ElfError::NoSegments);
        assert_eq!(
            refused(&[load(R | X, 0x40_0000, &text, 8)], 0x40_0000),
            ElfError::FileSizeOverMemorySize { segment: 0 }
        );
        assert_eq!(
            refused(&[load(R | X, 0x800, &text, 16)], 0x800),
            ElfError::NotUserAddress { segment: 0 },
            "page 0"
        );
        let kernel = 0xffff_8000_0000_0000;
        assert_eq!(
            refused(&[load(R | X, kernel, &text, 16)], kernel),
            ElfError::NotUserAddress { segment: 0 }
        );
        assert_eq!(
            refused(&[load(R | X, USER_END - 8, &text, 16)], USER_END - 8),
            ElfError::NotUserAddress { segment: 0 },
            "runs past the user half"
        );
        assert_eq!(
            refused(&[load(R | X, 0x40_0000, &text, 16), load(R, u64::MAX - 4, &[], 16)], 0x40_0000),
            ElfError::NotUserAddress { segment: 1 },
            "wraps around"
        );
        assert_eq!(
            refused(&[load(R | X, 0x40_0000, &text, 16), load(R, 0x40_000f, &[], 4)], 0x40_0000),
            ElfError::Overlap { first: 0, second: 1 }
        );
        assert_eq!(
            refused(&[load(R | W | X, 0x40_0000, &text, 16)], 0x40_0000),
            ElfError::WritableAndExecutable { page: 0x40_0000 }
        );
        assert_eq!(
            refused(&[load(R | X, 0x40_0000, &text, 16), load(R | W, 0x40_0800, &text, 16)], 0x40_0000),
            ElfError::WritableAndExecutable { page: 0x40_0000 },
            "code and data sharing a page"
        );
        assert_eq!(
            refused(&[load(R, 0x40_0000, &text, 16)], 0x40_0000),
            ElfError::EntryNotExecutable { entry: 0x40_0000 }
        );
        assert_eq!(
            refused(&[load(R | X, 0x40_0000, &text, 4096)], 0x40_0010),
            ElfError::EntryNotExecutable { entry: 0x40_0010 },
            "entry in the zero-filled part"
        );
        let interpreter =
            Header { kind: 3, flags: R, address: 0x40_1000, bytes: b"/lib/ld.so".to_vec(), memory_size: 10 };
        assert_eq!(
            refused(&[load(R | X, 0x40_0000, &text, 16), interpreter], 0x40_0000),
            ElfError::NeedsDynamicLinking { segment: 1 }
        );
        let stack_page = STACK_TOP - PAGE_SIZE;
        let stack = ElfError::Reserved {
            segment: 1,
            what: "the stack and its guard page",
            start: STACK_TOP - (STACK_PAGES + 1) * PAGE_SIZE,
            end: STACK_TOP,
        };
        assert_eq!(
            refused(
                &[load(R | X, 0x40_0000, &text, 16), load(R | W, stack_page + 8, &text[..8], 8)],
                0x40_0000
            ),
            stack,
            "data on the stack's top page"
        );
        let guard = STACK_TOP - (STACK_PAGES + 1) * PAGE_SIZE;
        assert_eq!(
            refused(&[load(R | X, 0x40_0000, &text, 16), load(R, guard + 0xfff, &[], 1)], 0x40_0000),
            stack,
            "the last byte of the guard page"
        );
        assert_eq!(
            refused(&[load(R | X, 0x40_0000, &text, 16), load(R, guard - 0x10, &[], 0x11)], 0x40_0000),
            stack,
            "running onto the guard page from below"
        );
        assert_eq!(
            refused(&[load(R | X, 0x40_0000, &text, 16), load(R | W, TASK_BUFFER - 4, &[], 8)], 0x40_0000),
            ElfError::Reserved {
                segment: 1,
                what: "the task buffer",
                start: TASK_BUFFER,
                end: TASK_BUFFER + PAGE_SIZE
            },
            "running onto the task buffer"
        );
        let stack_error = refused(&[load(R | X, stack_page, &text, 16)], stack_page).to_string();
        assert!(stack_error.contains("segment 0 lies over the stack"), "{stack_error}");
        // Right beside them is allowed: the page below the guard, the
        // pages either side of the task buffer, the page above the stack.
        for (address, len) in [
            (guard - PAGE_SIZE, PAGE_SIZE),
            (TASK_BUFFER - PAGE_SIZE, PAGE_SIZE),
            (TASK_BUFFER + PAGE_SIZE, 16),
            (STACK_TOP, 16),
        ] {
            let file = elf_file(0x40_0000, &[load(R | X, 0x40_0000, &text, 16), load(R, address, &[], len)]);
            assert!(plan(Aligned::new(&file).bytes()).is_ok(), "{address:#x}, {len} bytes");
        }
        let many: Vec<Header> = (0..17).map(|i| load(R | X, 0x40_0000 + i * 0x1000, &text, 16)).collect();
        assert_eq!(refused(&many, 0x40_0000), ElfError::TooManySegments);

        // Bytes outside the file: patch the offset of the only segment.
        let mut file = elf_file(0x40_0000, &[load(R | X, 0x40_0000, &text, 16)]);
        let near_the_end = file.len() as u64 - 8;
        file[64 + 8..64 + 16].copy_from_slice(&near_the_end.to_le_bytes());
        assert_eq!(plan(Aligned::new(&file).bytes()).unwrap_err(), ElfError::OutsideFile { segment: 0 });
        file[64 + 8..64 + 16].copy_from_slice(&u64::MAX.to_le_bytes());
        assert_eq!(plan(Aligned::new(&file).bytes()).unwrap_err(), ElfError::OutsideFile { segment: 0 });
    }

    #[test]
    fn a_shared_page_gets_the_union_of_rights_unless_that_is_writable_and_executable() {
        // Text, then read-only data, then more read-only data, all on one page.
        let file = elf_file(
            0x40_0000,
            &[
                load(R | X, 0x40_0000, &[0xc3; 16], 16),
                load(R, 0x40_0010, b"ab", 2),
                load(R, 0x40_0020, b"cd", 8),
            ],
        );
        let file = Aligned::new(&file);
        let plan = plan(file.bytes()).unwrap();
        assert_eq!(plan.pages().collect::<Vec<_>>(), [(0x40_0000, MapRights::EXECUTABLE)]);
        let loaded = load_all(&plan, 10).unwrap();
        let page = &loaded.pages[&0x40_0000].0;
        assert_eq!(&page[..0x28], &[[0xc3; 16].as_slice(), b"ab", &[0; 14], b"cd", &[0; 6]].concat()[..]);

        // Data (writable) then read-only data then code on one page: the
        // union is writable and executable, though no two neighbours are.
        let file = elf_file(
            0x40_0020,
            &[
                load(R | W, 0x40_0000, b"w", 1),
                load(R, 0x40_0010, b"r", 1),
                load(R | X, 0x40_0020, &[0xc3], 1),
            ],
        );
        assert_eq!(
            super::plan(Aligned::new(&file).bytes()).unwrap_err(),
            ElfError::WritableAndExecutable { page: 0x40_0000 }
        );
    }

    #[test]
    fn two_writable_segments_then_code_on_one_page_are_refused() {
        // The rights of a shared page are the union of every segment on it:
        // W with W is still W, so adding X makes it writable and executable
        // (an exclusive or would cancel the two Ws and let the page pass).
        let file = elf_file(
            0x40_0020,
            &[
                load(R | W, 0x40_0000, b"w", 1),
                load(R | W, 0x40_0010, b"w", 1),
                load(R | X, 0x40_0020, &[0xc3], 1),
            ],
        );
        assert_eq!(
            plan(Aligned::new(&file).bytes()).unwrap_err(),
            ElfError::WritableAndExecutable { page: 0x40_0000 }
        );
    }

    #[test]
    fn takes_exactly_the_maximum_number_of_program_headers() {
        // One loadable segment and notes (ignored) up to the limit.
        let note = || Header { kind: 4, flags: R, address: 0, bytes: Vec::new(), memory_size: 0 };
        let mut headers = vec![load(R | X, 0x40_0000, &[0xc3; 16], 16)];
        headers.extend((1..MAX_PROGRAM_HEADERS).map(|_| note()));
        let file = Aligned::new(&elf_file(0x40_0000, &headers));
        let plan = plan(file.bytes()).expect("exactly the maximum is allowed");
        assert_eq!(plan.segments().len(), 1);
        headers.push(note());
        assert_eq!(
            super::plan(Aligned::new(&elf_file(0x40_0000, &headers)).bytes()).unwrap_err(),
            ElfError::TooManyProgramHeaders(MAX_PROGRAM_HEADERS as u16 + 1)
        );
    }

    #[test]
    fn refuses_a_program_header_table_at_offset_zero() {
        // At offset 0 the "table" is the file header itself.
        let mut file = elf_file(0x40_0000, &[load(R | X, 0x40_0000, &[0xc3; 16], 16)]);
        file[32..40].copy_from_slice(&0u64.to_le_bytes());
        assert_eq!(plan(Aligned::new(&file).bytes()).unwrap_err(), ElfError::BadProgramHeaders);
    }

    #[test]
    fn a_segment_ending_on_a_page_boundary_does_not_touch_the_next_page() {
        // Code fills two pages exactly; data starts on the very next page,
        // so no page is shared (were the end counted as a page of the code,
        // the data's page would be writable and executable).
        let file = elf_file(
            0x40_0000,
            &[load(R | X, 0x40_0000, &[0xc3; 16], 0x2000), load(R | W, 0x40_2000, &[5; 8], 0x1000)],
        );
        let file = Aligned::new(&file);
        let plan = plan(file.bytes()).expect("a valid program");
        assert_eq!(plan.segments()[0].last_page(), 0x40_1000);
        assert_eq!(plan.page_count(), 3);
        assert_eq!(
            plan.pages().collect::<Vec<_>>(),
            [
                (0x40_0000, MapRights::EXECUTABLE),
                (0x40_1000, MapRights::EXECUTABLE),
                (0x40_2000, MapRights::WRITABLE)
            ]
        );
        check_invariants(&plan, file.bytes());
    }

    #[test]
    fn loading_stops_at_the_first_refused_page() {
        let file = Aligned::new(&typical_program());
        let plan = plan(file.bytes()).unwrap();
        assert_eq!(load_all(&plan, 2).map(|_| ()), Err("out of pages"));
    }

    #[test]
    #[ignore = "needs the built program: cargo build --release -p stage5-rinit (make image-5 does it)"]
    fn plans_the_built_stage5_rinit() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../target/release/stage5-rinit");
        let bytes = std::fs::read(path).expect("build stage5-rinit first");
        let file = Aligned::new(&bytes);
        let plan = plan(file.bytes()).expect("the loader accepts rinit");
        assert!(plan.entry() >= abi::USER_IMAGE_BASE);
        check_invariants(&plan, file.bytes());
        std::println!("rinit: entry {:#x}, {} pages", plan.entry(), plan.page_count());
        for segment in plan.segments() {
            std::println!("  {segment:x?}");
        }
    }

    /// What every accepted plan must satisfy, and what loading it must give.
    fn check_invariants(plan: &LoadPlan, image: &[u8]) {
        let segments = plan.segments();
        assert!(!segments.is_empty() && segments.len() <= MAX_SEGMENTS);
        for segment in segments {
            assert!(segment.memory_size > 0 && segment.file_size <= segment.memory_size);
            assert!(segment.address >= PAGE_SIZE && segment.end() <= USER_END);
            for (start, end, _) in RESERVED {
                assert!(
                    segment.last_page() < start || segment.first_page() >= end,
                    "off {start:#x}..{end:#x}"
                );
            }
            if segment.file_size > 0 {
                assert!(segment.file_offset + segment.file_size <= image.len() as u64);
            }
        }
        for pair in segments.windows(2) {
            assert!(pair[0].end() <= pair[1].address, "sorted and disjoint");
        }
        let executable = segments.iter().filter(|s| s.rights.contains(MapRights::EXECUTABLE));
        assert!(executable.clone().any(|s| (s.address..s.address + s.file_size).contains(&plan.entry())));
        let pages: Vec<_> = plan.pages().take(1000).collect();
        for pair in pages.windows(2) {
            assert!(pair[0].0 < pair[1].0, "ascending, each once");
        }
        for &(page, rights) in &pages {
            assert!(!rights.contains(MapRights::WRITABLE | MapRights::EXECUTABLE));
            assert_eq!(rights, plan.page_rights(page));
        }
        if plan.page_count() > 64 {
            // Too big to compare byte by byte: loading must still stop
            // cleanly when the sink refuses.
            assert!(load_all(plan, 64).is_err());
            return;
        }
        assert_eq!(pages.len() as u64, plan.page_count());
        let loaded = load_all(plan, 64).unwrap();
        assert_eq!(loaded.order, pages.iter().map(|&(page, _)| page).collect::<Vec<_>>());
        for (&page, (memory, rights)) in &loaded.pages {
            assert_eq!(*rights, plan.page_rights(page));
            for (offset, &byte) in memory.iter().enumerate() {
                let address = page + offset as u64;
                let expected = segments
                    .iter()
                    .find(|s| (s.address..s.address + s.file_size).contains(&address))
                    .map_or(0, |s| image[(s.file_offset + address - s.address) as usize]);
                assert_eq!(byte, expected, "byte at {address:#x}");
            }
        }
    }

    fn shared_page_program() -> Vec<u8> {
        elf_file(
            0x40_0010,
            &[
                load(R | X, 0x40_0010, &[0xc3; 100], 100),
                load(R, 0x40_0074, b"constant", 8),
                load(R | W, 0x40_1ff0, &[9; 20], 5000),
            ],
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn corrupted_programs_never_panic(
            base in prop_oneof![Just(typical_program()), Just(shared_page_program())],
            flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
            header_flips in proptest::collection::vec((0usize..400, any::<u8>()), 0..4),
            cut in any::<prop::sample::Index>(),
            truncate in any::<bool>(),
        ) {
            let mut file = base;
            for (index, value) in flips {
                let at = index.index(file.len());
                file[at] = value;
            }
            for (at, value) in header_flips {
                if at < file.len() {
                    file[at] ^= value;
                }
            }
            if truncate {
                file.truncate(cut.index(file.len() + 1));
            }
            let file = Aligned::new(&file);
            if let Ok(plan) = plan(file.bytes()) {
                check_invariants(&plan, file.bytes());
            }
        }

        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600), elf_header in any::<bool>()) {
            let mut bytes = bytes;
            if elf_header && bytes.len() >= 64 {
                // Often get past the header checks, to reach the segments.
                bytes[..20].copy_from_slice(&typical_program()[..20]);
                bytes[32..40].copy_from_slice(&64u64.to_le_bytes());
                bytes[54..56].copy_from_slice(&56u16.to_le_bytes());
                bytes[56] %= 10;
                bytes[57] = 0;
            }
            let file = Aligned::new(&bytes);
            if let Ok(plan) = plan(file.bytes()) {
                check_invariants(&plan, file.bytes());
            }
        }
    }
}
