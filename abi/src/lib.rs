//! The ABI shared by the kernels and user space: how capabilities are
//! addressed ([`CAddr`]) and where the first task finds its capabilities
//! ([`root`]); from stage 5, the system calls ([`syscall`], [`error`]) and
//! the first task's root pool ([`task_root`]).

#![cfg_attr(not(test), no_std)]
#![deny(unsafe_op_in_unsafe_fn)]

use core::fmt;

pub mod device;
pub mod error;
pub mod fault;
mod kind;
pub mod syscall;
#[path = "root.rs"]
pub mod task_root;

pub use error::Error;
pub use kind::{ObjectKind, UnknownKind};
pub use syscall::{
    CHILD_TASK_BUFFER, Call, PAGE_SIZE, STACK_PAGES, STACK_TOP, TASK_BUFFER, USER_END, USER_IMAGE_BASE,
    is_user_range,
};

/// The deepest a capability address reaches: one byte per level, so that
/// the raw form (the depth in one byte, then the levels) fills exactly one
/// 64-bit register.
pub const MAX_DEPTH: usize = 7;
/// Slots in a capability pool: any byte is a valid index.
pub const CPOOL_SLOTS: usize = 256;

// ANCHOR: caddr
/// The address of a capability slot: a path through nested capability
/// pools, one byte (a slot index) per level, starting at a task's root pool.
///
/// `CAddr::new(&[3])` is slot 3 of the root pool; `CAddr::new(&[2, 7])` is
/// slot 7 of the pool whose capability is in slot 2 of the root pool.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct CAddr {
    path: [u8; MAX_DEPTH],
    depth: u8,
}

impl CAddr {
    /// The address `path`, which must have 1 to [`MAX_DEPTH`] levels.
    pub const fn new(path: &[u8]) -> Result<CAddr, CAddrError> {
        if path.is_empty() || path.len() > MAX_DEPTH {
            return Err(CAddrError::Depth(path.len()));
        }
        let mut bytes = [0; MAX_DEPTH];
        let mut i = 0;
        while i < path.len() {
            bytes[i] = path[i];
            i += 1;
        }
        Ok(CAddr { path: bytes, depth: path.len() as u8 })
    }

    /// Slot `index` of the root pool.
    pub const fn root(index: u8) -> CAddr {
        CAddr { path: [index, 0, 0, 0, 0, 0, 0], depth: 1 }
    }

    /// The slot indices, root level first.
    pub fn path(&self) -> &[u8] {
        &self.path[..usize::from(self.depth)]
    }

    /// The number of levels.
    pub const fn depth(&self) -> usize {
        self.depth as usize
    }

    /// Packs the address into one register, as system calls pass it: the
    /// depth in the low byte, then the indices, root level first, and zero
    /// above the last level. Inverse of [`CAddr::from_raw`].
    ///
    /// ```text
    /// bits 63..56  55..48  ...  15..8    7..0
    ///      level 7 level 6 ...  level 1  depth      CAddr 2.7 = 0x0000_0000_0007_0202
    /// ```
    pub const fn to_raw(&self) -> u64 {
        let mut raw = self.depth as u64;
        let mut level = 0;
        while level < self.depth as usize {
            raw |= (self.path[level] as u64) << (8 * (level + 1));
            level += 1;
        }
        raw
    }

    /// Unpacks [`CAddr::to_raw`]. Refuses a depth of 0 or above
    /// [`MAX_DEPTH`], and any non-zero byte above the last level: a value
    /// that `to_raw` cannot produce is not an address.
    pub const fn from_raw(raw: u64) -> Result<CAddr, CAddrError> {
        let depth = (raw & 0xff) as usize;
        if depth == 0 || depth > MAX_DEPTH {
            return Err(CAddrError::Depth(depth));
        }
        // At full depth there is nothing above the last level (and a shift
        // by 64 would overflow).
        let unused = match raw.checked_shr(8 * (depth as u32 + 1)) {
            Some(bytes) => bytes,
            None => 0,
        };
        if unused != 0 {
            return Err(CAddrError::UnusedBytes(raw));
        }
        // The bytes above the last level are zero (checked above), so the
        // path is simply the seven bytes above the depth.
        let bytes = (raw >> 8).to_le_bytes();
        let path = [bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6]];
        Ok(CAddr { path, depth: depth as u8 })
    }
}
// ANCHOR_END: caddr

impl fmt::Display for CAddr {
    /// Slot indices separated by dots, root level first: `2.7`.
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        for (level, index) in self.path().iter().enumerate() {
            if level > 0 {
                f.write_str(".")?;
            }
            write!(f, "{index}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for CAddr {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "CAddr({self})")
    }
}

/// A malformed capability address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CAddrError {
    /// Not 1 to [`MAX_DEPTH`] levels.
    Depth(usize),
    /// A raw address (this one) with non-zero bytes above its last level.
    UnusedBytes(u64),
}

impl fmt::Display for CAddrError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            CAddrError::Depth(depth) => {
                write!(f, "a capability address has 1 to {MAX_DEPTH} levels, not {depth}")
            }
            CAddrError::UnusedBytes(raw) => write!(
                f,
                "raw capability address {raw:#x} (depth {}) has non-zero bytes above its last level",
                raw & 0xff
            ),
        }
    }
}

// ANCHOR: root_layout
/// Where the kernel puts the first task's capabilities in its root pool.
pub mod root {
    /// The root pool itself.
    pub const CPOOL: u8 = 0;
    /// The VGA text buffer page.
    pub const VGA: u8 = 1;
    /// The first untyped memory capability; the others follow it.
    pub const FIRST_UNTYPED: u8 = 8;
    /// The most untyped capabilities the layout has room for.
    pub const MAX_UNTYPED: u8 = 56;
    /// The first slot the kernel leaves empty for the task's own use.
    pub const FIRST_FREE: u8 = FIRST_UNTYPED + MAX_UNTYPED;

    /// Every named slot or range, for printing the layout.
    pub const LAYOUT: [(u8, u8, &str); 5] = [
        (CPOOL, CPOOL, "this root capability pool"),
        (VGA, VGA, "the VGA text buffer page"),
        (VGA + 1, FIRST_UNTYPED - 1, "kept for the task's own objects (stage 5)"),
        (FIRST_UNTYPED, FIRST_FREE - 1, "untyped memory, one capability per region"),
        (FIRST_FREE, u8::MAX, "free"),
    ];
}
// ANCHOR_END: root_layout

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// What a shell or a kernel report prints for these (the mutation tests
    /// found nothing checked them).
    #[test]
    fn addresses_and_unknown_numbers_print_what_they_are() {
        assert_eq!(std::format!("{:?}", CAddr::new(&[2, 0, 17]).unwrap()), "CAddr(2.0.17)");
        assert_eq!(error::UnknownNumber(99).to_string(), "unknown number 99");
        assert_eq!(UnknownKind(12).to_string(), "12 is not the code of a kind of object");
    }

    #[test]
    fn addresses_have_one_to_seven_levels() {
        assert_eq!(CAddr::new(&[]), Err(CAddrError::Depth(0)));
        assert_eq!(CAddr::new(&[0; 8]), Err(CAddrError::Depth(8)));
        let deep = CAddr::new(&[1, 2, 3, 4, 5, 6, 7]).unwrap();
        assert_eq!(deep.depth(), 7);
        assert_eq!(deep.to_string(), "1.2.3.4.5.6.7");
        assert_eq!(CAddr::root(5).path(), &[5]);
    }

    #[test]
    fn raw_form_is_depth_then_levels() {
        let address = CAddr::new(&[2, 255, 0]).unwrap();
        assert_eq!(address.to_raw(), 0x00_ff_02_03);
        assert_eq!(CAddr::new(&[2, 7]).unwrap().to_raw(), 0x0007_0202);
        let full = CAddr::new(&[0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0xff]).unwrap();
        assert_eq!(full.to_raw(), 0xff66_5544_3322_1107);
    }

    #[test]
    fn every_depth_round_trips() {
        for depth in 1..=MAX_DEPTH {
            // Distinct, non-zero indices, the last one all ones: a dropped
            // or shifted level shows.
            let mut path: Vec<u8> = (1..=depth as u8).map(|level| level * 0x11).collect();
            *path.last_mut().unwrap() = 0xff;
            let address = CAddr::new(&path).unwrap();
            assert_eq!(CAddr::from_raw(address.to_raw()), Ok(address), "depth {depth}");
            assert_eq!(CAddr::from_raw(address.to_raw()).unwrap().path(), &path[..]);
        }
    }

    #[test]
    fn bad_depths_are_refused() {
        assert_eq!(CAddr::from_raw(0), Err(CAddrError::Depth(0)));
        assert_eq!(CAddr::from_raw(8), Err(CAddrError::Depth(8)));
        assert_eq!(CAddr::from_raw(0xff), Err(CAddrError::Depth(255)));
    }

    #[test]
    fn bytes_above_the_last_level_are_refused() {
        for depth in 1..MAX_DEPTH as u64 {
            for byte in depth + 1..8 {
                let raw = depth | 1 << (8 * byte);
                assert_eq!(CAddr::from_raw(raw), Err(CAddrError::UnusedBytes(raw)), "{raw:#x}");
            }
        }
        assert_eq!(
            CAddrError::UnusedBytes(0x0100_0000_0000_0001).to_string(),
            "raw capability address 0x100000000000001 (depth 1) has non-zero bytes above its last level"
        );
    }

    proptest! {
        /// Any register value is either refused or exactly what `to_raw`
        /// makes of the address it decodes to: nothing is silently dropped.
        #[test]
        fn any_raw_value_is_refused_or_round_trips(raw in any::<u64>()) {
            let depth = (raw & 0xff) as usize;
            let well_formed = (1..=MAX_DEPTH).contains(&depth)
                && raw.checked_shr(8 * (depth as u32 + 1)).unwrap_or(0) == 0;
            match CAddr::from_raw(raw) {
                Ok(address) => {
                    prop_assert!(well_formed);
                    prop_assert_eq!(address.depth(), depth);
                    prop_assert_eq!(address.to_raw(), raw);
                }
                Err(_) => prop_assert!(!well_formed),
            }
        }

        /// Any path of 1 to `MAX_DEPTH` levels survives the raw form.
        #[test]
        fn any_path_round_trips(path in proptest::collection::vec(any::<u8>(), 1..=MAX_DEPTH)) {
            let address = CAddr::new(&path).unwrap();
            prop_assert_eq!(CAddr::from_raw(address.to_raw()), Ok(address));
        }
    }

    #[test]
    fn root_layout_fits_one_pool_without_overlaps() {
        let mut previous_end = None;
        for (first, last, _) in root::LAYOUT {
            assert!(first <= last);
            if let Some(end) = previous_end {
                assert_eq!(first, end + 1, "ranges follow each other");
            }
            previous_end = Some(last);
        }
        assert_eq!(previous_end, Some(u8::MAX));
    }
}
