//! Reading what QEMU's `-kernel` loader hands over: Multiboot 1 boot
//! information, rewritten as a Multiboot2 block.
//!
//! GRUB boots the kernel through Multiboot2 (the ISO that `make run`, real
//! machines and UEFI use). QEMU can load a kernel itself, without firmware
//! menus or GRUB, which makes a test boot several times faster, but its
//! loader only speaks the older Multiboot 1. So the kernel carries both
//! headers (`common/runtime/src/boot.S`), and this module turns the
//! Multiboot 1 information into the Multiboot2 tags GRUB would have
//! written: the command line, the loader's name, the modules with their
//! command lines and the memory map. Every stage then reads one format,
//! through [`crate::bootinfo`].
//!
//! Multiboot 1 information is a 116-byte structure of flags and physical
//! pointers: to strings, to a table of modules, to a memory map. All of it
//! comes from outside the kernel, so every pointer is checked against the
//! memory that can be read, every walk is bounded, and what does not fit
//! is an error, never a panic.
//!
//! One convention differs: a Multiboot 1 loader (QEMU, and GRUB Legacy
//! before it) puts the file's name first on the kernel's and on each
//! module's command line, `/path/kernel.elf crash=panic`. GRUB's
//! Multiboot2 passes the arguments only, so the name is dropped.

/// The value a Multiboot 1 loader leaves in EAX.
pub const MULTIBOOT1_BOOTLOADER_MAGIC: u32 = 0x2BAD_B002;

/// The bits of the information's `flags` word: which fields are valid.
const HAS_MEMORY_SIZES: u32 = 1 << 0;
const HAS_COMMAND_LINE: u32 = 1 << 2;
const HAS_MODULES: u32 = 1 << 3;
const HAS_MEMORY_MAP: u32 = 1 << 6;
const HAS_LOADER_NAME: u32 = 1 << 9;

/// The bytes of the information structure read: up to and including the
/// loader name's pointer (at offset 64).
const INFO_SIZE: usize = 68;
/// The longest string read (a command line, a name), terminator included.
pub const MAX_STRING: usize = 4096;
/// The most modules accepted.
pub const MAX_MODULES: u32 = 64;
/// The most memory-map entries accepted.
pub const MAX_MEMORY_AREAS: usize = 256;

/// Multiboot2 tag types (the specification's numbers).
const TAG_END: u32 = 0;
const TAG_COMMAND_LINE: u32 = 1;
const TAG_LOADER_NAME: u32 = 2;
const TAG_MODULE: u32 = 3;
const TAG_MEMORY_MAP: u32 = 6;
/// Multiboot2's memory-area type for usable RAM (Multiboot 1 uses the
/// same numbers: 1 available, 3 ACPI reclaimable, 4 ACPI NVS, 5 defective).
const AREA_AVAILABLE: u32 = 1;

/// Physical memory as the translation reads it.
pub trait PhysicalMemory {
    /// The `len` bytes at physical `address`, or `None` if any of them
    /// lies outside the memory that can be read.
    fn bytes(&self, address: u64, len: usize) -> Option<&[u8]>;
}

/// Why Multiboot 1 information could not be translated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// Something the information points to (at this address) cannot be read.
    Unreadable(u64),
    /// A string has no terminator within [`MAX_STRING`] bytes.
    StringTooLong(u64),
    /// More modules than [`MAX_MODULES`], or more memory areas than
    /// [`MAX_MEMORY_AREAS`].
    TooMany,
    /// A module ends before it starts, or a memory-map entry is shorter
    /// than one.
    Inconsistent,
    /// The Multiboot2 block would not fit in the buffer.
    TooLarge,
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter) -> core::fmt::Result {
        match self {
            Self::Unreadable(address) => write!(f, "Multiboot 1 information unreadable at {address:#x}"),
            Self::StringTooLong(address) => write!(f, "Multiboot 1 string at {address:#x} has no end"),
            Self::TooMany => write!(f, "too many Multiboot 1 modules or memory areas"),
            Self::Inconsistent => write!(f, "inconsistent Multiboot 1 module or memory map"),
            Self::TooLarge => write!(f, "Multiboot 1 information too large to translate"),
        }
    }
}

/// Reads little-endian fields of the information.
fn u32_at(memory: &impl PhysicalMemory, address: u64) -> Result<u32, Error> {
    let bytes = memory.bytes(address, 4).ok_or(Error::Unreadable(address))?;
    Ok(u32::from_le_bytes(bytes.try_into().expect("4 bytes")))
}

/// The NUL-terminated string at `address`, without its terminator.
fn string_at(memory: &impl PhysicalMemory, address: u64) -> Result<&[u8], Error> {
    for len in 0..MAX_STRING {
        let byte = memory.bytes(address + len as u64, 1).ok_or(Error::Unreadable(address + len as u64))?;
        if byte[0] == 0 {
            return memory.bytes(address, len).ok_or(Error::Unreadable(address));
        }
    }
    Err(Error::StringTooLong(address))
}

/// A command line without the file name a Multiboot 1 loader puts first.
pub fn arguments(command_line: &[u8]) -> &[u8] {
    match command_line.iter().position(|&byte| byte == b' ') {
        Some(space) => command_line[space + 1..].trim_ascii_start(),
        None => &[],
    }
}

/// Writes Multiboot2 tags into a buffer: each a type, a size, a payload,
/// padded to 8 bytes.
struct TagWriter<'a> {
    out: &'a mut [u8],
    len: usize,
}

impl TagWriter<'_> {
    fn put(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let end =
            self.len.checked_add(bytes.len()).filter(|&end| end <= self.out.len()).ok_or(Error::TooLarge)?;
        self.out[self.len..end].copy_from_slice(bytes);
        self.len = end;
        Ok(())
    }

    /// Starts a tag; returns where its size goes ([`TagWriter::finish`]).
    fn begin(&mut self, kind: u32) -> Result<usize, Error> {
        let start = self.len;
        self.put(&kind.to_le_bytes())?;
        self.put(&0u32.to_le_bytes())?;
        Ok(start)
    }

    /// Writes the size of the tag begun at `start` and pads to 8 bytes.
    fn finish(&mut self, start: usize) -> Result<(), Error> {
        let size = (self.len - start) as u32;
        self.out[start + 4..start + 8].copy_from_slice(&size.to_le_bytes());
        while !self.len.is_multiple_of(8) {
            self.put(&[0])?;
        }
        Ok(())
    }

    /// A tag whose payload is a string and its terminator.
    fn string_tag(&mut self, kind: u32, text: &[u8]) -> Result<(), Error> {
        let start = self.begin(kind)?;
        self.put(text)?;
        self.put(&[0])?;
        self.finish(start)
    }

    /// One memory-map entry: start, length, type, reserved.
    fn memory_area(&mut self, start: u64, length: u64, kind: u32) -> Result<(), Error> {
        self.put(&start.to_le_bytes())?;
        self.put(&length.to_le_bytes())?;
        self.put(&kind.to_le_bytes())?;
        self.put(&0u32.to_le_bytes())
    }
}

// ANCHOR: translate
/// Translates the Multiboot 1 information at physical `info_address` into
/// a Multiboot2 boot information block in `out` (which must be 8-byte
/// aligned for the `multiboot2` crate to read it); returns its size.
pub fn translate(memory: &impl PhysicalMemory, info_address: u64, out: &mut [u8]) -> Result<usize, Error> {
    let info = memory.bytes(info_address, INFO_SIZE).ok_or(Error::Unreadable(info_address))?;
    let field = |offset: usize| u32::from_le_bytes(info[offset..offset + 4].try_into().expect("4 bytes"));
    let flags = field(0);
    let mut tags = TagWriter { out, len: 0 };
    tags.put(&[0; 8])?; // the total size and a reserved word, written last

    if flags & HAS_COMMAND_LINE != 0 {
        let line = string_at(memory, u64::from(field(16)))?;
        tags.string_tag(TAG_COMMAND_LINE, arguments(line))?;
    }
    if flags & HAS_LOADER_NAME != 0 {
        tags.string_tag(TAG_LOADER_NAME, string_at(memory, u64::from(field(64)))?)?;
    }
    if flags & HAS_MODULES != 0 {
        let (count, table) = (field(20), u64::from(field(24)));
        if count > MAX_MODULES {
            return Err(Error::TooMany);
        }
        for index in 0..u64::from(count) {
            // Each entry: start, end, command line, reserved.
            let entry = table + 16 * index;
            let (start, end) = (u32_at(memory, entry)?, u32_at(memory, entry + 4)?);
            if end < start {
                return Err(Error::Inconsistent);
            }
            let line = string_at(memory, u64::from(u32_at(memory, entry + 8)?))?;
            let tag = tags.begin(TAG_MODULE)?;
            tags.put(&start.to_le_bytes())?;
            tags.put(&end.to_le_bytes())?;
            tags.put(arguments(line))?;
            tags.put(&[0])?;
            tags.finish(tag)?;
        }
    }
    if flags & (HAS_MEMORY_MAP | HAS_MEMORY_SIZES) != 0 {
        let tag = tags.begin(TAG_MEMORY_MAP)?;
        tags.put(&24u32.to_le_bytes())?; // entry size
        tags.put(&0u32.to_le_bytes())?; // entry version
        if flags & HAS_MEMORY_MAP != 0 {
            write_memory_map(memory, u64::from(field(48)), field(44), &mut tags)?;
        } else {
            // No map, only the two sizes (in KiB) below and above 1 MiB.
            tags.memory_area(0, u64::from(field(4)) * 1024, AREA_AVAILABLE)?;
            tags.memory_area(1 << 20, u64::from(field(8)) * 1024, AREA_AVAILABLE)?;
        }
        tags.finish(tag)?;
    }
    let end = tags.begin(TAG_END)?;
    tags.finish(end)?;
    let total = tags.len;
    out[..4].copy_from_slice(&(total as u32).to_le_bytes());
    Ok(total)
}
// ANCHOR_END: translate

/// Copies the memory map of `length` bytes at `address` into `tags`. Each
/// entry is a size (of the rest of the entry, at least 20), then the
/// area's start, length and type; the next entry follows the size.
fn write_memory_map(
    memory: &impl PhysicalMemory,
    address: u64,
    length: u32,
    tags: &mut TagWriter,
) -> Result<(), Error> {
    let mut offset = 0u64;
    let mut areas = 0;
    while offset + 4 <= u64::from(length) {
        if areas == MAX_MEMORY_AREAS {
            return Err(Error::TooMany);
        }
        let entry = address + offset;
        let size = u32_at(memory, entry)?;
        if size < 20 {
            return Err(Error::Inconsistent);
        }
        let bytes = memory.bytes(entry + 4, 20).ok_or(Error::Unreadable(entry + 4))?;
        let start = u64::from_le_bytes(bytes[0..8].try_into().expect("8 bytes"));
        let len = u64::from_le_bytes(bytes[8..16].try_into().expect("8 bytes"));
        let kind = u32::from_le_bytes(bytes[16..20].try_into().expect("4 bytes"));
        tags.memory_area(start, len, kind)?;
        offset += 4 + u64::from(size);
        areas += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bootinfo;
    use multiboot2::{BootInformation, BootInformationHeader};
    use proptest::prelude::*;

    /// Memory for the tests: `bytes` at physical address `base`.
    struct TestMemory {
        base: u64,
        bytes: Vec<u8>,
    }

    impl PhysicalMemory for TestMemory {
        fn bytes(&self, address: u64, len: usize) -> Option<&[u8]> {
            let start = usize::try_from(address.checked_sub(self.base)?).ok()?;
            self.bytes.get(start..start.checked_add(len)?)
        }
    }

    const BASE: u64 = 0x9000;

    /// Information laid out as QEMU's loader lays it out: the structure
    /// at `BASE`, then strings, the module table and the memory map.
    fn qemu_like_information(command_line: &str, modules: &[(u32, u32, &str)]) -> TestMemory {
        let mut bytes = vec![0u8; 4096];
        let mut next = 0x200usize;
        let mut string = |bytes: &mut Vec<u8>, text: &str| {
            let address = BASE as usize + next;
            bytes[next..next + text.len()].copy_from_slice(text.as_bytes());
            next += text.len() + 1;
            address as u32
        };
        let put = |bytes: &mut Vec<u8>, offset: usize, value: u32| {
            bytes[offset..offset + 4].copy_from_slice(&value.to_le_bytes())
        };
        let flags = HAS_MEMORY_SIZES | HAS_COMMAND_LINE | HAS_MODULES | HAS_MEMORY_MAP | HAS_LOADER_NAME;
        put(&mut bytes, 0, flags);
        put(&mut bytes, 4, 639);
        put(&mut bytes, 8, 130048);
        let line = string(&mut bytes, command_line);
        put(&mut bytes, 16, line);
        let name = string(&mut bytes, "qemu");
        put(&mut bytes, 64, name);
        let table = 0x800;
        put(&mut bytes, 20, modules.len() as u32);
        put(&mut bytes, 24, BASE as u32 + table as u32);
        for (i, &(start, end, text)) in modules.iter().enumerate() {
            let line = string(&mut bytes, text);
            put(&mut bytes, table + 16 * i, start);
            put(&mut bytes, table + 16 * i + 4, end);
            put(&mut bytes, table + 16 * i + 8, line);
        }
        let map = 0xA00;
        let areas: [(u64, u64, u32); 3] = [(0, 0x9fc00, 1), (0x9fc00, 0x400, 2), (0x100000, 0x7ee0000, 1)];
        for (i, &(start, len, kind)) in areas.iter().enumerate() {
            let entry = map + 24 * i;
            put(&mut bytes, entry, 20);
            bytes[entry + 4..entry + 12].copy_from_slice(&start.to_le_bytes());
            bytes[entry + 12..entry + 20].copy_from_slice(&len.to_le_bytes());
            put(&mut bytes, entry + 20, kind);
        }
        put(&mut bytes, 44, 72);
        put(&mut bytes, 48, BASE as u32 + map as u32);
        TestMemory { base: BASE, bytes }
    }

    #[repr(C, align(8))]
    struct Block([u8; 8192]);

    /// Translates, then reads the result as the kernel does and returns
    /// the boot report.
    fn report(memory: &TestMemory) -> Result<String, Error> {
        let mut block = Box::new(Block([0; 8192]));
        let size = translate(memory, BASE, &mut block.0)?;
        assert!(size.is_multiple_of(8) && size <= block.0.len());
        // SAFETY: `block` holds a block `translate` wrote: aligned, sized,
        // closed by an end tag; it outlives `info`.
        let info = unsafe { BootInformation::load(block.0.as_ptr().cast::<BootInformationHeader>()) }
            .expect("the translation is a valid Multiboot2 block");
        assert_eq!(info.total_size(), size);
        let mut text = String::new();
        bootinfo::write_report(&mut text, &info).unwrap();
        Ok(text)
    }

    #[test]
    fn translates_what_qemu_passes() {
        let memory = qemu_like_information(
            "/work/build/stage-6/kernel.elf crash=panic bench",
            &[
                (0x200000, 0x201000, "/work/build/stage-6/modules/rinit rinit"),
                (0x201000, 0x203000, "/x/hello"),
            ],
        );
        let text = report(&memory).unwrap();
        for line in [
            "bootloader: qemu",
            "command line: \"crash=panic bench\"",
            "memory map: 3 regions",
            "  0x000000100000 - 0x000007fe0000  available           129920 KiB",
            "module: 0x200000 - 0x201000 (4096 bytes) \"rinit\"",
            "module: 0x201000 - 0x203000 (8192 bytes) \"\"",
            "modules: 2",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?} in:\n{text}");
        }
    }

    #[test]
    fn the_file_name_is_dropped_from_command_lines() {
        assert_eq!(arguments(b"/boot/kernel.elf crash=panic x"), b"crash=panic x");
        assert_eq!(arguments(b"/boot/kernel.elf "), b"");
        assert_eq!(arguments(b"/boot/kernel.elf"), b"");
        assert_eq!(arguments(b""), b"");
        assert_eq!(arguments(b"k  two"), b"two");
    }

    #[test]
    fn without_a_map_the_memory_sizes_make_one() {
        let mut memory = qemu_like_information("k", &[]);
        memory.bytes[0..4].copy_from_slice(&HAS_MEMORY_SIZES.to_le_bytes());
        let text = report(&memory).unwrap();
        assert!(text.contains("memory map: 2 regions"), "{text}");
        assert!(text.contains("usable memory: 130687 KiB"), "{text}");
        memory.bytes[0..4].copy_from_slice(&0u32.to_le_bytes());
        let text = report(&memory).unwrap();
        assert!(text.contains("command line: \"\"") && text.contains("memory map: 0 regions"), "{text}");
    }

    #[test]
    fn bad_information_is_refused() {
        let set = |memory: &mut TestMemory, offset: usize, value: u32| {
            memory.bytes[offset..offset + 4].copy_from_slice(&value.to_le_bytes())
        };
        let fresh = || qemu_like_information("k a", &[(0x200000, 0x201000, "m m")]);
        let mut block = Box::new(Block([0; 8192]));
        let mut memory = fresh();
        set(&mut memory, 16, 0x10_0000);
        assert_eq!(translate(&memory, BASE, &mut block.0), Err(Error::Unreadable(0x10_0000)));
        let mut memory = fresh();
        set(&mut memory, 20, MAX_MODULES + 1);
        assert_eq!(translate(&memory, BASE, &mut block.0), Err(Error::TooMany));
        let mut memory = fresh();
        set(&mut memory, 0x800 + 4, 0x1000);
        assert_eq!(translate(&memory, BASE, &mut block.0), Err(Error::Inconsistent));
        let mut memory = fresh();
        set(&mut memory, 0xA00, 8);
        assert_eq!(translate(&memory, BASE, &mut block.0), Err(Error::Inconsistent));
        let mut memory = fresh();
        memory.bytes[0x200..].fill(b'x');
        assert_eq!(translate(&memory, BASE, &mut block.0), Err(Error::Unreadable(BASE + 4096)));
        let memory = fresh();
        assert_eq!(translate(&memory, BASE + 4090, &mut block.0), Err(Error::Unreadable(BASE + 4090)));
        assert_eq!(translate(&memory, BASE, &mut block.0[..64]), Err(Error::TooLarge));
        let mut long = vec![b'a'; 2 * MAX_STRING];
        long.push(0);
        let memory = TestMemory { base: 0, bytes: long };
        assert_eq!(string_at(&memory, 0), Err(Error::StringTooLong(0)));
    }

    proptest! {
        /// Garbage in the structure and everything it points to: the
        /// translation never panics, and what it accepts is a block the
        /// `multiboot2` crate reads.
        #[test]
        fn garbage_is_refused_or_translated(
            garbage in proptest::collection::vec(any::<u8>(), 0..1024),
            base in 0u64..0x2000,
        ) {
            let memory = TestMemory { base: 0x1000, bytes: garbage };
            let mut block = Box::new(Block([0; 8192]));
            if let Ok(size) = translate(&memory, 0x1000 + base, &mut block.0) {
                // SAFETY: as in `report`.
                let info = unsafe { BootInformation::load(block.0.as_ptr().cast::<BootInformationHeader>()) };
                prop_assert!(info.is_ok());
                prop_assert_eq!(info.unwrap().total_size(), size);
            }
        }

        /// A valid block with some of its bytes changed at random, so that
        /// pointers mostly still land in memory: refused or translated.
        #[test]
        fn damaged_information_is_refused_or_translated(
            changes in proptest::collection::vec((0usize..4096, any::<u8>()), 1..32),
        ) {
            let mut memory = qemu_like_information("/k a=1", &[(0x200000, 0x201000, "/m m")]);
            for (offset, value) in changes {
                memory.bytes[offset] = value;
            }
            let mut block = Box::new(Block([0; 8192]));
            if let Ok(size) = translate(&memory, BASE, &mut block.0) {
                // SAFETY: as in `report`.
                let info = unsafe { BootInformation::load(block.0.as_ptr().cast::<BootInformationHeader>()) };
                prop_assert!(info.is_ok());
                prop_assert_eq!(info.unwrap().total_size(), size);
            }
        }
    }
}
