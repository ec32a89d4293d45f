//! The firmware's memory map, made trustworthy: which bytes are RAM the
//! kernel may use.
//!
//! The map a loader passes on comes from the firmware, and firmware is not
//! careful: entries may come in any order, two "available" entries may
//! overlap or touch, and a reserved entry may lie inside an available one.
//! Used as they are, overlapping available entries would become overlapping
//! untyped memory (the same byte handed out twice) and a reserved range
//! inside an available one would be handed out at all. So, as Linux does
//! with the BIOS's e820 map, the kernel first *sanitises* the map: the
//! usable RAM is the union of the available entries minus the union of every
//! other entry (reserved, ACPI, defective, unknown: anything not plainly
//! available wins), kept as a sorted list of disjoint, non-adjacent ranges.
//!
//! No heap: the ranges live in a [`SpanSet`], a fixed-capacity array. A map
//! needing more than [`MAX_REGIONS`] ranges loses RAM, never safety: see
//! [`MemoryMap::sanitize`].

use crate::memory::Span;

/// The most ranges of usable RAM the kernel tracks. QEMU's map has 2; real
/// machines have a few dozen entries, most of them reserved.
pub const MAX_REGIONS: usize = 64;

/// A [`SpanSet`] has no room for another range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Full;

// ANCHOR: span_set
/// A set of addresses, kept as at most `N` ranges that are sorted, disjoint,
/// non-adjacent and non-empty: exactly one way to write any set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpanSet<const N: usize> {
    spans: [Span; N],
    len: usize,
}
// ANCHOR_END: span_set

impl<const N: usize> SpanSet<N> {
    /// The empty set.
    pub const fn new() -> Self {
        Self { spans: [Span::new(0, 0); N], len: 0 }
    }

    /// The ranges, lowest first.
    pub fn as_slice(&self) -> &[Span] {
        &self.spans[..self.len]
    }

    /// The number of bytes in the set.
    pub fn total(&self) -> u64 {
        self.as_slice().iter().map(Span::len).sum()
    }

    /// Adds the addresses of `span`, merging it with every range it
    /// overlaps or touches. Fails, changing nothing, when that would need
    /// more than `N` ranges.
    pub fn insert(&mut self, span: Span) -> Result<(), Full> {
        if span.is_empty() {
            return Ok(());
        }
        // The ranges from `first` to `last` (exclusive) overlap or touch
        // `span`: they all merge into one.
        let first = self.as_slice().partition_point(|s| s.end < span.start);
        let last = self.as_slice().partition_point(|s| s.start <= span.end);
        let merged = match first < last {
            true => {
                Span::new(span.start.min(self.spans[first].start), span.end.max(self.spans[last - 1].end))
            }
            false => span,
        };
        self.replace(first..last, &[merged])
    }

    // ANCHOR: remove
    /// Takes the addresses of `span` out of the set and returns how many
    /// bytes it took. Fails, changing nothing, when `span` lies strictly
    /// inside one range (which would split in two) and the set is full.
    pub fn remove(&mut self, span: Span) -> Result<u64, Full> {
        if span.is_empty() {
            return Ok(0);
        }
        // The ranges from `first` to `last` (exclusive) overlap `span`.
        let first = self.as_slice().partition_point(|s| s.end <= span.start);
        let last = self.as_slice().partition_point(|s| s.start < span.end);
        if first == last {
            return Ok(0);
        }
        let removed =
            self.spans[first..last].iter().map(|s| s.end.min(span.end) - s.start.max(span.start)).sum();
        let before = Span::new(self.spans[first].start, span.start);
        let after = Span::new(span.end, self.spans[last - 1].end);
        let kept = [before, after];
        let kept = match (before.start < before.end, after.start < after.end) {
            (true, true) => &kept[..],
            (true, false) => &kept[..1],
            (false, true) => &kept[1..],
            (false, false) => &kept[..0],
        };
        self.replace(first..last, kept)?;
        Ok(removed)
    }
    // ANCHOR_END: remove

    /// Replaces the ranges `old` with `new`, or fails, changing nothing.
    fn replace(&mut self, old: core::ops::Range<usize>, new: &[Span]) -> Result<(), Full> {
        let len = self.len - old.len() + new.len();
        if len > N {
            return Err(Full);
        }
        self.spans.copy_within(old.end..self.len, old.start + new.len());
        self.spans[old.start..old.start + new.len()].copy_from_slice(new);
        self.len = len;
        Ok(())
    }
}

impl<const N: usize> Default for SpanSet<N> {
    fn default() -> Self {
        Self::new()
    }
}

// ANCHOR: sanitize
/// The usable RAM of a memory map: the union of its available entries
/// minus the union of all its other entries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryMap {
    usable: SpanSet<MAX_REGIONS>,
    left_out: usize,
}

impl MemoryMap {
    /// Sanitises a memory map given as its `available` entries and its
    /// `reserved` ones (every entry that is not plainly available RAM), in
    /// any order, overlapping or not.
    ///
    /// Past [`MAX_REGIONS`] ranges the map errs towards less RAM, never
    /// towards handing out a reserved byte: an available entry that finds
    /// no room is left out, and a reserved entry that would split a range
    /// in two when there is no room takes the smaller of the two pieces
    /// with it. [`MemoryMap::left_out`] counts these losses.
    pub fn sanitize(
        available: impl IntoIterator<Item = Span>,
        reserved: impl IntoIterator<Item = Span>,
    ) -> MemoryMap {
        let mut usable = SpanSet::new();
        let left_out = sanitize_into(&mut usable, available, reserved);
        MemoryMap { usable, left_out }
    }

    /// The usable ranges: sorted, disjoint, non-adjacent, non-empty.
    pub fn regions(&self) -> &[Span] {
        self.usable.as_slice()
    }

    /// How many times RAM was left out for want of room (0 on any
    /// reasonable machine).
    pub fn left_out(&self) -> usize {
        self.left_out
    }
}
// ANCHOR_END: sanitize

impl IntoIterator for MemoryMap {
    type Item = Span;
    type IntoIter = core::iter::Take<core::array::IntoIter<Span, MAX_REGIONS>>;

    /// The usable ranges, lowest first.
    fn into_iter(self) -> Self::IntoIter {
        self.usable.spans.into_iter().take(self.usable.len)
    }
}

/// [`MemoryMap::sanitize`] into a set of any capacity; returns how many
/// times RAM was left out for want of room.
fn sanitize_into<const N: usize>(
    usable: &mut SpanSet<N>,
    available: impl IntoIterator<Item = Span>,
    reserved: impl IntoIterator<Item = Span>,
) -> usize {
    let mut left_out = 0;
    for span in available {
        if usable.insert(span).is_err() {
            left_out += 1;
        }
    }
    for span in reserved {
        if usable.remove(span).is_err() {
            // `span` lies strictly inside one range: take it out with the
            // smaller of the two pieces it would have left.
            let range = usable.as_slice().iter().find(|s| s.contains(span.start)).copied();
            let range = range.expect("only a range strictly around a span can split");
            let wider = match span.start - range.start <= range.end - span.end {
                true => Span::new(range.start, span.end),
                false => Span::new(span.start, range.end),
            };
            usable.remove(wider).expect("cutting a range's end never splits it");
            left_out += 1;
        }
    }
    left_out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn spans(list: &[(u64, u64)]) -> Vec<Span> {
        list.iter().map(|&(start, end)| Span::new(start, end)).collect()
    }

    fn sanitize(available: &[(u64, u64)], reserved: &[(u64, u64)]) -> Vec<Span> {
        MemoryMap::sanitize(spans(available), spans(reserved)).into_iter().collect()
    }

    #[test]
    fn overlapping_available_entries_count_once() {
        let map = sanitize(&[(0x1000, 0x5000), (0x3000, 0x8000)], &[]);
        assert_eq!(map, spans(&[(0x1000, 0x8000)]));
    }

    #[test]
    fn touching_entries_merge_and_order_does_not_matter() {
        let map = sanitize(&[(0x4000, 0x6000), (0x1000, 0x2000), (0x2000, 0x4000)], &[]);
        assert_eq!(map, spans(&[(0x1000, 0x6000)]));
    }

    #[test]
    fn reserved_entries_win_wherever_they_are() {
        let map = sanitize(
            &[(0, 0xa0000), (0x10_0000, 0x800_0000)],
            &[(0x9fc00, 0xa0000), (0x7fe_0000, 0x800_0000), (0x20_0000, 0x20_1000), (0x80000, 0x11_0000)],
        );
        assert_eq!(map, spans(&[(0, 0x80000), (0x11_0000, 0x20_0000), (0x20_1000, 0x7fe_0000)]));
    }

    #[test]
    fn a_full_set_refuses_and_changes_nothing() {
        let mut set = SpanSet::<2>::new();
        set.insert(Span::new(0, 10)).unwrap();
        set.insert(Span::new(20, 30)).unwrap();
        let before = set;
        assert_eq!(set.insert(Span::new(40, 50)), Err(Full));
        assert_eq!(set.remove(Span::new(2, 4)), Err(Full));
        assert_eq!(set, before);
        // Merging and trimming need no room.
        assert_eq!(set.insert(Span::new(10, 20)), Ok(()));
        assert_eq!(set.remove(Span::new(25, 40)), Ok(5));
        assert_eq!(set.as_slice(), spans(&[(0, 25)]));
    }

    #[test]
    fn past_capacity_memory_is_lost_never_reserved_memory_kept() {
        // 65 separate available pieces: the last finds no room.
        let available: Vec<Span> =
            (0..=MAX_REGIONS as u64).map(|i| Span::new(i * 0x2000, i * 0x2000 + 0x1000)).collect();
        // A reserved page strictly inside the first piece, which is full:
        // the smaller side goes with it.
        let reserved = [Span::new(0x100, 0x200)];
        let map = MemoryMap::sanitize(available, reserved);
        assert_eq!(map.left_out(), 2);
        assert_eq!(map.regions().len(), MAX_REGIONS);
        assert_eq!(map.regions()[0], Span::new(0x200, 0x1000));
        assert!(map.regions().iter().all(|s| s.end <= MAX_REGIONS as u64 * 0x2000));
    }

    #[test]
    fn a_reserved_entry_that_cannot_split_takes_the_smaller_piece_with_it() {
        // A set with room for one range: every split must give up a side.
        let split = |reserved: (u64, u64)| {
            let mut set = SpanSet::<1>::new();
            let left_out = sanitize_into(&mut set, spans(&[(0x1_0000, 0x1_1000)]), spans(&[reserved]));
            assert_eq!(left_out, 1, "{reserved:x?}");
            set.as_slice().to_vec()
        };
        // Near the start: the piece below goes; near the end, the piece above.
        assert_eq!(split((0x1_0100, 0x1_0200)), spans(&[(0x1_0200, 0x1_1000)]));
        assert_eq!(split((0x1_0e00, 0x1_0f00)), spans(&[(0x1_0000, 0x1_0e00)]));
        // Exactly in the middle: the lower piece goes.
        assert_eq!(split((0x1_0400, 0x1_0c00)), spans(&[(0x1_0c00, 0x1_1000)]));
    }

    #[test]
    fn removing_stops_exactly_at_range_boundaries() {
        let full = || {
            let mut set = SpanSet::<2>::new();
            set.insert(Span::new(0x10, 0x20)).unwrap();
            set.insert(Span::new(0x30, 0x40)).unwrap();
            set
        };
        let removed = |span: (u64, u64)| {
            let mut set = full();
            let taken = set.remove(Span::new(span.0, span.1));
            (taken, set.as_slice().to_vec())
        };
        // The gap between the ranges, and spans that only touch them, take nothing.
        assert_eq!(removed((0x20, 0x30)), (Ok(0), spans(&[(0x10, 0x20), (0x30, 0x40)])));
        assert_eq!(removed((0x0, 0x10)), (Ok(0), spans(&[(0x10, 0x20), (0x30, 0x40)])));
        assert_eq!(removed((0x40, 0x50)), (Ok(0), spans(&[(0x10, 0x20), (0x30, 0x40)])));
        // One byte on either side of a range's edge.
        assert_eq!(removed((0x1f, 0x30)), (Ok(1), spans(&[(0x10, 0x1f), (0x30, 0x40)])));
        assert_eq!(removed((0x20, 0x31)), (Ok(1), spans(&[(0x10, 0x20), (0x31, 0x40)])));
        assert_eq!(removed((0x0f, 0x11)), (Ok(1), spans(&[(0x11, 0x20), (0x30, 0x40)])));
        assert_eq!(removed((0x3f, 0x41)), (Ok(1), spans(&[(0x10, 0x20), (0x30, 0x3f)])));
        // A whole range, exactly.
        assert_eq!(removed((0x10, 0x20)), (Ok(0x10), spans(&[(0x30, 0x40)])));
        // Strictly inside a range of a full set: no room to split.
        assert_eq!(removed((0x11, 0x1f)), (Err(Full), spans(&[(0x10, 0x20), (0x30, 0x40)])));
    }

    /// Regions on a coarse grid in a small address range, so that overlaps,
    /// containment and exact adjacency are all common.
    fn regions() -> impl Strategy<Value = Vec<Span>> {
        proptest::collection::vec((0u64..64, 0u64..12), 0..12).prop_map(|list| {
            list.into_iter().map(|(start, len)| Span::new(start * 16, (start + len) * 16)).collect()
        })
    }

    /// Byte by byte: the sanitised map must be exactly this.
    fn model(available: &[Span], reserved: &[Span]) -> Vec<bool> {
        (0..80 * 16)
            .map(|byte| {
                available.iter().any(|s| s.contains(byte)) && !reserved.iter().any(|s| s.contains(byte))
            })
            .collect()
    }

    fn well_formed(ranges: &[Span]) -> Result<(), TestCaseError> {
        for range in ranges {
            prop_assert!(!range.is_empty(), "empty range in {ranges:?}");
        }
        for pair in ranges.windows(2) {
            prop_assert!(pair[0].end < pair[1].start, "not sorted, disjoint and apart: {ranges:?}");
        }
        Ok(())
    }

    proptest! {
        /// The sanitised map is sorted, disjoint and non-adjacent, and holds
        /// exactly the bytes that some available entry holds and no
        /// reserved entry does.
        #[test]
        fn sanitised_map_is_available_minus_reserved(available in regions(), reserved in regions()) {
            let map = MemoryMap::sanitize(available.clone(), reserved.clone());
            prop_assert_eq!(map.left_out(), 0);
            well_formed(map.regions())?;
            let expected = model(&available, &reserved);
            for (byte, &usable) in expected.iter().enumerate() {
                let found = map.regions().iter().any(|s| s.contains(byte as u64));
                prop_assert_eq!(found, usable, "byte {:#x} in {:?}", byte, map.regions());
            }
            prop_assert_eq!(map.into_iter().map(|s| s.len()).sum::<u64>(), expected.iter().filter(|&&b| b).count() as u64);
        }

        /// With too little room the set refuses what does not fit and
        /// changes nothing; the sanitiser then loses RAM but never holds a
        /// byte that is not available, or is reserved.
        #[test]
        fn a_small_set_loses_memory_but_never_holds_reserved_memory(available in regions(), reserved in regions()) {
            let mut set = SpanSet::<3>::new();
            for &span in &available {
                let before = set;
                if set.insert(span).is_err() {
                    prop_assert_eq!(set, before);
                }
                well_formed(set.as_slice())?;
            }
            for &span in &reserved {
                let before = set;
                match set.remove(span) {
                    Ok(removed) => prop_assert_eq!(removed, before.total() - set.total()),
                    Err(Full) => prop_assert_eq!(set, before),
                }
                well_formed(set.as_slice())?;
            }

            let mut small = SpanSet::<3>::new();
            let left_out = sanitize_into(&mut small, available.clone(), reserved.clone());
            well_formed(small.as_slice())?;
            let expected = model(&available, &reserved);
            for range in small.as_slice() {
                for byte in range.start..range.end {
                    prop_assert!(expected[byte as usize], "byte {:#x} should not be usable", byte);
                }
            }
            if left_out == 0 {
                prop_assert_eq!(small.total(), expected.iter().filter(|&&b| b).count() as u64);
            }
        }
    }
}
