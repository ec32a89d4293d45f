//! Facts about a kernel image file (how much memory it occupies once loaded,
//! whether GRUB will accept it as a Multiboot2 kernel, whether QEMU's
//! Multiboot 1 loader puts it where it belongs) and about an ISO (which
//! firmware can boot it).

use xmas_elf::ElfFile;
use xmas_elf::program::Type;

/// The Multiboot2 header magic.
const MULTIBOOT2_HEADER_MAGIC: u32 = 0xE852_50D6;
/// GRUB searches the first 32 KiB of the file for the header.
const MULTIBOOT2_SEARCH_LIMIT: usize = 32 * 1024;

/// The bytes the image occupies in memory: the sum of its loadable
/// segments' memory sizes (code, data and bss; no debug information).
pub fn loaded_size(elf_bytes: &[u8]) -> Result<u64, String> {
    let elf = ElfFile::new(elf_bytes).map_err(|error| format!("not an ELF file: {error}"))?;
    let mut total = 0;
    for header in elf.program_iter() {
        if header.get_type() == Ok(Type::Load) {
            total += header.mem_size();
        }
    }
    Ok(total)
}

/// The file offset of a valid Multiboot2 header (magic, then a checksum that
/// makes magic + architecture + length + checksum zero), if there is one
/// where GRUB looks for it: 8-byte aligned in the first 32 KiB.
pub fn multiboot2_header_offset(elf_bytes: &[u8]) -> Option<usize> {
    let word = |offset: usize| -> Option<u32> {
        let bytes = elf_bytes.get(offset..offset + 4)?;
        Some(u32::from_le_bytes(bytes.try_into().ok()?))
    };
    let limit = elf_bytes.len().min(MULTIBOOT2_SEARCH_LIMIT);
    (0..limit).step_by(8).find(|&offset| {
        word(offset) == Some(MULTIBOOT2_HEADER_MAGIC)
            && match (word(offset + 4), word(offset + 8), word(offset + 12)) {
                (Some(architecture), Some(length), Some(checksum)) => {
                    MULTIBOOT2_HEADER_MAGIC
                        .wrapping_add(architecture)
                        .wrapping_add(length)
                        .wrapping_add(checksum)
                        == 0
                }
                _ => false,
            }
    })
}

/// The address of the symbol `name` in the ELF file's symbol table (for
/// a kernel symbol of the boot stub, its physical address).
pub fn symbol_address(elf_bytes: &[u8], name: &str) -> Result<u64, String> {
    use xmas_elf::sections::SectionData;
    use xmas_elf::symbol_table::Entry;
    let elf = ElfFile::new(elf_bytes).map_err(|error| format!("not an ELF file: {error}"))?;
    for section in elf.section_iter() {
        if let Ok(SectionData::SymbolTable64(symbols)) = section.get_data(&elf) {
            for symbol in symbols {
                if symbol.get_name(&elf) == Ok(name) {
                    return Ok(symbol.value());
                }
            }
        }
    }
    Err(format!("no symbol {name} in the ELF file"))
}

/// The Multiboot 1 header magic.
const MULTIBOOT1_HEADER_MAGIC: u32 = 0x1BAD_B002;
/// A Multiboot 1 loader searches the first 8 KiB of the file.
const MULTIBOOT1_SEARCH_LIMIT: usize = 8 * 1024;
/// The header flag saying that its load addresses are valid.
const MULTIBOOT1_LOAD_ADDRESSES: u32 = 1 << 16;

/// A Multiboot 1 header with its load addresses (all physical).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Multiboot1Header {
    /// Where the header is in the file.
    pub offset: usize,
    pub flags: u32,
    /// The header's own address once loaded.
    pub header_address: u32,
    /// Where the copy of the file starts in memory.
    pub load_address: u32,
    /// Where it ends.
    pub load_end_address: u32,
    /// Where the zeroed memory after it ends.
    pub bss_end_address: u32,
    pub entry_address: u32,
}

/// The first valid Multiboot 1 header with load addresses (magic, flags,
/// a checksum that makes the three add up to zero, then five addresses),
/// where a loader looks for it: 4-byte aligned in the first 8 KiB.
pub fn multiboot1_header(elf_bytes: &[u8]) -> Option<Multiboot1Header> {
    let word = |offset: usize| -> Option<u32> {
        let bytes = elf_bytes.get(offset..offset + 4)?;
        Some(u32::from_le_bytes(bytes.try_into().ok()?))
    };
    let limit = elf_bytes.len().min(MULTIBOOT1_SEARCH_LIMIT);
    (0..limit).step_by(4).find_map(|offset| {
        let (magic, flags, checksum) = (word(offset)?, word(offset + 4)?, word(offset + 8)?);
        let valid = magic == MULTIBOOT1_HEADER_MAGIC && magic.wrapping_add(flags).wrapping_add(checksum) == 0;
        (valid && flags & MULTIBOOT1_LOAD_ADDRESSES != 0).then_some(())?;
        Some(Multiboot1Header {
            offset,
            flags,
            header_address: word(offset + 12)?,
            load_address: word(offset + 16)?,
            load_end_address: word(offset + 20)?,
            bss_end_address: word(offset + 24)?,
            entry_address: word(offset + 28)?,
        })
    })
}

// ANCHOR: multiboot1_layout
/// Checks that QEMU's Multiboot 1 loader puts the kernel where its ELF
/// program headers say. The loader reads no program headers: it copies
/// the file, from the header's offset less its distance from the load
/// address, to the load address, up to the load end, zeroes memory up to
/// the bss end, and jumps to the entry address. So each loadable segment's
/// bytes must lie in the file at the same distance from that start as in
/// memory from the load address, and the entry must be the ELF's.
pub fn check_multiboot1_layout(elf_bytes: &[u8]) -> Result<Multiboot1Header, String> {
    let elf = ElfFile::new(elf_bytes).map_err(|error| format!("not an ELF file: {error}"))?;
    let header = multiboot1_header(elf_bytes).ok_or("no valid Multiboot 1 header with load addresses")?;
    let (load, load_end, bss_end) = (
        u64::from(header.load_address),
        u64::from(header.load_end_address),
        u64::from(header.bss_end_address),
    );
    let distance = u64::from(header.header_address)
        .checked_sub(load)
        .ok_or("the Multiboot 1 header lies before the load address")?;
    let file_start =
        (header.offset as u64).checked_sub(distance).ok_or("the load start is before the file")?;
    if load_end < load || bss_end < load_end || file_start + (load_end - load) > elf_bytes.len() as u64 {
        return Err(format!("inconsistent Multiboot 1 load addresses: {header:x?}"));
    }
    if u64::from(header.entry_address) != elf.header.pt2.entry_point() {
        return Err(format!("the Multiboot 1 entry {:#x} is not the ELF entry", header.entry_address));
    }
    for segment in elf.program_iter().filter(|segment| segment.get_type() == Ok(Type::Load)) {
        let (address, file_size) = (segment.physical_addr(), segment.file_size());
        let copied_at = address.checked_sub(load).map(|distance| file_start + distance);
        if copied_at.is_none() || address + segment.mem_size() > bss_end {
            return Err(format!("the segment at {address:#x} lies outside the Multiboot 1 load addresses"));
        }
        if file_size > 0 && (copied_at != Some(segment.offset()) || address + file_size > load_end) {
            return Err(format!(
                "the segment at {address:#x} is at file offset {:#x}, but the Multiboot 1 copy puts \
                 file offset {:#x} there: the file is not one plain copy of memory",
                segment.offset(),
                copied_at.unwrap_or(0)
            ));
        }
    }
    Ok(header)
}
// ANCHOR_END: multiboot1_layout

// ANCHOR: el_torito
/// The firmware that starts a machine and, from a CD or USB stick, the
/// boot loader on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Firmware {
    /// The PC BIOS (or a UEFI firmware's legacy mode, "CSM"): it runs the
    /// 16-bit boot image of El Torito's platform 0 (for GRUB, its i386-pc
    /// image).
    Bios,
    /// UEFI: it runs the EFI application (for GRUB, its x86_64-efi image)
    /// in the FAT image of El Torito's platform 0xEF.
    Uefi,
}

impl std::fmt::Display for Firmware {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str(match self {
            Firmware::Bios => "BIOS",
            Firmware::Uefi => "UEFI",
        })
    }
}

/// ISO 9660 sectors are 2 KiB.
const SECTOR: usize = 2048;
/// El Torito's platform identifiers.
const PLATFORM_X86: u8 = 0x00;
const PLATFORM_EFI: u8 = 0xEF;

/// The firmware an ISO image has a boot image for, from its El Torito boot
/// catalog (the table a firmware reads to boot a CD): one entry per boot
/// image marked bootable, in the catalog's order.
///
/// The catalog's address is in the boot record, one of the volume
/// descriptors that start at sector 16. The catalog is a list of 32-byte
/// entries: a validation entry (platform of the first image, key 55 AA),
/// the initial entry (the first image), then sections, each a header (its
/// platform, how many entries follow) and its entries.
pub fn boot_firmware(iso: &[u8]) -> Result<Vec<Firmware>, String> {
    let sector = |number: usize| iso.get(number * SECTOR..(number + 1) * SECTOR);
    let mut catalog_sector = None;
    for number in 16.. {
        let descriptor = sector(number).ok_or("no El Torito boot record: the ISO cannot boot")?;
        if &descriptor[1..6] != b"CD001" || descriptor[0] == 255 {
            return Err("no El Torito boot record: the ISO cannot boot".into());
        }
        if descriptor[0] == 0 && descriptor[7..30] == *b"EL TORITO SPECIFICATION" {
            catalog_sector = Some(u32::from_le_bytes(descriptor[71..75].try_into().unwrap()) as usize);
            break;
        }
    }
    let catalog = catalog_sector.and_then(sector).ok_or("the boot catalog is outside the ISO")?;
    let mut entries = catalog.chunks_exact(32);
    let validation = entries.next().unwrap();
    if validation[0] != 1 || validation[30..32] != [0x55, 0xAA] {
        return Err("the boot catalog has no valid validation entry".into());
    }
    let firmware = |platform: u8| match platform {
        PLATFORM_X86 => Ok(Firmware::Bios),
        PLATFORM_EFI => Ok(Firmware::Uefi),
        other => Err(format!("a boot image for unknown platform {other:#x}")),
    };
    let mut found = Vec::new();
    let initial = entries.next().unwrap();
    if initial[0] == 0x88 {
        found.push(firmware(validation[1])?);
    }
    // Section headers: 0x90 when another follows, 0x91 for the last.
    while let Some(header) = entries.next() {
        if header[0] != 0x90 && header[0] != 0x91 {
            break;
        }
        let count = u16::from_le_bytes([header[2], header[3]]);
        for _ in 0..count {
            let entry = entries.next().ok_or("the boot catalog ends inside a section")?;
            if entry[0] == 0x88 {
                found.push(firmware(header[1])?);
            }
        }
        if header[0] == 0x91 {
            break;
        }
    }
    Ok(found)
}
// ANCHOR_END: el_torito

#[cfg(test)]
mod tests {
    use super::*;

    /// An ISO of 20 sectors whose catalog (in sector 19) has a BIOS
    /// initial entry and one section of `sections` images.
    fn iso_with_catalog(sections: &[u8]) -> Vec<u8> {
        let mut iso = vec![0u8; 20 * SECTOR];
        let boot_record = &mut iso[16 * SECTOR..17 * SECTOR];
        boot_record[1..6].copy_from_slice(b"CD001");
        boot_record[7..30].copy_from_slice(b"EL TORITO SPECIFICATION");
        boot_record[71..75].copy_from_slice(&19u32.to_le_bytes());
        iso[17 * SECTOR] = 255;
        iso[17 * SECTOR + 1..17 * SECTOR + 6].copy_from_slice(b"CD001");
        let catalog = &mut iso[19 * SECTOR..20 * SECTOR];
        catalog[0] = 1;
        catalog[30..32].copy_from_slice(&[0x55, 0xAA]);
        catalog[32] = 0x88;
        for (i, &platform) in sections.iter().enumerate() {
            let header = 64 + 64 * i;
            catalog[header] = if i + 1 == sections.len() { 0x91 } else { 0x90 };
            catalog[header + 1] = platform;
            catalog[header + 2] = 1;
            catalog[header + 32] = 0x88;
        }
        iso
    }

    #[test]
    fn reads_the_firmware_of_each_boot_image() {
        assert_eq!(boot_firmware(&iso_with_catalog(&[])), Ok(vec![Firmware::Bios]));
        assert_eq!(
            boot_firmware(&iso_with_catalog(&[PLATFORM_EFI])),
            Ok(vec![Firmware::Bios, Firmware::Uefi])
        );
        assert!(boot_firmware(&iso_with_catalog(&[0x02])).unwrap_err().contains("unknown platform 0x2"));
    }

    #[test]
    fn an_iso_without_a_boot_record_cannot_boot() {
        let mut iso = iso_with_catalog(&[PLATFORM_EFI]);
        iso[16 * SECTOR + 7] = b'X';
        assert!(boot_firmware(&iso).unwrap_err().contains("no El Torito boot record"));
        assert!(boot_firmware(&[0; 100]).is_err());
    }

    fn header(checksum_delta: u32) -> Vec<u8> {
        let mut bytes = vec![0u8; 64];
        let length = 24u32;
        let checksum = 0u32.wrapping_sub(MULTIBOOT2_HEADER_MAGIC + length).wrapping_add(checksum_delta);
        for (i, word) in [MULTIBOOT2_HEADER_MAGIC, 0, length, checksum].iter().enumerate() {
            bytes[16 + 4 * i..20 + 4 * i].copy_from_slice(&word.to_le_bytes());
        }
        bytes
    }

    #[test]
    fn finds_a_valid_multiboot2_header() {
        assert_eq!(multiboot2_header_offset(&header(0)), Some(16));
    }

    #[test]
    fn rejects_a_bad_checksum() {
        assert_eq!(multiboot2_header_offset(&header(1)), None);
    }

    #[test]
    fn rejects_what_is_not_elf() {
        assert!(loaded_size(b"not an elf").is_err());
        assert!(check_multiboot1_layout(b"not an elf").is_err());
    }

    fn multiboot1(flags: u32, checksum_delta: u32) -> Vec<u8> {
        let mut bytes = vec![0u8; 64];
        let checksum =
            0u32.wrapping_sub(MULTIBOOT1_HEADER_MAGIC.wrapping_add(flags)).wrapping_add(checksum_delta);
        let words =
            [MULTIBOOT1_HEADER_MAGIC, flags, checksum, 0x100004, 0x100000, 0x140000, 0x180000, 0x100040];
        for (i, word) in words.iter().enumerate() {
            bytes[4 + 4 * i..8 + 4 * i].copy_from_slice(&word.to_le_bytes());
        }
        bytes
    }

    #[test]
    fn finds_a_valid_multiboot1_header_with_load_addresses() {
        let header = multiboot1_header(&multiboot1(MULTIBOOT1_LOAD_ADDRESSES | 3, 0)).unwrap();
        assert_eq!((header.offset, header.load_address, header.entry_address), (4, 0x100000, 0x100040));
        assert_eq!(multiboot1_header(&multiboot1(MULTIBOOT1_LOAD_ADDRESSES, 1)), None);
        assert_eq!(multiboot1_header(&multiboot1(3, 0)), None);
        // Cut short: the addresses are missing.
        assert_eq!(multiboot1_header(&multiboot1(MULTIBOOT1_LOAD_ADDRESSES, 0)[..20]), None);
    }

    /// Garbage (from a fixed pseudo-random sequence) never makes the
    /// header search or the layout check panic.
    #[test]
    fn garbage_is_no_multiboot1_kernel() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for round in 0..200 {
            let mut bytes: Vec<u8> = (0..64 + round * 37)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    state as u8
                })
                .collect();
            if round % 2 == 0 {
                let header = multiboot1(MULTIBOOT1_LOAD_ADDRESSES, 0);
                bytes[..header.len()].copy_from_slice(&header);
            }
            let _ = multiboot1_header(&bytes);
            assert!(check_multiboot1_layout(&bytes).is_err());
        }
    }
}
