//! Object kind codes, as the retype and list calls use them.
//!
//! The numbers are the design's `abi::ObjectKind` codes. **Placeholder:**
//! until `abi::ObjectKind` (abi/src/kind.rs) is merged, rinit names the few
//! it uses here; then these constants become `ObjectKind::X as u64` and
//! [`describe`] uses `ObjectKind::name`.

use abi::syscall::ListEntry;
use core::fmt;

pub const UNTYPED: u64 = 1;
pub const CPOOL: u64 = 2;
pub const PDPT: u64 = 4;
pub const PD: u64 = 5;
pub const PT: u64 = 6;
pub const RAW_PAGE: u64 = 7;
pub const TASK: u64 = 9;

/// The name of kind `code`.
pub fn name(code: u64) -> &'static str {
    const NAMES: [&str; 10] =
        ["Untyped", "CPool", "PML4", "PDPT", "PD", "PT", "RawPage", "DevicePage", "Task", "Channel"];
    let index = usize::try_from(code.wrapping_sub(1)).unwrap_or(usize::MAX);
    NAMES.get(index).copied().unwrap_or("unknown kind")
}

/// A list entry as a line of text: the kind, and its detail where it has one.
pub fn describe(entry: &ListEntry) -> impl fmt::Display + '_ {
    struct Describe<'e>(&'e ListEntry);
    impl fmt::Display for Describe<'_> {
        fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
            let ListEntry { kind, detail, .. } = *self.0;
            f.write_str(name(u64::from(kind)))?;
            match u64::from(kind) {
                UNTYPED => write!(f, ", {detail} bytes free"),
                CPOOL => write!(f, ", {detail} slots used"),
                _ => Ok(()),
            }
        }
    }
    Describe(entry)
}
