//! Facts about a kernel image file: how much memory it occupies once loaded,
//! and whether GRUB will accept it as a Multiboot2 kernel.

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

#[cfg(test)]
mod tests {
    use super::*;

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
    }
}
