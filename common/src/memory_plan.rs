//! Dividing RAM at boot: what becomes untyped memory, and what is reserved
//! and why (from stage 3 on; every stage since divides RAM the same way).
//!
//! The plan starts from the available regions of the memory map (sanitised
//! by [`crate::memory_map`]; the plan merges overlapping regions itself too,
//! so no byte is ever counted twice) and takes out, one reason at a time,
//! what must not become untyped: the first MiB, the kernel image, the boot
//! information, the modules, the kernel's own page tables. Every byte taken
//! out is counted under its reason (a byte two reasons claim is counted
//! once, under the first), and what remains is cut to whole pages, the
//! slivers counted too. So the accounting adds up by construction: usable =
//! untyped + reserved, to the byte.

use crate::bootinfo;
use crate::memory::{PAGE, Span};
use crate::memory_map::SpanSet;
use core::fmt;
use multiboot2::BootInformation;

/// The most free ranges the plan tracks (each reservation can split one).
pub const MAX_RANGES: usize = 64;

// ANCHOR: reasons
/// Why memory is not untyped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// Below 1 MiB: legacy BIOS and device memory live there.
    BelowOneMiB,
    /// The kernel's code, data and stacks.
    KernelImage,
    /// The Multiboot2 information GRUB passed.
    BootInformation,
    /// Files GRUB loaded for the kernel.
    Modules,
    /// The kernel's own page tables (retyped from an untyped it keeps).
    KernelPageTables,
    /// Pieces of available RAM smaller than, or not aligned to, a page.
    PartialPages,
}

impl Reason {
    /// Every reason, in the order the plan applies them.
    pub const ALL: [Reason; 6] = [
        Reason::BelowOneMiB,
        Reason::KernelImage,
        Reason::BootInformation,
        Reason::Modules,
        Reason::KernelPageTables,
        Reason::PartialPages,
    ];

    /// How the boot report names it.
    pub const fn name(self) -> &'static str {
        match self {
            Reason::BelowOneMiB => "below 1 MiB",
            Reason::KernelImage => "kernel image",
            Reason::BootInformation => "boot information",
            Reason::Modules => "modules",
            Reason::KernelPageTables => "kernel page tables",
            Reason::PartialPages => "partial pages",
        }
    }
}
// ANCHOR_END: reasons

/// The plan's fixed tables are full.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TooManyRanges;

impl fmt::Display for TooManyRanges {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "more than {MAX_RANGES} free memory ranges")
    }
}

/// RAM, divided.
#[derive(Clone, Debug)]
pub struct MemoryPlan {
    free: SpanSet<MAX_RANGES>,
    reserved: [u64; Reason::ALL.len()],
    usable: u64,
}

impl MemoryPlan {
    /// A plan in which all of `available` is still free. Overlapping or
    /// touching regions merge: a byte is usable once.
    pub fn new(available: impl IntoIterator<Item = Span>) -> Result<Self, TooManyRanges> {
        let mut free = SpanSet::new();
        for span in available {
            free.insert(span).map_err(|_| TooManyRanges)?;
        }
        Ok(Self { free, reserved: [0; Reason::ALL.len()], usable: free.total() })
    }

    // ANCHOR: reserve
    /// Takes `span` out of the free memory, counting what it removes under
    /// `reason`. A failure (too many pieces) changes nothing.
    pub fn reserve(&mut self, reason: Reason, span: Span) -> Result<(), TooManyRanges> {
        self.reserved[reason as usize] += self.free.remove(span).map_err(|_| TooManyRanges)?;
        Ok(())
    }
    // ANCHOR_END: reserve

    // ANCHOR: from_boot
    /// The plan every stage from 3 on starts from: the available RAM of the
    /// memory map in `info`, minus what must survive: the first MiB, the
    /// kernel image (`kernel_image`, its physical range), the boot
    /// information itself (at `info_address`) and the modules.
    pub fn from_boot_information(
        info: &BootInformation,
        info_address: u64,
        kernel_image: Span,
    ) -> MemoryPlan {
        let available = bootinfo::available_regions(bootinfo::memory_areas(info));
        let mut plan = MemoryPlan::new(available).expect("a memory map of reasonable size");
        let info_size = (info.end_address() - info.start_address()) as u64;
        let reservations = [
            (Reason::BelowOneMiB, Span::new(0, 0x10_0000)),
            (Reason::KernelImage, kernel_image),
            (Reason::BootInformation, Span::new(info_address, info_address + info_size)),
        ];
        let modules = info.module_tags().map(|module| {
            (Reason::Modules, Span::new(module.start_address().into(), module.end_address().into()))
        });
        for (reason, span) in reservations.into_iter().chain(modules) {
            plan.reserve(reason, span).expect("room in the plan for the boot reservations");
        }
        plan
    }
    // ANCHOR_END: from_boot

    /// Takes the first `size` bytes (page-aligned) of the first free range
    /// with room for them, counted under `reason`, and returns them.
    pub fn take(&mut self, reason: Reason, size: u64) -> Option<Span> {
        let found = self.free_ranges().iter().find_map(|piece| {
            let start = piece.start.next_multiple_of(PAGE);
            (start.checked_add(size)? <= piece.end).then(|| Span::new(start, start + size))
        })?;
        self.reserve(reason, found).ok()?;
        Some(found)
    }

    /// Cuts every free range to whole pages, counting the slivers as
    /// partial pages. Call it last.
    pub fn trim_to_pages(&mut self) {
        let pieces = self.free;
        for piece in pieces.as_slice() {
            let start = piece.start.next_multiple_of(PAGE).min(piece.end);
            let end = (piece.end & !(PAGE - 1)).max(start);
            for sliver in [Span::new(piece.start, start), Span::new(end, piece.end)] {
                // A sliver at a range's end never splits it: this cannot fail.
                let removed = self.free.remove(sliver).unwrap_or(0);
                self.reserved[Reason::PartialPages as usize] += removed;
            }
        }
    }

    /// The free ranges, sorted, disjoint and apart: each becomes an untyped
    /// capability.
    pub fn free_ranges(&self) -> &[Span] {
        self.free.as_slice()
    }

    /// Bytes reserved for `reason`.
    pub fn reserved(&self, reason: Reason) -> u64 {
        self.reserved[reason as usize]
    }

    /// Bytes reserved for any reason.
    pub fn total_reserved(&self) -> u64 {
        self.reserved.iter().sum()
    }

    /// Bytes in the free ranges.
    pub fn total_free(&self) -> u64 {
        self.free_ranges().iter().map(Span::len).sum()
    }

    /// Bytes of available RAM the plan started with.
    pub fn usable(&self) -> u64 {
        self.usable
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn qemu_128_mib() -> MemoryPlan {
        MemoryPlan::new([Span::new(0, 0x9fc00), Span::new(0x10_0000, 0x7fe_0000)]).unwrap()
    }

    #[test]
    fn reservations_are_counted_by_reason() {
        let mut plan = qemu_128_mib();
        plan.reserve(Reason::BelowOneMiB, Span::new(0, 0x10_0000)).unwrap();
        plan.reserve(Reason::KernelImage, Span::new(0x10_0000, 0x13_d000)).unwrap();
        plan.reserve(Reason::BootInformation, Span::new(0x13_d000, 0x13_d5a8)).unwrap();
        let tables = plan.take(Reason::KernelPageTables, 7 * 4096).unwrap();
        assert_eq!(tables, Span::new(0x13_e000, 0x14_5000), "page-aligned, right after the boot information");
        plan.trim_to_pages();

        assert_eq!(plan.reserved(Reason::BelowOneMiB), 0x9fc00);
        assert_eq!(plan.reserved(Reason::KernelImage), 0x3_d000);
        assert_eq!(plan.reserved(Reason::BootInformation), 0x5a8);
        assert_eq!(plan.reserved(Reason::KernelPageTables), 7 * 4096);
        assert_eq!(plan.reserved(Reason::PartialPages), 0x1000 - 0x5a8);
        assert_eq!(plan.free_ranges(), &[Span::new(0x14_5000, 0x7fe_0000)]);
        assert_eq!(plan.total_free() + plan.total_reserved(), plan.usable());
    }

    #[test]
    fn overlapping_reservations_count_once() {
        let mut plan = qemu_128_mib();
        plan.reserve(Reason::KernelImage, Span::new(0x10_0000, 0x20_0000)).unwrap();
        plan.reserve(Reason::Modules, Span::new(0x18_0000, 0x28_0000)).unwrap();
        assert_eq!(plan.reserved(Reason::KernelImage), 0x10_0000);
        assert_eq!(plan.reserved(Reason::Modules), 0x8_0000);
    }

    #[test]
    fn overlapping_regions_are_usable_once() {
        let plan =
            MemoryPlan::new([Span::new(0x10_0000, 0x30_0000), Span::new(0x20_0000, 0x40_0000)]).unwrap();
        assert_eq!(plan.usable(), 0x30_0000);
        assert_eq!(plan.free_ranges(), &[Span::new(0x10_0000, 0x40_0000)]);
    }

    #[test]
    fn take_fails_when_nothing_is_big_enough() {
        let mut plan = MemoryPlan::new([Span::new(0x10_0000, 0x10_3000)]).unwrap();
        assert_eq!(plan.take(Reason::KernelPageTables, 0x4000), None);
        assert_eq!(plan.total_reserved(), 0);
    }

    /// The union of `spans`, the plain way: sort, then merge what overlaps
    /// or touches.
    fn union(mut spans: Vec<Span>) -> Vec<Span> {
        spans.sort_by_key(|span| span.start);
        let mut merged: Vec<Span> = Vec::new();
        for span in spans {
            match merged.last_mut() {
                Some(last) if span.start <= last.end => last.end = last.end.max(span.end),
                _ => merged.push(span),
            }
        }
        merged
    }

    proptest! {
        /// Whatever the regions and reservations, the free ranges are
        /// page-aligned, disjoint, inside the available regions and outside
        /// every reservation, usable RAM is the union of the regions (each
        /// byte counted once), and free + reserved = usable exactly.
        #[test]
        fn accounting_adds_up_exactly(
            regions in proptest::collection::vec((0u64..0x100_0000, 1u64..0x40_0000), 1..6),
            reservations in proptest::collection::vec((0usize..5, 0u64..0x140_0000, 0u64..0x20_0000), 0..10),
        ) {
            // Available regions as firmware may list them: in any order,
            // overlapping, touching.
            let available: Vec<Span> =
                regions.into_iter().map(|(start, length)| Span::new(start, start + length)).collect();
            let mut plan = MemoryPlan::new(available.clone()).unwrap();
            let mut reserved_spans = Vec::new();
            for (reason, start, length) in reservations {
                let span = Span::new(start, start + length);
                if plan.reserve(Reason::ALL[reason], span).is_ok() {
                    reserved_spans.push(span);
                }
            }
            plan.trim_to_pages();
            prop_assert_eq!(plan.total_free() + plan.total_reserved(), plan.usable());
            let union = union(available);
            prop_assert_eq!(plan.usable(), union.iter().map(Span::len).sum::<u64>());
            let ranges = plan.free_ranges();
            for (i, range) in ranges.iter().enumerate() {
                prop_assert!(range.start % PAGE == 0 && range.end % PAGE == 0 && !range.is_empty());
                prop_assert!(union.iter().any(|a| a.start <= range.start && range.end <= a.end));
                prop_assert!(reserved_spans.iter().all(|r| range.end <= r.start || r.end <= range.start));
                prop_assert!(ranges[i + 1..].iter().all(|other| range.end <= other.start || other.end <= range.start));
            }
        }
    }
}
