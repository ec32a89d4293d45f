//! The ABI shared by the kernels and user space: how capabilities are
//! addressed ([`CAddr`]) and where the first task finds its capabilities
//! ([`root`]). Stage 5 adds the system calls.

#![cfg_attr(not(test), no_std)]
#![deny(unsafe_op_in_unsafe_fn)]

use core::fmt;

mod kind;
pub use kind::{ObjectKind, UnknownKind};

/// The deepest a capability address reaches: one byte per level.
pub const MAX_DEPTH: usize = 8;
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
    /// The address `path`, which must have 1 to 8 levels.
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
        CAddr { path: [index, 0, 0, 0, 0, 0, 0, 0], depth: 1 }
    }

    /// The slot indices, root level first.
    pub fn path(&self) -> &[u8] {
        &self.path[..usize::from(self.depth)]
    }

    /// The number of levels.
    pub const fn depth(&self) -> usize {
        self.depth as usize
    }

    /// Packs the address into one register: the depth in the low byte, then
    /// the indices, root level first. Inverse of [`CAddr::from_raw`].
    pub fn to_raw(&self) -> u64 {
        let mut raw = u64::from(self.depth);
        for (level, &index) in self.path().iter().enumerate().take(7) {
            raw |= u64::from(index) << (8 * (level + 1));
        }
        raw
    }

    /// Unpacks [`CAddr::to_raw`]; a register holds at most 7 levels.
    pub fn from_raw(raw: u64) -> Result<CAddr, CAddrError> {
        let depth = (raw & 0xff) as usize;
        if depth == 0 || depth > 7 {
            return Err(CAddrError::Depth(depth));
        }
        let mut path = [0; MAX_DEPTH];
        for (level, byte) in path.iter_mut().enumerate().take(depth) {
            *byte = (raw >> (8 * (level + 1))) as u8;
        }
        CAddr::new(&path[..depth])
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
    /// Not 1 to 8 levels.
    Depth(usize),
}

impl fmt::Display for CAddrError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            CAddrError::Depth(depth) => {
                write!(f, "a capability address has 1 to {MAX_DEPTH} levels, not {depth}")
            }
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

    #[test]
    fn addresses_have_one_to_eight_levels() {
        assert_eq!(CAddr::new(&[]), Err(CAddrError::Depth(0)));
        assert_eq!(CAddr::new(&[0; 9]), Err(CAddrError::Depth(9)));
        let deep = CAddr::new(&[1, 2, 3, 4, 5, 6, 7, 8]).unwrap();
        assert_eq!(deep.depth(), 8);
        assert_eq!(deep.to_string(), "1.2.3.4.5.6.7.8");
        assert_eq!(CAddr::root(5).path(), &[5]);
    }

    #[test]
    fn raw_form_round_trips() {
        let address = CAddr::new(&[2, 255, 0]).unwrap();
        assert_eq!(address.to_raw(), 0x00_ff_02_03);
        assert_eq!(CAddr::from_raw(address.to_raw()), Ok(address));
        assert_eq!(CAddr::from_raw(0), Err(CAddrError::Depth(0)));
        assert_eq!(CAddr::from_raw(9), Err(CAddrError::Depth(9)));
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
