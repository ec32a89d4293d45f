//! The boot-time frame allocator: hands out 4 KiB physical frames of RAM,
//! one after the other, and never takes one back.
//!
//! TEACHING SHORTCUT, TEMPORARY: this allocator exists only so that stage 2
//! has frames for page tables. Stage 3 replaces it with untyped memory
//! capabilities, from which every kernel object is retyped.

use common::memory::Span;
use x86_64::PhysAddr;
use x86_64::structures::paging::PhysFrame;

/// Size of a frame (and of a small page).
pub const FRAME_SIZE: u64 = 4096;
/// Frames below 1 MiB are never handed out: the BIOS, the VGA buffer and
/// other legacy hardware live there.
pub const LOW_MEMORY_END: u64 = 0x10_0000;

const MAX_REGIONS: usize = 32;
const MAX_RESERVED: usize = 16;

/// Something that provides zero-or-more fresh frames.
pub trait FrameSource {
    /// A frame nobody else uses, or `None` when memory is exhausted.
    fn allocate_frame(&mut self) -> Option<PhysFrame>;
}

/// A fixed-capacity list of address ranges (the kernel has no heap).
#[derive(Clone, Copy, Debug)]
struct Spans<const N: usize> {
    spans: [Span; N],
    count: usize,
}

impl<const N: usize> Spans<N> {
    const fn new() -> Self {
        Self { spans: [Span::new(0, 0); N], count: 0 }
    }

    fn push(&mut self, span: Span) -> Result<(), FrameError> {
        let slot = self.spans.get_mut(self.count).ok_or(FrameError::TooManyRanges)?;
        *slot = span;
        self.count += 1;
        Ok(())
    }

    fn iter(&self) -> impl Iterator<Item = &Span> {
        self.spans[..self.count].iter()
    }
}

/// What can go wrong while describing memory to the allocator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameError {
    /// More ranges than the allocator's fixed tables hold.
    TooManyRanges,
}

// ANCHOR: allocator
/// Hands out the available RAM frame by frame, lowest address first,
/// skipping the first MiB and every reserved range.
#[derive(Debug)]
pub struct BootFrameAllocator {
    available: Spans<MAX_REGIONS>,
    reserved: Spans<MAX_RESERVED>,
    /// No frame below this address is handed out again.
    next: u64,
    allocated: u64,
}

impl BootFrameAllocator {
    /// An allocator with nothing to give yet.
    pub const fn new() -> Self {
        Self { available: Spans::new(), reserved: Spans::new(), next: LOW_MEMORY_END, allocated: 0 }
    }

    /// Adds a range of RAM the memory map reports as available.
    pub fn add_available(&mut self, span: Span) -> Result<(), FrameError> {
        self.available.push(span)
    }

    /// Marks a range (the kernel image, the boot information, a module) as
    /// never to be handed out.
    pub fn reserve(&mut self, span: Span) -> Result<(), FrameError> {
        self.reserved.push(span)
    }

    /// How many frames have been handed out.
    pub fn allocated(&self) -> u64 {
        self.allocated
    }

    /// Whether the frame at `start` lies wholly in available RAM and in no
    /// reserved range.
    fn is_free(&self, start: u64) -> bool {
        let frame = Span::new(start, start + FRAME_SIZE);
        let inside = |span: &Span| span.start <= frame.start && frame.end <= span.end;
        let overlaps = |span: &Span| span.start < frame.end && frame.start < span.end;
        self.available.iter().any(inside) && !self.reserved.iter().any(overlaps)
    }

    /// The lowest frame-aligned address at or above `address` where some
    /// available region has a whole frame, if any.
    fn next_candidate(&self, address: u64) -> Option<u64> {
        self.available
            .iter()
            .filter_map(|span| {
                let start = address.max(span.start).next_multiple_of(FRAME_SIZE);
                (start + FRAME_SIZE <= span.end).then_some(start)
            })
            .min()
    }
}

impl FrameSource for BootFrameAllocator {
    fn allocate_frame(&mut self) -> Option<PhysFrame> {
        let mut candidate = self.next_candidate(self.next)?;
        while !self.is_free(candidate) {
            candidate = self.next_candidate(candidate + FRAME_SIZE)?;
        }
        self.next = candidate + FRAME_SIZE;
        self.allocated += 1;
        Some(PhysFrame::containing_address(PhysAddr::new(candidate)))
    }
}
// ANCHOR_END: allocator

impl Default for BootFrameAllocator {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allocator(available: &[(u64, u64)], reserved: &[(u64, u64)]) -> BootFrameAllocator {
        let mut allocator = BootFrameAllocator::new();
        for &(start, end) in available {
            allocator.add_available(Span::new(start, end)).unwrap();
        }
        for &(start, end) in reserved {
            allocator.reserve(Span::new(start, end)).unwrap();
        }
        allocator
    }

    fn drain(allocator: &mut BootFrameAllocator) -> Vec<u64> {
        core::iter::from_fn(|| allocator.allocate_frame())
            .map(|frame| frame.start_address().as_u64())
            .collect()
    }

    #[test]
    fn never_hands_out_low_memory_or_reserved_frames() {
        let mut allocator = allocator(&[(0, 0x9fc00), (0x100000, 0x110000)], &[(0x101000, 0x103800)]);
        let frames = drain(&mut allocator);
        let expected: Vec<u64> =
            [0x100000].into_iter().chain((0x104000..0x110000).step_by(FRAME_SIZE as usize)).collect();
        assert_eq!(frames, expected);
        assert_eq!(allocator.allocated(), expected.len() as u64);
    }

    #[test]
    fn skips_partial_frames_at_region_edges() {
        let mut allocator = allocator(&[(0x100800, 0x102800), (0x200000, 0x201000)], &[]);
        assert_eq!(drain(&mut allocator), vec![0x101000, 0x200000]);
    }

    #[test]
    fn every_frame_is_handed_out_once_and_then_none() {
        let mut allocator = allocator(&[(0x100000, 0x140000), (0x120000, 0x130000)], &[]);
        let frames = drain(&mut allocator);
        let mut unique = frames.clone();
        unique.dedup();
        assert_eq!(frames.len(), 64);
        assert_eq!(unique, frames, "frames are handed out in order, each once");
        assert!(allocator.allocate_frame().is_none());
    }

    #[test]
    fn fixed_tables_report_overflow() {
        let mut allocator = BootFrameAllocator::new();
        for i in 0..MAX_RESERVED as u64 {
            allocator.reserve(Span::new(i, i + 1)).unwrap();
        }
        assert_eq!(allocator.reserve(Span::new(0, 1)), Err(FrameError::TooManyRanges));
    }
}
