//! Reading what GRUB tells the kernel: the Multiboot2 boot information.
//!
//! GRUB leaves a block of tagged records in memory and passes its physical
//! address in EBX (the boot stub hands it to `kmain`). The `multiboot2` crate
//! parses the tags; this module finds the block, checks it, and prints what a
//! kernel needs to know: who booted it, with which command line, what memory
//! the machine has and which modules were loaded.
//!
//! The fast test boots come through QEMU's own loader and Multiboot 1
//! instead: [`load`] tells them apart by the magic and has
//! [`crate::multiboot1`] rewrite that information as a Multiboot2 block, so
//! the rest of the kernel reads one format.

use crate::memory::{BOOT_WINDOW_SIZE, KERNEL_VMA, Span, boot_window};
use crate::memory_map::{MAX_REGIONS, MemoryMap};
use crate::multiboot1::{self, MULTIBOOT1_BOOTLOADER_MAGIC};
use core::fmt::{self, Write};
use multiboot2::{BootInformation, BootInformationHeader, MemoryArea, MemoryAreaType};
use spin::Once;

/// The value a Multiboot2 loader leaves in EAX.
pub const MULTIBOOT2_BOOTLOADER_MAGIC: u32 = 0x36D7_6289;

/// Why the boot information could not be used.
#[derive(Debug, PartialEq, Eq)]
pub enum BootInfoError {
    /// EAX did not hold the Multiboot2 magic: some other loader started us.
    WrongMagic(u32),
    /// The block lies where the boot page tables do not reach.
    OutOfReach(u64),
    /// The `multiboot2` crate rejected the block.
    Malformed,
    /// Multiboot 1 information that could not be translated.
    Multiboot1(multiboot1::Error),
}

impl fmt::Display for BootInfoError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Self::WrongMagic(magic) => write!(f, "wrong Multiboot2 magic {magic:#x}"),
            Self::OutOfReach(address) => {
                write!(f, "boot information at {address:#x} is beyond the boot mapping")
            }
            Self::Malformed => write!(f, "malformed boot information"),
            Self::Multiboot1(error) => write!(f, "{error}"),
        }
    }
}

// ANCHOR: load
/// Checks the magic and parses the boot information at physical `address`.
///
/// # Safety
/// `magic` and `address` must be the values the loader passed in EAX and
/// EBX, and the memory of the block must not have been reused since.
pub unsafe fn load(magic: u32, address: u64) -> Result<BootInformation<'static>, BootInfoError> {
    if magic == MULTIBOOT1_BOOTLOADER_MAGIC {
        // SAFETY: the caller's promise, passed on.
        return unsafe { load_multiboot1(address) };
    }
    if magic != MULTIBOOT2_BOOTLOADER_MAGIC {
        return Err(BootInfoError::WrongMagic(magic));
    }
    let virtual_address = boot_window(address).ok_or(BootInfoError::OutOfReach(address))?;
    // SAFETY: the magic proves a Multiboot2 loader put a block at `address`,
    // the boot window maps it, and the caller promises it is intact. The
    // crate checks the block's size and alignment itself.
    unsafe { BootInformation::load(virtual_address as *const BootInformationHeader) }
        .map_err(|_| BootInfoError::Malformed)
}
// ANCHOR_END: load

/// The Multiboot2 block a Multiboot 1 boot's information is rewritten
/// into: in the kernel image (its bss), so it needs no reservation of its
/// own; the original information is not used again once it is read.
#[repr(C, align(8))]
struct Translated([u8; 8192]);

static TRANSLATED: Once<Result<Translated, multiboot1::Error>> = Once::new();

/// Physical memory through the boot window (the first GiB, mapped at
/// [`KERNEL_VMA`] by the boot page tables).
struct BootWindow;

impl multiboot1::PhysicalMemory for BootWindow {
    fn bytes(&self, address: u64, len: usize) -> Option<&[u8]> {
        let end = address.checked_add(len as u64)?;
        if end > BOOT_WINDOW_SIZE {
            return None;
        }
        // SAFETY: the boot page tables map all of the first GiB, read-write,
        // at KERNEL_VMA; what lies there the kernel only reads, and nothing
        // writes to it while the slice lives (the boot is single-threaded).
        Some(unsafe { core::slice::from_raw_parts((KERNEL_VMA + address) as *const u8, len) })
    }
}

/// [`load`] for a Multiboot 1 loader (QEMU's `-kernel`): translates its
/// information once, then parses the translation like GRUB's block.
///
/// # Safety
/// As for [`load`].
unsafe fn load_multiboot1(address: u64) -> Result<BootInformation<'static>, BootInfoError> {
    let translated = TRANSLATED.call_once(|| {
        let mut block = Translated([0; 8192]);
        multiboot1::translate(&BootWindow, address, &mut block.0).map(|_| block)
    });
    let block = translated.as_ref().map_err(|&error| BootInfoError::Multiboot1(error))?;
    // SAFETY: `translate` wrote a complete block (size, tags, end tag) into
    // this 8-byte aligned static buffer, which is never written again.
    unsafe { BootInformation::load(block.0.as_ptr().cast::<BootInformationHeader>()) }
        .map_err(|_| BootInfoError::Malformed)
}

/// A short name for a memory-map region type.
pub fn region_name(kind: MemoryAreaType) -> &'static str {
    match kind {
        MemoryAreaType::Available => "available",
        MemoryAreaType::Reserved => "reserved",
        MemoryAreaType::AcpiAvailable => "ACPI reclaimable",
        MemoryAreaType::ReservedHibernate => "ACPI NVS",
        MemoryAreaType::Defective => "defective",
        MemoryAreaType::Custom(_) => "other",
    }
}

/// The regions of the memory map (none when the loader passed no map).
pub fn memory_areas<'a>(info: &'a BootInformation) -> &'a [MemoryArea] {
    info.memory_map_tag().map(|tag| tag.memory_areas()).unwrap_or(&[])
}

// ANCHOR: usable_memory
/// The usable RAM of the memory map: the available regions merged where
/// they overlap or touch, minus every region of any other type (see
/// [`crate::memory_map`]). Sorted, disjoint and apart.
pub fn usable_ram(areas: &[MemoryArea]) -> MemoryMap {
    let span =
        |area: &MemoryArea| Span::new(area.start_address(), area.start_address().saturating_add(area.size()));
    let available = areas.iter().filter(|area| area.typ() == MemoryAreaType::Available);
    let reserved = areas.iter().filter(|area| area.typ() != MemoryAreaType::Available);
    MemoryMap::sanitize(available.map(span), reserved.map(span))
}

/// The regions of usable RAM, lowest first: [`usable_ram`]'s ranges.
pub fn available_regions(areas: &[MemoryArea]) -> impl Iterator<Item = Span> + '_ {
    usable_ram(areas).into_iter()
}

/// The number of bytes of usable RAM.
pub fn usable_memory(areas: &[MemoryArea]) -> u64 {
    available_regions(areas).map(|region| region.len()).sum()
}
// ANCHOR_END: usable_memory

/// The end of the highest available RAM region (0 without a memory map):
/// how far a direct map of RAM must reach.
pub fn available_ram_end(info: &BootInformation) -> u64 {
    available_regions(memory_areas(info)).map(|region| region.end).max().unwrap_or(0)
}

/// Writes the report the kernel prints at boot: loader, command line, the
/// memory map, the modules and the usable memory total.
pub fn write_report(out: &mut impl Write, info: &BootInformation) -> fmt::Result {
    let loader = info.boot_loader_name_tag().and_then(|tag| tag.name().ok());
    writeln!(out, "bootloader: {}", loader.unwrap_or("(not given)"))?;
    let command_line = info.command_line_tag().and_then(|tag| tag.cmdline().ok());
    writeln!(out, "command line: \"{}\"", command_line.unwrap_or(""))?;

    let areas = memory_areas(info);
    writeln!(out, "memory map: {} regions", areas.len())?;
    for area in areas {
        writeln!(
            out,
            "  {:#014x} - {:#014x}  {:<16} {:>9} KiB",
            area.start_address(),
            area.end_address(),
            region_name(area.typ()),
            area.size() / 1024
        )?;
    }

    let mut modules = 0;
    for module in info.module_tags() {
        modules += 1;
        writeln!(
            out,
            "module: {:#x} - {:#x} ({} bytes) \"{}\"",
            module.start_address(),
            module.end_address(),
            module.module_size(),
            module.cmdline().unwrap_or("?")
        )?;
    }
    writeln!(out, "modules: {modules}")?;
    let left_out = usable_ram(areas).left_out();
    if left_out > 0 {
        writeln!(out, "warning: RAM left out {left_out} times: more than {MAX_REGIONS} usable ranges")?;
    }
    writeln!(out, "usable memory: {} KiB", usable_memory(areas) / 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_areas() -> Vec<MemoryArea> {
        vec![
            MemoryArea::new(0, 0x9fc00, MemoryAreaType::Available),
            MemoryArea::new(0x9fc00, 0x400, MemoryAreaType::Reserved),
            MemoryArea::new(0x100000, 0x7ee0000, MemoryAreaType::Available),
            MemoryArea::new(0x7fe0000, 0x20000, MemoryAreaType::Reserved),
            MemoryArea::new(0xfffc0000, 0x40000, MemoryAreaType::AcpiAvailable),
        ]
    }

    #[test]
    fn usable_memory_adds_up_available_regions_only() {
        assert_eq!(usable_memory(&sample_areas()), 0x9fc00 + 0x7ee0000);
        assert_eq!(usable_memory(&[]), 0);
    }

    /// A careless firmware's map: available regions out of order, one
    /// overlapping another, one touching another, and reserved regions
    /// inside and across available ones.
    #[test]
    fn usable_ram_is_the_sanitised_map() {
        let areas = [
            MemoryArea::new(0x100000, 0x300000, MemoryAreaType::Available),
            MemoryArea::new(0, 0x9fc00, MemoryAreaType::Available),
            MemoryArea::new(0x200000, 0x300000, MemoryAreaType::Available),
            MemoryArea::new(0x500000, 0x100000, MemoryAreaType::Available),
            MemoryArea::new(0x300000, 0x1000, MemoryAreaType::Reserved),
            MemoryArea::new(0x580000, 0x100000, MemoryAreaType::AcpiAvailable),
        ];
        let regions: Vec<Span> = available_regions(&areas).collect();
        assert_eq!(
            regions,
            [Span::new(0, 0x9fc00), Span::new(0x100000, 0x300000), Span::new(0x301000, 0x580000)]
        );
        assert_eq!(usable_memory(&areas), 0x9fc00 + 0x200000 + 0x27f000);
        assert_eq!(usable_ram(&areas).left_out(), 0);
    }

    #[test]
    fn rejects_a_wrong_magic() {
        // SAFETY: with a wrong magic `load` returns before touching memory.
        let result = unsafe { load(0x1BAD_B002, 0x1000) };
        assert_eq!(result.err(), Some(BootInfoError::WrongMagic(0x1BAD_B002)));
    }

    /// A Multiboot2 boot information block, written byte by byte as GRUB
    /// writes it: a header (total size, reserved), then 8-byte aligned tags
    /// (type, size, payload), closed by an end tag.
    #[repr(C, align(8))]
    struct Block([u8; 512]);

    fn boot_information_block(areas: &[(u64, u64, u32)]) -> Box<Block> {
        fn tag(bytes: &mut Vec<u8>, kind: u32, payload: &[u8]) {
            bytes.extend_from_slice(&kind.to_le_bytes());
            bytes.extend_from_slice(&(8 + payload.len() as u32).to_le_bytes());
            bytes.extend_from_slice(payload);
            bytes.resize(bytes.len().next_multiple_of(8), 0);
        }
        let mut bytes = vec![0; 8];
        tag(&mut bytes, 1, b"crash=page-fault\0");
        tag(&mut bytes, 2, b"GRUB 2.06\0");
        let mut module = Vec::new();
        module.extend_from_slice(&0x200000u32.to_le_bytes());
        module.extend_from_slice(&0x201000u32.to_le_bytes());
        module.extend_from_slice(b"rinit\0");
        tag(&mut bytes, 3, &module);
        let mut memory_map = Vec::new();
        memory_map.extend_from_slice(&24u32.to_le_bytes()); // entry size
        memory_map.extend_from_slice(&0u32.to_le_bytes()); // entry version
        for &(start, length, kind) in areas {
            memory_map.extend_from_slice(&start.to_le_bytes());
            memory_map.extend_from_slice(&length.to_le_bytes());
            memory_map.extend_from_slice(&kind.to_le_bytes());
            memory_map.extend_from_slice(&0u32.to_le_bytes());
        }
        tag(&mut bytes, 6, &memory_map);
        tag(&mut bytes, 0, &[]);
        let total = bytes.len() as u32;
        bytes[..4].copy_from_slice(&total.to_le_bytes());
        let mut block = Box::new(Block([0; 512]));
        block.0[..bytes.len()].copy_from_slice(&bytes);
        block
    }

    #[test]
    fn report_lists_everything_a_loader_passed() {
        let areas = [
            (0, 0x9fc00, 1),
            (0x9fc00, 0x400, 2),
            (0x100000, 0x7ee0000, 1),
            (0x7fe0000, 0x20000, 2),
            (0xfffc0000, 0x40000, 3),
        ];
        let block = boot_information_block(&areas);
        // SAFETY: the block is a valid, aligned boot information block that
        // outlives `info`.
        let info = unsafe { BootInformation::load(block.0.as_ptr().cast()) }.unwrap();
        let mut report = String::new();
        write_report(&mut report, &info).unwrap();
        assert_eq!(available_ram_end(&info), 0x7fe_0000);

        let expected_lines = [
            "bootloader: GRUB 2.06",
            "command line: \"crash=page-fault\"",
            "memory map: 5 regions",
            "  0x000000000000 - 0x00000009fc00  available              639 KiB",
            "  0x0000fffc0000 - 0x000100000000  ACPI reclaimable       256 KiB",
            "module: 0x200000 - 0x201000 (4096 bytes) \"rinit\"",
            "modules: 1",
            "usable memory: 130559 KiB",
        ];
        for line in expected_lines {
            assert!(report.lines().any(|l| l == line), "missing {line:?} in:\n{report}");
        }
    }
}
