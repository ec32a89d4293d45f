//! The four paging levels as types. Each is the marker type of a kind of
//! object (a page table of that level, see `objects::table`) and says at
//! compile time which level a capability or object is, so that a PD can
//! only be mapped into a PDPT.

use super::Level;
use crate::objects::KernelObject;

/// Page Map Level 4: the top table, the one CR3 points to.
pub struct Pml4;
/// Page Directory Pointer Table: each entry covers 1 GiB.
pub struct Pdpt;
/// Page Directory: each entry covers 2 MiB.
pub struct Pd;
/// Page Table: each entry maps one 4 KiB page.
pub struct Pt;

/// A level as a type: its [`Level`], and its kind of object (the object's
/// kind is `LEVEL.kind()`).
pub trait TableLevel: KernelObject {
    const LEVEL: Level;
}

impl TableLevel for Pml4 {
    const LEVEL: Level = Level::Pml4;
}
impl TableLevel for Pdpt {
    const LEVEL: Level = Level::Pdpt;
}
impl TableLevel for Pd {
    const LEVEL: Level = Level::Pd;
}
impl TableLevel for Pt {
    const LEVEL: Level = Level::Pt;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_level_type_is_the_kind_of_its_level() {
        fn check<L: TableLevel>() {
            assert_eq!(L::KIND, L::LEVEL.kind());
        }
        check::<Pml4>();
        check::<Pdpt>();
        check::<Pd>();
        check::<Pt>();
    }
}
