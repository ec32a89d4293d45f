//! The kinds of kernel object, named the same way by the kernel and by
//! user space: the tag in an object's header, the code a system call
//! passes, the name a listing prints.
//!
//! The codes are part of the ABI and never change. Task and Channel get
//! their objects in stages 5 and 6, IrqLine and PortRange in stage 6's
//! drivers; their codes are fixed already.

use core::fmt;

// ANCHOR: kind
/// The kind of a kernel object.
///
/// An Untyped's size is not part of its kind: a retype passes it beside
/// the kind, and the object keeps it.
#[repr(u64)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ObjectKind {
    /// Memory not yet made into objects; retype makes objects from it.
    Untyped = 1,
    /// A capability pool: 256 slots, each empty or naming an object.
    CPool = 2,
    /// The page tables of the four levels, top down.
    Pml4 = 3,
    Pdpt = 4,
    Pd = 5,
    Pt = 6,
    /// A 4 KiB page of RAM.
    RawPage = 7,
    /// A 4 KiB page of device memory (the VGA text buffer): not RAM, so
    /// never made by retype.
    DevicePage = 8,
    /// A thread of execution with its own registers (stage 5).
    Task = 9,
    /// A queue of messages between tasks (stage 6).
    Channel = 10,
    /// One interrupt line of the PICs, which can be bound to a channel
    /// (stage 6, [`crate::device`]): never made by retype.
    IrqLine = 11,
    /// A run of I/O ports a task may read, and perhaps write (stage 6,
    /// [`crate::device`]): never made by retype.
    PortRange = 12,
}
// ANCHOR_END: kind

impl ObjectKind {
    /// Every kind, in the order of their codes.
    pub const ALL: [ObjectKind; 12] = [
        ObjectKind::Untyped,
        ObjectKind::CPool,
        ObjectKind::Pml4,
        ObjectKind::Pdpt,
        ObjectKind::Pd,
        ObjectKind::Pt,
        ObjectKind::RawPage,
        ObjectKind::DevicePage,
        ObjectKind::Task,
        ObjectKind::Channel,
        ObjectKind::IrqLine,
        ObjectKind::PortRange,
    ];

    /// The kind's code, as a system call passes it.
    pub const fn code(self) -> u64 {
        self as u64
    }

    /// The kind's name, as listings and messages spell it.
    pub const fn name(self) -> &'static str {
        match self {
            ObjectKind::Untyped => "Untyped",
            ObjectKind::CPool => "CPool",
            ObjectKind::Pml4 => "PML4",
            ObjectKind::Pdpt => "PDPT",
            ObjectKind::Pd => "PD",
            ObjectKind::Pt => "PT",
            ObjectKind::RawPage => "RawPage",
            ObjectKind::DevicePage => "DevicePage",
            ObjectKind::Task => "Task",
            ObjectKind::Channel => "Channel",
            ObjectKind::IrqLine => "IrqLine",
            ObjectKind::PortRange => "PortRange",
        }
    }

    /// The indefinite article for the name: "an Untyped", "a CPool".
    pub const fn article(self) -> &'static str {
        match self {
            ObjectKind::Untyped | ObjectKind::IrqLine => "an",
            _ => "a",
        }
    }
}

impl TryFrom<u64> for ObjectKind {
    type Error = UnknownKind;

    fn try_from(code: u64) -> Result<Self, UnknownKind> {
        ObjectKind::ALL.into_iter().find(|kind| kind.code() == code).ok_or(UnknownKind(code))
    }
}

impl fmt::Display for ObjectKind {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A code that names no kind of object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnknownKind(pub u64);

impl fmt::Display for UnknownKind {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{} is not the code of a kind of object", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_are_fixed() {
        for kind in ObjectKind::ALL {
            assert_eq!(ObjectKind::try_from(kind.code()), Ok(kind));
        }
        let codes = ObjectKind::ALL.map(ObjectKind::code);
        assert_eq!(codes, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], "the codes are ABI: never renumber");
        assert_eq!(ObjectKind::try_from(0), Err(UnknownKind(0)));
        assert_eq!(ObjectKind::try_from(13), Err(UnknownKind(13)));
        assert_eq!(ObjectKind::try_from(u64::MAX), Err(UnknownKind(u64::MAX)));
    }

    #[test]
    fn names_are_distinct_and_take_their_article() {
        let names = ObjectKind::ALL.map(ObjectKind::name);
        assert_eq!(
            names,
            [
                "Untyped",
                "CPool",
                "PML4",
                "PDPT",
                "PD",
                "PT",
                "RawPage",
                "DevicePage",
                "Task",
                "Channel",
                "IrqLine",
                "PortRange"
            ]
        );
        let phrase = |kind: ObjectKind| format!("{} {kind}", kind.article());
        assert_eq!(phrase(ObjectKind::Untyped), "an Untyped");
        assert_eq!(phrase(ObjectKind::CPool), "a CPool");
        assert_eq!(phrase(ObjectKind::RawPage), "a RawPage");
    }
}
