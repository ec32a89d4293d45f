//! x86_64 four-level paging: levels, indices, rights and errors, and the
//! window through which the kernel reaches a table (stage 3 on; stage 2
//! has its own copy, before levels were tied to object kinds).
//!
//! A virtual address is split into four 9-bit table indices and a 12-bit
//! offset. CR3 holds the physical address of the top table, the PML4; each
//! present entry holds the physical address of the next table down (PDPT,
//! then PD, then PT), and a PT entry holds the physical frame of a 4 KiB page.
//!
//! - [`window`]: how the kernel reaches a table, given its physical address;
//! - this file: levels, indices, rights and errors.
//!
//! Each stage's `paging` module re-exports this one and adds what is its
//! own: stage 3 and 4's paging capabilities (`caps`), stage 4 on's levels as
//! types (`levels`, built on the stage's kernel objects).

pub mod window;

pub use window::PhysicalWindow;

use abi::ObjectKind;
use core::fmt;
use x86_64::VirtAddr;
use x86_64::structures::paging::PageTableFlags;

/// Entries per table at every level.
pub const ENTRIES: usize = 512;
/// The first PML4 index of the kernel half (`0xFFFF800000000000` and up).
/// Every address space shares the kernel's entries from here on.
pub const KERNEL_HALF_FIRST_INDEX: usize = 256;

// ANCHOR: levels
/// The four levels of the paging hierarchy, top down.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Pml4,
    Pdpt,
    Pd,
    Pt,
}

impl Level {
    /// Every level, top down.
    pub const ALL: [Level; 4] = [Level::Pml4, Level::Pdpt, Level::Pd, Level::Pt];

    /// How far right a virtual address is shifted to get this level's index;
    /// also the log2 of the bytes one entry of this level covers.
    pub const fn shift(self) -> u32 {
        match self {
            Level::Pml4 => 39,
            Level::Pdpt => 30,
            Level::Pd => 21,
            Level::Pt => 12,
        }
    }

    /// The index into this level's table that `address` uses.
    pub const fn index_of(self, address: u64) -> usize {
        ((address >> self.shift()) & 0x1ff) as usize
    }

    /// The level below this one, `None` for page tables.
    pub const fn next(self) -> Option<Level> {
        match self {
            Level::Pml4 => Some(Level::Pdpt),
            Level::Pdpt => Some(Level::Pd),
            Level::Pd => Some(Level::Pt),
            Level::Pt => None,
        }
    }

    /// The kind of object a table of this level is: the one place levels
    /// and kinds meet.
    pub const fn kind(self) -> ObjectKind {
        match self {
            Level::Pml4 => ObjectKind::Pml4,
            Level::Pdpt => ObjectKind::Pdpt,
            Level::Pd => ObjectKind::Pd,
            Level::Pt => ObjectKind::Pt,
        }
    }

    /// The level of a table of `kind`, if `kind` is a page table's.
    pub fn of_kind(kind: ObjectKind) -> Option<Level> {
        Level::ALL.into_iter().find(|level| level.kind() == kind)
    }

    /// The table's name as the Intel manual abbreviates it (the kind's).
    pub const fn name(self) -> &'static str {
        self.kind().name()
    }
}
// ANCHOR_END: levels

/// The four table indices of `address`, top level first.
pub fn table_indices(address: u64) -> [usize; 4] {
    Level::ALL.map(|level| level.index_of(address))
}

/// Makes a 48-bit address canonical: bits 48 to 63 copy bit 47.
pub const fn sign_extend(address: u64) -> u64 {
    (((address << 16) as i64) >> 16) as u64
}

bitflags::bitflags! {
    // ANCHOR: rights
    /// What a mapping of a page allows. Reading is always allowed.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Rights: u8 {
        /// Writes are allowed.
        const WRITE = 1 << 0;
        /// User mode (ring 3) may access the page.
        const USER = 1 << 1;
        /// Instructions may be fetched from the page (else no-execute).
        const EXECUTE = 1 << 2;
    }
    // ANCHOR_END: rights
}

impl Rights {
    /// The entry bits of a present 4 KiB page mapping with these rights.
    pub fn page_flags(self) -> PageTableFlags {
        let mut flags = PageTableFlags::PRESENT;
        flags.set(PageTableFlags::WRITABLE, self.contains(Rights::WRITE));
        flags.set(PageTableFlags::USER_ACCESSIBLE, self.contains(Rights::USER));
        flags.set(PageTableFlags::NO_EXECUTE, !self.contains(Rights::EXECUTE));
        flags
    }
}

impl fmt::Display for Rights {
    /// `rwxu`-style: `rw-u` is a writable, non-executable user page.
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let write = if self.contains(Rights::WRITE) { 'w' } else { '-' };
        let execute = if self.contains(Rights::EXECUTE) { 'x' } else { '-' };
        let user = if self.contains(Rights::USER) { 'u' } else { 'k' };
        write!(f, "r{write}{execute}{user}")
    }
}

// ANCHOR: errors
/// Why a paging operation was refused. A refused operation changes nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PagingError {
    /// A table index was 512 or more.
    IndexOutOfRange(usize),
    /// The table is not itself mapped yet: tables are mapped top down.
    TableNotMapped(Level),
    /// The capability is mapped already; a capability maps in one place.
    AlreadyMapped,
    /// The capability is not mapped, so it cannot be unmapped.
    NotMapped,
    /// The entry in this table at this index is in use.
    SlotOccupied { level: Level, index: usize },
    /// The walk to the address found no table at this level.
    MissingLevel(Level),
    /// The walk found a large page at this level, not a table.
    LargePage(Level),
    /// The address is in the kernel half, which no capability may change.
    KernelHalf(VirtAddr),
    /// The address is not a multiple of the page size.
    Misaligned(u64),
    /// Bits 48-63 of the address are not copies of bit 47.
    NonCanonical(u64),
}
// ANCHOR_END: errors

impl fmt::Display for PagingError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match *self {
            Self::IndexOutOfRange(index) => write!(f, "index {index} is out of range (0..512)"),
            Self::TableNotMapped(level) => {
                write!(f, "this {} is not mapped yet: map tables from the top down", level.name())
            }
            Self::AlreadyMapped => write!(f, "the capability is already mapped"),
            Self::NotMapped => write!(f, "the capability is not mapped"),
            Self::SlotOccupied { level, index } => {
                write!(f, "{} slot {index} is already in use", level.name())
            }
            Self::MissingLevel(level) => {
                write!(f, "no {} on the way to this address", level.name())
            }
            Self::LargePage(level) => write!(f, "a large page fills this {} slot", level.name()),
            Self::KernelHalf(address) => write!(f, "{:#x} is in the kernel half", address.as_u64()),
            Self::Misaligned(address) => write!(f, "{address:#x} is not 4 KiB aligned"),
            Self::NonCanonical(address) => write!(f, "{address:#x} is not a canonical address"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_addresses_into_table_indices() {
        assert_eq!(table_indices(0x4000_1000), [0, 1, 0, 1]);
        assert_eq!(table_indices(0xFFFF_FFFF_8010_0000), [511, 510, 0, 256]);
        assert_eq!(table_indices(0xFFFF_8000_0000_0000), [256, 0, 0, 0]);
        assert_eq!(table_indices(0x0000_7FFF_FFFF_F000), [255, 511, 511, 511]);
    }

    #[test]
    fn sign_extension_makes_the_upper_half_canonical() {
        assert_eq!(sign_extend(256 << 39), 0xFFFF_8000_0000_0000);
        assert_eq!(sign_extend(255 << 39), 0x0000_7F80_0000_0000);
    }

    #[test]
    fn levels_and_kinds_map_both_ways() {
        for level in Level::ALL {
            assert_eq!(Level::of_kind(level.kind()), Some(level));
        }
        assert_eq!(Level::Pml4.name(), "PML4");
        assert_eq!(Level::of_kind(ObjectKind::RawPage), None);
        let tables = ObjectKind::ALL.into_iter().filter(|&kind| Level::of_kind(kind).is_some()).count();
        assert_eq!(tables, 4);
    }

    #[test]
    fn rights_become_entry_bits() {
        let user_data = (Rights::WRITE | Rights::USER).page_flags();
        assert_eq!(
            user_data,
            PageTableFlags::PRESENT
                | PageTableFlags::WRITABLE
                | PageTableFlags::USER_ACCESSIBLE
                | PageTableFlags::NO_EXECUTE
        );
        assert_eq!(user_data.bits(), 0x8000_0000_0000_0007);
        let kernel_code = Rights::EXECUTE.page_flags();
        assert_eq!(kernel_code, PageTableFlags::PRESENT);
        assert_eq!((Rights::WRITE | Rights::USER).to_string(), "rw-u");
        assert_eq!(Rights::EXECUTE.to_string(), "r-xk");
    }
}
