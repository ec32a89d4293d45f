//! The arithmetic of an untyped, apart from any memory: where the next
//! object goes, and whether it fits.
//!
//! An untyped hands out two things. Its *memory*, `start..end`, is filled
//! from the bottom up: the *watermark* marks how far, and each object goes
//! at the next multiple of the alignment its kind needs. Its *header slots*
//! (the kernel's records of the objects made from it) are kept apart from
//! the memory, one per page of it, and handed out in order. An object takes
//! one slot, an untyped one more per page of its own memory (for its
//! children). An object fits if both its memory and its slots do.
//!
//! Because every object takes at least one slot, the untyped's *free*
//! bytes are its free memory, but at most a page per free slot: what retype
//! can still hand out in objects of a page or more.

// Each function is `#[inline]`: retype, in a stage's crate, calls them on
// its hot path, and without the attribute a call across crates is not
// inlined (when this file was each stage's own, it was).

use crate::memory::PAGE;
use core::fmt;

/// Where one carve put the object, and the index of its first header slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Carved {
    pub object: u64,
    pub first_header: u64,
}

/// A carve that does not fit: what it needed and what was free, in bytes
/// (header slots counted as a page each).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DoesNotFit {
    /// The memory from the watermark the carve needed (alignment padding
    /// and object), or the page's worth of each header slot it needed,
    /// whichever is more.
    pub needed: u64,
    /// What [`Watermark::free`] says.
    pub free: u64,
}

impl fmt::Display for DoesNotFit {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "needs {} bytes, {} are free", self.needed, self.free)
    }
}

// ANCHOR: watermark
/// The allocation state of one untyped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Watermark {
    start: u64,
    end: u64,
    /// Objects lie in `start..watermark`.
    watermark: u64,
    /// Header slots: how many there are, and how many are used.
    headers: u64,
    headers_used: u64,
}

impl Watermark {
    /// An empty untyped with memory `start..end` and `headers` slots.
    #[inline]
    pub const fn new(start: u64, end: u64, headers: u64) -> Self {
        Self { start, end, watermark: start, headers, headers_used: 0 }
    }

    /// Places an object of `size` bytes aligned to `align` (a power of
    /// two), which takes `headers` header slots. On failure nothing
    /// changes.
    #[inline]
    pub fn carve(&mut self, size: u64, align: u64, headers: u64) -> Result<Carved, DoesNotFit> {
        debug_assert!(align.is_power_of_two());
        let object = self.watermark.checked_next_multiple_of(align);
        let object_end = object.and_then(|object| object.checked_add(size));
        let headers_end = self.headers_used.checked_add(headers);
        match (object, object_end, headers_end) {
            (Some(object), Some(object_end), Some(headers_end))
                if object_end <= self.end && headers_end <= self.headers =>
            {
                let first_header = self.headers_used;
                self.watermark = object_end;
                self.headers_used = headers_end;
                Ok(Carved { object, first_header })
            }
            _ => {
                let memory = object_end.map_or(u64::MAX, |end| end - self.watermark);
                let needed = memory.max(headers.saturating_mul(PAGE));
                Err(DoesNotFit { needed, free: self.free() })
            }
        }
    }
    // ANCHOR_END: watermark

    /// Forgets every object: all the memory and slots are free again.
    #[inline]
    pub fn reset(&mut self) {
        *self = Self::new(self.start, self.end, self.headers);
    }

    /// The first byte of the memory.
    #[inline]
    pub const fn start(&self) -> u64 {
        self.start
    }

    /// One past the last byte of the memory.
    #[inline]
    pub const fn end(&self) -> u64 {
        self.end
    }

    /// Where the next object can begin.
    #[inline]
    pub const fn watermark(&self) -> u64 {
        self.watermark
    }

    /// Header slots not yet used.
    #[inline]
    pub const fn free_headers(&self) -> u64 {
        self.headers - self.headers_used
    }

    /// Bytes of memory not yet used, but at most a page per free header
    /// slot.
    #[inline]
    pub fn free(&self) -> u64 {
        (self.end - self.watermark).min(self.free_headers().saturating_mul(PAGE))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn an_untyped_of_n_pages_holds_n_pages() {
        for pages in [1, 2, 7] {
            let mut region = Watermark::new(0x10_0000, 0x10_0000 + pages * PAGE, pages);
            for page in 0..pages {
                assert_eq!(
                    region.carve(PAGE, PAGE, 1),
                    Ok(Carved { object: 0x10_0000 + page * PAGE, first_header: page })
                );
            }
            assert_eq!(region.free(), 0);
            assert_eq!(region.carve(PAGE, PAGE, 1), Err(DoesNotFit { needed: PAGE, free: 0 }));
        }
    }

    #[test]
    fn an_untyped_child_takes_a_slot_more_than_its_pages() {
        let mut region = Watermark::new(0x10_0000, 0x10_4000, 4);
        let before = region;
        // Four pages of memory and five slots: it does not fit.
        assert_eq!(region.carve(4 * PAGE, PAGE, 5), Err(DoesNotFit { needed: 5 * PAGE, free: 4 * PAGE }));
        assert_eq!(region, before, "a failed carve changes nothing");
        // Three pages and four slots do; then the last page has no slot.
        assert_eq!(region.carve(3 * PAGE, PAGE, 4), Ok(Carved { object: 0x10_0000, first_header: 0 }));
        assert_eq!((region.end() - region.watermark(), region.free_headers()), (PAGE, 0));
        assert_eq!(region.free(), 0, "memory without a header slot is not free");
        assert!(region.carve(PAGE, PAGE, 1).is_err());
    }

    #[test]
    fn alignment_padding_is_skipped() {
        let mut region = Watermark::new(0x1008, 0x9000, 8);
        assert_eq!(region.carve(16, 8, 1).unwrap().object, 0x1008);
        assert_eq!(region.carve(4096, 4096, 1).unwrap().object, 0x2000);
        assert_eq!(region.watermark(), 0x3000);
    }

    #[test]
    fn huge_requests_fail_without_overflow() {
        let mut region = Watermark::new(u64::MAX - 0x2000, u64::MAX, 2);
        let before = region;
        assert!(region.carve(u64::MAX, 4096, 1).is_err());
        assert!(region.carve(16, 1 << 63, 1).is_err());
        assert!(region.carve(16, 8, u64::MAX).is_err());
        assert_eq!(region, before);
    }

    #[test]
    fn reset_frees_everything() {
        let mut region = Watermark::new(0x4000, 0x8000, 4);
        region.carve(2 * PAGE, PAGE, 3).unwrap();
        region.reset();
        assert_eq!(region, Watermark::new(0x4000, 0x8000, 4));
        assert_eq!(region.free(), 4 * PAGE);
    }

    proptest! {
        /// Whatever is asked, carved objects stay inside the memory, are
        /// aligned and never overlap, header slots are handed out in
        /// order, never beyond the last, and a failure leaves the untyped
        /// unchanged.
        #[test]
        fn carves_never_overlap_and_failures_change_nothing(
            start in 0u64..0x10_0000,
            pages in 0u64..64,
            requests in proptest::collection::vec((0u64..0x6000, 0u32..13, 1u64..6), 1..64),
        ) {
            let end = start + pages * PAGE;
            let mut region = Watermark::new(start, end, pages);
            let mut taken: Vec<(u64, u64)> = Vec::new();
            let mut next_header = 0;
            for (size, align_bits, headers) in requests {
                let align = 1u64 << align_bits;
                let before = region;
                match region.carve(size, align, headers) {
                    Ok(Carved { object, first_header }) => {
                        prop_assert_eq!(object % align, 0);
                        prop_assert!(start <= object && object + size <= end);
                        for &(s, e) in &taken {
                            prop_assert!(object + size <= s || e <= object, "{:?} overlaps {:?}", (object, size), (s, e));
                        }
                        if size > 0 {
                            taken.push((object, object + size));
                        }
                        prop_assert_eq!(first_header, next_header);
                        next_header += headers;
                        prop_assert!(next_header <= pages);
                    }
                    Err(error) => {
                        prop_assert_eq!(region, before);
                        prop_assert!(error.needed > error.free, "{:?}", error);
                    }
                }
            }
        }
    }
}
