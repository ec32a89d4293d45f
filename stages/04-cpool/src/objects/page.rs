//! Pages as objects: a page of RAM, made by retype, and a page of device
//! memory, which the kernel adopts (it is not RAM, so never retyped).
//!
//! Neither holds anything, so destroying one has nothing to let go of. (In
//! stage 5, pages are mapped into address spaces; their state will record
//! where, so destroying one can unmap it.)

use super::{KernelObject, Layout, ObjectKind, PAGE, RetypeError};

/// A 4 KiB page of RAM: the marker type of its kind.
pub struct RawPage;

/// A 4 KiB page of device memory, such as the VGA text buffer.
pub struct DevicePage;

impl KernelObject for RawPage {
    const KIND: ObjectKind = ObjectKind::RawPage;
    type State = ();

    fn layout(size: u64) -> Result<Layout, RetypeError> {
        Layout::fixed(Self::KIND, size, PAGE, PAGE)
    }
}

impl KernelObject for DevicePage {
    const KIND: ObjectKind = ObjectKind::DevicePage;
    type State = ();

    /// Device memory is not RAM: retype never makes it (see
    /// `ManagedArc<Untyped>::adopt_device_page`).
    fn layout(_: u64) -> Result<Layout, RetypeError> {
        Err(RetypeError::NotRetypable(Self::KIND))
    }
}
