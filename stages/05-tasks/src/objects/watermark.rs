//! The arithmetic of an untyped region, apart from any memory: where the
//! next object and its header go, and whether they fit.
//!
//! An untyped region `start..end` is filled from both ends. Objects go up
//! from the *watermark*, each at the alignment its kind needs; their
//! headers (the kernel's records of them: reference counts, links) go down
//! from the *floor*, packed. The region is full when the two would cross.
//! Keeping the headers apart means page-aligned objects, the most common
//! kind, waste nothing on padding.

use core::fmt;

/// Bytes set aside for one object header (see `objects::Header`).
pub const HEADER_SIZE: u64 = 128;

/// Where one carve put the object and its header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Carved {
    pub object: u64,
    pub header: u64,
}

/// A carve that does not fit: how much was needed and how much was free.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DoesNotFit {
    /// Bytes from the watermark the carve needed (alignment padding, object
    /// and header).
    pub needed: u64,
    /// Bytes between the watermark and the floor.
    pub free: u64,
}

impl fmt::Display for DoesNotFit {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "needs {} bytes, {} are free", self.needed, self.free)
    }
}

// ANCHOR: watermark
/// The allocation state of one untyped region.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Watermark {
    start: u64,
    end: u64,
    /// Objects lie in `start..watermark`.
    watermark: u64,
    /// Headers lie in `floor..end`.
    floor: u64,
}

impl Watermark {
    /// An empty region `start..end`.
    pub const fn new(start: u64, end: u64) -> Self {
        // Headers are 8-byte aligned: the floor starts at the last
        // 8-byte boundary at or below the end.
        Self { start, end, watermark: start, floor: end & !7 }
    }

    /// Places an object of `size` bytes aligned to `align` (a power of
    /// two), and its header. On failure nothing changes.
    pub fn carve(&mut self, size: u64, align: u64) -> Result<Carved, DoesNotFit> {
        debug_assert!(align.is_power_of_two());
        let free = self.floor.saturating_sub(self.watermark);
        let object = self.watermark.checked_next_multiple_of(align);
        let object_end = object.and_then(|object| object.checked_add(size));
        let header = self.floor.checked_sub(HEADER_SIZE);
        match (object, object_end, header) {
            (Some(object), Some(object_end), Some(header)) if object_end <= header => {
                self.watermark = object_end;
                self.floor = header;
                Ok(Carved { object, header })
            }
            _ => {
                let needed =
                    object_end.map_or(u64::MAX, |end| end - self.watermark).saturating_add(HEADER_SIZE);
                Err(DoesNotFit { needed, free })
            }
        }
    }
    // ANCHOR_END: watermark

    /// Forgets every object and header: the whole region is free again.
    pub fn reset(&mut self) {
        *self = Self::new(self.start, self.end);
    }

    /// The first byte of the region.
    pub const fn start(&self) -> u64 {
        self.start
    }

    /// One past the last byte of the region.
    pub const fn end(&self) -> u64 {
        self.end
    }

    /// Where the next object can begin.
    pub const fn watermark(&self) -> u64 {
        self.watermark
    }

    /// Where the lowest header begins.
    pub const fn floor(&self) -> u64 {
        self.floor
    }

    /// Bytes not yet given to objects or headers.
    pub const fn free(&self) -> u64 {
        self.floor.saturating_sub(self.watermark)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn fills_from_both_ends() {
        let mut region = Watermark::new(0x10_0000, 0x10_3000);
        assert_eq!(region.carve(4096, 4096), Ok(Carved { object: 0x10_0000, header: 0x10_2f80 }));
        assert_eq!(region.carve(4096, 4096), Ok(Carved { object: 0x10_1000, header: 0x10_2f00 }));
        assert_eq!(region.watermark(), 0x10_2000);
        // A third page would end at 0x103000, past the headers.
        let before = region;
        assert_eq!(region.carve(4096, 4096), Err(DoesNotFit { needed: 4096 + 128, free: 0xf00 }));
        assert_eq!(region, before, "a failed carve changes nothing");
        // A small object still fits below the headers.
        assert_eq!(region.carve(64, 8), Ok(Carved { object: 0x10_2000, header: 0x10_2e80 }));
    }

    #[test]
    fn alignment_padding_is_skipped() {
        let mut region = Watermark::new(0x1008, 0x9000);
        assert_eq!(region.carve(16, 8).unwrap().object, 0x1008);
        assert_eq!(region.carve(4096, 4096).unwrap().object, 0x2000);
        assert_eq!(region.watermark(), 0x3000);
    }

    #[test]
    fn huge_requests_fail_without_overflow() {
        let mut region = Watermark::new(u64::MAX - 0x2000, u64::MAX);
        let before = region;
        assert!(region.carve(u64::MAX, 4096).is_err());
        assert!(region.carve(16, 1 << 63).is_err());
        assert_eq!(region, before);
    }

    proptest! {
        /// Whatever is asked, carved objects and headers stay inside the
        /// region, are aligned, never overlap each other, and a failure
        /// leaves the region unchanged.
        #[test]
        fn carves_never_overlap_and_failures_change_nothing(
            start in 0u64..0x10_0000,
            length in 0u64..0x4_0000,
            requests in proptest::collection::vec((1u64..0x6000, 0u32..13), 1..64),
        ) {
            let end = start + length;
            let mut region = Watermark::new(start, end);
            let mut taken: Vec<(u64, u64)> = Vec::new();
            for (size, align_bits) in requests {
                let align = 1u64 << align_bits;
                let before = region;
                match region.carve(size, align) {
                    Ok(Carved { object, header }) => {
                        prop_assert_eq!(object % align, 0);
                        prop_assert_eq!(header % 8, 0);
                        prop_assert!(start <= object && object + size <= end);
                        prop_assert!(start <= header && header + HEADER_SIZE <= end);
                        for range in [(object, object + size), (header, header + HEADER_SIZE)] {
                            for &(s, e) in &taken {
                                prop_assert!(range.1 <= s || e <= range.0, "{:?} overlaps {:?}", range, (s, e));
                            }
                            taken.push(range);
                        }
                        prop_assert!(region.watermark() <= region.floor());
                    }
                    Err(error) => {
                        prop_assert_eq!(region, before);
                        prop_assert!(error.needed > error.free);
                    }
                }
            }
        }
    }
}
