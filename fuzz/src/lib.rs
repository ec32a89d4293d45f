//! What the fuzz targets share: playing a call sequence on the host twin
//! with the audit, and checking what the ELF loader makes of some bytes.

use abi::syscall::{MapRights, PAGE_SIZE, USER_END};
use common::elf::{self, SegmentSink};
use stage6_channels::fuzz_twin::{Choices, Twin, random_calls};
use std::collections::BTreeMap;

/// The most scheduler turns one run plays (the same for the guided and
/// the random target, so that a run costs about the same in each).
pub const TURNS: usize = 200;

/// How often the audit runs, in turns (as in `fuzz_tests.rs`).
const AUDIT_EVERY: usize = 25;

// ANCHOR: play
/// Plays up to `turns` scheduler turns on a fresh twin, until `choices`
/// runs out, each running the calls `random_calls` makes of `choices`,
/// with the audit every few turns and at the end; then revokes everything
/// the calls made and audits again. A broken invariant panics (libFuzzer
/// keeps the input).
pub fn play(turns: usize, choices: &mut impl Choices) {
    let twin = Twin::new();
    let check = |twin: &Twin, turn: usize| {
        if let Err(error) = twin.audit() {
            panic!("the audit failed at turn {turn}: {error}");
        }
    };
    let mut turn = 0;
    while turn < turns && !choices.is_exhausted() {
        twin.turn(|| random_calls(choices));
        turn += 1;
        if turn % AUDIT_EVERY == 0 {
            check(&twin, turn);
        }
    }
    check(&twin, turn);
    if let Err(error) = twin.finish() {
        panic!("after {turn} turns: {error}");
    }
}
// ANCHOR_END: play

/// A sink keeping every page the loader asks for, up to `limit`.
struct Pages {
    pages: BTreeMap<u64, (Box<[u8; PAGE_SIZE as usize]>, MapRights)>,
    order: Vec<u64>,
    limit: usize,
}

impl SegmentSink for Pages {
    type Error = ();

    fn page(&mut self, page: u64, rights: MapRights) -> Result<&mut [u8; PAGE_SIZE as usize], ()> {
        if self.pages.len() >= self.limit {
            return Err(());
        }
        assert!(page.is_multiple_of(PAGE_SIZE), "a page-aligned address");
        self.order.push(page);
        let (memory, _) =
            self.pages.entry(page).or_insert_with(|| (Box::new([0; PAGE_SIZE as usize]), rights));
        Ok(memory)
    }
}

/// Plans `data` as an ELF file (copied to 8-byte aligned memory, as the
/// kernel's modules are) and, if the plan accepts it, checks the plan's
/// promises and what loading it writes. A broken promise panics.
pub fn check_elf(data: &[u8]) {
    let mut words = vec![0u64; data.len().div_ceil(8)];
    for (word, chunk) in words.iter_mut().zip(data.chunks(8)) {
        let mut full = [0; 8];
        full[..chunk.len()].copy_from_slice(chunk);
        *word = u64::from_ne_bytes(full);
    }
    // SAFETY: the words own at least `data.len()` initialised bytes.
    let image = unsafe { std::slice::from_raw_parts(words.as_ptr().cast::<u8>(), data.len()) };
    let Ok(plan) = elf::plan(image) else { return };
    let segments = plan.segments();
    assert!(!segments.is_empty() && segments.len() <= elf::MAX_SEGMENTS);
    for segment in segments {
        assert!(segment.memory_size > 0 && segment.file_size <= segment.memory_size);
        assert!(segment.address >= PAGE_SIZE && segment.end() <= USER_END);
        assert!(segment.file_offset + segment.file_size <= image.len() as u64 || segment.file_size == 0);
    }
    for pair in segments.windows(2) {
        assert!(pair[0].end() <= pair[1].address, "sorted and apart");
    }
    let in_code = |s: &&elf::Segment| {
        s.rights.contains(MapRights::EXECUTABLE)
            && (s.address..s.address + s.file_size).contains(&plan.entry())
    };
    assert!(segments.iter().any(|s| in_code(&s)), "the entry is in code");
    let pages: Vec<(u64, MapRights)> = plan.pages().take(65).collect();
    for pair in pages.windows(2) {
        assert!(pair[0].0 < pair[1].0, "each page once, ascending");
    }
    for &(page, rights) in &pages {
        assert!(!rights.contains(MapRights::WRITABLE | MapRights::EXECUTABLE), "W^X at {page:#x}");
    }
    let mut sink = Pages { pages: BTreeMap::new(), order: Vec::new(), limit: 64 };
    if plan.page_count() > 64 {
        assert!(plan.load(&mut sink).is_err(), "loading stops when the sink refuses");
        return;
    }
    assert_eq!(pages.len() as u64, plan.page_count());
    plan.load(&mut sink).expect("the sink has room");
    assert_eq!(sink.order, pages.iter().map(|&(page, _)| page).collect::<Vec<_>>());
    for (&page, (memory, _)) in &sink.pages {
        for (offset, &byte) in memory.iter().enumerate() {
            let address = page + offset as u64;
            let expected = segments
                .iter()
                .find(|s| (s.address..s.address + s.file_size).contains(&address))
                .map_or(0, |s| image[(s.file_offset + address - s.address) as usize]);
            assert_eq!(byte, expected, "the byte at {address:#x}");
        }
    }
}
