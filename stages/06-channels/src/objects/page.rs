//! Pages as objects: a page of RAM, made by retype, and a page of device
//! memory, which the kernel adopts (it is not RAM, so never retyped).
//!
//! A page holds nothing, but it can be mapped into an address space: its
//! state records where ([`MapState`]), so destroying it unmaps it first.

use super::header::{Doomed, Header};
use super::mapping::{self, MapState};
use super::{KernelObject, Layout, ObjectKind, PAGE, RetypeError};

/// A 4 KiB page of RAM: the marker type of its kind.
pub struct RawPage;

/// A 4 KiB page of device memory, such as the VGA text buffer.
pub struct DevicePage;

// ANCHOR: raw_page
impl KernelObject for RawPage {
    const KIND: ObjectKind = ObjectKind::RawPage;
    type State = MapState;

    fn layout(size: u64) -> Result<Layout, RetypeError> {
        Layout::fixed(Self::KIND, size, PAGE, PAGE)
    }

    unsafe fn destroy(object: &Header, _: &mut Doomed) {
        mapping::unmap(object);
    }
}
// ANCHOR_END: raw_page

impl KernelObject for DevicePage {
    const KIND: ObjectKind = ObjectKind::DevicePage;
    type State = MapState;

    /// Device memory is not RAM: retype never makes it (see
    /// `ManagedArc<Untyped>::adopt_device_page`).
    fn layout(_: u64) -> Result<Layout, RetypeError> {
        Err(RetypeError::NotRetypable(Self::KIND))
    }

    unsafe fn destroy(object: &Header, _: &mut Doomed) {
        mapping::unmap(object);
    }
}
