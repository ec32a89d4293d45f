//! The error codes a system call returns.
//!
//! Every refusal the kernel makes reaches user space as one of these codes in
//! `rax` (0 means success; see [`crate::syscall`]). The numbers are part of
//! the ABI: new errors take the next free number, none is ever renumbered.

use core::fmt;

/// A number that names no variant of the enum it was decoded into: an
/// unknown system-call number, error code or field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnknownNumber(pub u64);

impl fmt::Display for UnknownNumber {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "unknown number {}", self.0)
    }
}

/// Defines a `#[repr(u64)]` enum whose variants are numbered once, with
/// `TryFrom<u64>` (refusing every other number), `From<Self> for u64` and a
/// list of all variants, so that adding a variant is one line.
macro_rules! numbered_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $number:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr(u64)]
        pub enum $name {
            $( $(#[$vmeta])* $variant = $number, )+
        }

        impl $name {
            /// Every variant, in numbering order.
            pub const ALL: &[$name] = &[$($name::$variant),+];

            /// The variant's name, as written in the source.
            pub const fn name(self) -> &'static str {
                match self {
                    $( $name::$variant => stringify!($variant), )+
                }
            }
        }

        impl TryFrom<u64> for $name {
            type Error = $crate::error::UnknownNumber;

            fn try_from(number: u64) -> Result<Self, Self::Error> {
                match number {
                    $( $number => Ok($name::$variant), )+
                    other => Err($crate::error::UnknownNumber(other)),
                }
            }
        }

        impl From<$name> for u64 {
            fn from(value: $name) -> u64 {
                value as u64
            }
        }
    };
}
pub(crate) use numbered_enum;

// ANCHOR: error
numbered_enum! {
    /// Why a system call was refused. The kernel checks everything before it
    /// acts, so a refused call has changed nothing.
    pub enum Error {
        /// The call number names no system call.
        UnknownCall = 1,
        /// A capability address argument is malformed (bad depth).
        MalformedAddress = 2,
        /// A capability address names an empty slot (or passes through one).
        EmptySlot = 3,
        /// The destination slot already holds a capability.
        SlotOccupied = 4,
        /// A capability is not of the kind the call needs.
        WrongKind = 5,
        /// The untyped memory has no room for the object.
        OutOfMemory = 6,
        /// A number argument is out of its range (kind, field, rights, size).
        OutOfRange = 7,
        /// A length is longer than the task buffer.
        BufferTooLong = 8,
        /// The bytes to print are not valid UTF-8.
        InvalidUtf8 = 9,
        /// The object is in use (for example, a running task's own state).
        InUse = 10,
        /// The address, or the page or table, is already mapped.
        AlreadyMapped = 11,
        /// A page table on the way to the address is missing.
        MissingTable = 12,
        /// The address is not in the user half of the address space.
        NotUserAddress = 13,
        /// The address is not aligned to the page or table it maps.
        Misaligned = 14,
        /// The task lacks something it needs to run (stack, instruction,
        /// pool, table or buffer).
        NotConfigured = 15,
        /// The call needs a task buffer and the task has none.
        NoBuffer = 16,
        /// The object cannot be retyped this way (the kind is not made by
        /// retype, or the size does not suit it).
        NotRetypable = 17,
        /// The channel holds as many messages as it can (stage 6).
        ChannelFull = 18,
        /// The channel holds no message (stage 6).
        ChannelEmpty = 19,
        /// The other end of the channel is gone (stage 6).
        ChannelClosed = 20,
        /// The kernel's invariant audit found a broken one (stage 6).
        AuditFailed = 21,
        /// The task is not suspended by a fault, so it cannot be resumed
        /// (stage 6).
        NotSuspended = 22,
        /// The kernel's audit did not run: there are more objects than its
        /// scratch space holds. Nothing was checked, nothing found broken
        /// (stage 6).
        NotAudited = 23,
        /// The interrupt line has not fired since it was last acknowledged,
        /// or is not bound (stage 6).
        NoInterrupt = 24,
        /// The port range does not cover the port, or does not allow the
        /// write (stage 6).
        PortDenied = 25,
        /// The page is read-only (a page of a boot module, stage 6): it may
        /// be mapped, but not writable, and it cannot be a task buffer,
        /// which the kernel writes.
        ReadOnly = 26,
    }
}
// ANCHOR_END: error

impl Error {
    /// A one-line explanation, for a shell or a report to print.
    pub const fn message(self) -> &'static str {
        match self {
            Error::UnknownCall => "no system call has this number",
            Error::MalformedAddress => "malformed capability address",
            Error::EmptySlot => "the capability slot is empty",
            Error::SlotOccupied => "the destination slot is not empty",
            Error::WrongKind => "the capability is of the wrong kind for this call",
            Error::OutOfMemory => "not enough untyped memory left",
            Error::OutOfRange => "an argument is out of range",
            Error::BufferTooLong => "the length is longer than the task buffer",
            Error::InvalidUtf8 => "the text is not valid UTF-8",
            Error::InUse => "the object is in use",
            Error::AlreadyMapped => "already mapped",
            Error::MissingTable => "a page table on the way to the address is missing",
            Error::NotUserAddress => "the address is not in the user half",
            Error::Misaligned => "the address is not aligned",
            Error::NotConfigured => "the task is not fully configured",
            Error::NoBuffer => "the task has no task buffer",
            Error::NotRetypable => "the object cannot be retyped this way",
            Error::ChannelFull => "the channel is full",
            Error::ChannelEmpty => "the channel is empty",
            Error::ChannelClosed => "the channel is closed",
            Error::AuditFailed => "the kernel's invariant audit failed",
            Error::NotSuspended => "the task is not suspended by a fault",
            Error::NotAudited => "not audited: more objects than the audit has room for",
            Error::NoInterrupt => "the interrupt line has no interrupt to acknowledge",
            Error::PortDenied => "the port range does not allow this access",
            Error::ReadOnly => "the page is read-only",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.message())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_round_trips_and_is_numbered_from_one() {
        for (index, &error) in Error::ALL.iter().enumerate() {
            let code = u64::from(error);
            assert_eq!(code, index as u64 + 1, "{error:?} keeps its number");
            assert_eq!(Error::try_from(code), Ok(error));
        }
        let next = Error::ALL.len() as u64 + 1;
        assert_eq!(Error::try_from(next), Err(UnknownNumber(next)));
        assert_eq!(Error::try_from(0), Err(UnknownNumber(0)));
    }
}
