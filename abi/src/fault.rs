//! Fault messages (stage 6): what a fault handler learns when a task it
//! handles faults.
//!
//! A task with a fault channel ([`TaskField::FaultChannel`]) that raises a
//! CPU exception is not stopped: the kernel *suspends* it and puts one
//! [`MessageKind::Fault`] message on its fault channel. The handler that
//! takes it gets two things:
//!
//! - **a capability to the task that faulted**, put in the destination slot
//!   it named in its take (as for a [`MessageKind::Capability`] message).
//!   That is how the handler names the task afterwards: it resumes it with
//!   [`Call::TaskResume`] or stops it with [`Call::TaskStop`], both on that
//!   slot, and a handler that can map memory for it does so through the
//!   capabilities it holds itself. (seL4 does the same with its reply
//!   capability: the right to answer is a capability, not a number anyone
//!   could guess.)
//! - **a [`FaultMessage`]** in its task buffer: the vector, the faulting
//!   address (CR2, for a page fault), the error code, the instruction
//!   pointer, and the task's number (for reports only: a number names
//!   nothing, it grants nothing).
//!
//! [`TaskField::FaultChannel`]: crate::syscall::TaskField::FaultChannel
//! [`MessageKind::Fault`]: crate::syscall::MessageKind::Fault
//! [`MessageKind::Capability`]: crate::syscall::MessageKind::Capability
//! [`Call::TaskResume`]: crate::Call::TaskResume
//! [`Call::TaskStop`]: crate::Call::TaskStop

// ANCHOR: fault_message
/// The vector of a page fault: the fault a pager answers.
pub const PAGE_FAULT: u64 = 14;
/// Not a CPU exception: the task's instruction pointer left the user half
/// (the kernel refuses to return there). The same number as stage 5's.
pub const BAD_INSTRUCTION_POINTER: u64 = u64::MAX;

/// One fault, as the handler finds it at the start of its task buffer:
///
/// ```text
/// bytes  0..8   vector (0..31, or BAD_INSTRUCTION_POINTER)
/// bytes  8..16  flags: bit 0 set if the address below is valid (a page
///               fault); every other bit zero
/// bytes 16..24  the address touched (CR2), else 0
/// bytes 24..32  the error code the CPU pushed (0 if none)
/// bytes 32..40  the instruction pointer of the faulting instruction
/// bytes 40..48  the number of the task that faulted (for reports)
/// ```
///
/// every field little-endian.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FaultMessage {
    /// The exception vector.
    pub vector: u64,
    /// For a page fault, the address touched.
    pub address: Option<u64>,
    /// The error code the CPU pushed (for a page fault, [`PageFaultCode`]
    /// bits).
    pub error_code: u64,
    /// The instruction that faulted: where a resumed task starts again.
    pub instruction: u64,
    /// The task's number, as the kernel's reports print it.
    pub task_id: u64,
}
// ANCHOR_END: fault_message

/// The names of the 32 exception vectors, from the Intel manual: the
/// kernel's reports (`common::exceptions::name`) and a fault handler's own
/// reports both take their words from here.
pub const EXCEPTION_NAMES: [&str; 32] = [
    "divide error",
    "debug",
    "non-maskable interrupt",
    "breakpoint",
    "overflow",
    "bound range exceeded",
    "invalid opcode",
    "device not available",
    "double fault",
    "coprocessor segment overrun",
    "invalid TSS",
    "segment not present",
    "stack-segment fault",
    "general protection fault",
    "page fault",
    "reserved",
    "x87 floating-point error",
    "alignment check",
    "machine check",
    "SIMD floating-point exception",
    "virtualization exception",
    "control protection exception",
    "reserved",
    "reserved",
    "reserved",
    "reserved",
    "reserved",
    "reserved",
    "hypervisor injection exception",
    "VMM communication exception",
    "security exception",
    "reserved",
];

/// The name of a fault's vector, as the kernel's reports print it.
pub fn name(vector: u64) -> &'static str {
    match vector {
        BAD_INSTRUCTION_POINTER => "instruction pointer outside the user half",
        vector => EXCEPTION_NAMES.get(vector as usize).copied().unwrap_or("interrupt"),
    }
}

/// The fault as the kernel's report of a stopped task says it, after
/// `task N stopped by a fault: `: `page fault at rip 0x401234, address
/// 0x10 (page not present, read, user mode)`.
impl core::fmt::Display for FaultMessage {
    fn fmt(&self, f: &mut core::fmt::Formatter) -> core::fmt::Result {
        write!(f, "{} at rip {:#x}", name(self.vector), self.instruction)?;
        if let Some(address) = self.address {
            let code = PageFaultCode::from_bits_retain(self.error_code);
            let page = if code.contains(PageFaultCode::PRESENT) {
                "protection violation"
            } else {
                "page not present"
            };
            let access = if code.contains(PageFaultCode::FETCH) {
                "instruction fetch"
            } else if code.contains(PageFaultCode::WRITE) {
                "write"
            } else {
                "read"
            };
            let mode = if code.contains(PageFaultCode::USER) { "user mode" } else { "kernel mode" };
            write!(f, ", address {address:#x} ({page}, {access}, {mode}")?;
            if code.contains(PageFaultCode::RESERVED) {
                f.write_str(", reserved bit set")?;
            }
            f.write_str(")")?;
        } else if self.error_code != 0 {
            write!(f, ", error code {:#x}", self.error_code)?;
        }
        Ok(())
    }
}

/// The flag bit saying the address is valid.
const ADDRESS_VALID: u64 = 1;

impl FaultMessage {
    /// Bytes of one message in the task buffer.
    pub const SIZE: usize = 48;

    /// The message's bytes.
    pub fn encode(&self) -> [u8; FaultMessage::SIZE] {
        let flags = if self.address.is_some() { ADDRESS_VALID } else { 0 };
        let words =
            [self.vector, flags, self.address.unwrap_or(0), self.error_code, self.instruction, self.task_id];
        let mut bytes = [0; FaultMessage::SIZE];
        for (chunk, word) in bytes.chunks_exact_mut(8).zip(words) {
            chunk.copy_from_slice(&word.to_le_bytes());
        }
        bytes
    }

    /// Reads a message back from the first [`FaultMessage::SIZE`] bytes of
    /// `bytes`; `None` if there are fewer, or the flags or an address
    /// without its flag are not what [`encode`](Self::encode) writes.
    pub fn decode(bytes: &[u8]) -> Option<FaultMessage> {
        let bytes = bytes.get(..FaultMessage::SIZE)?;
        let mut words = [0u64; 6];
        for (word, chunk) in words.iter_mut().zip(bytes.chunks_exact(8)) {
            *word = u64::from_le_bytes(chunk.try_into().ok()?);
        }
        let [vector, flags, address, error_code, instruction, task_id] = words;
        let address = match flags {
            ADDRESS_VALID => Some(address),
            0 if address == 0 => None,
            _ => return None,
        };
        Some(FaultMessage { vector, address, error_code, instruction, task_id })
    }

    /// Whether this is a page fault, with the page-fault bits of its error
    /// code.
    pub fn page_fault(&self) -> Option<(u64, PageFaultCode)> {
        match (self.vector, self.address) {
            (PAGE_FAULT, Some(address)) => Some((address, PageFaultCode::from_bits_retain(self.error_code))),
            _ => None,
        }
    }
}

bitflags::bitflags! {
    /// The bits of a page fault's error code (Intel SDM vol. 3, 4.7).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct PageFaultCode: u64 {
        /// The page was present: a protection fault, not a missing page.
        const PRESENT = 1 << 0;
        /// The access was a write.
        const WRITE = 1 << 1;
        /// The access came from user mode.
        const USER = 1 << 2;
        /// A reserved bit was set in a page-table entry.
        const RESERVED = 1 << 3;
        /// The access was an instruction fetch.
        const FETCH = 1 << 4;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_page_fault_round_trips_with_its_address() {
        let message = FaultMessage {
            vector: PAGE_FAULT,
            address: Some(0x5000_0123),
            error_code: 0b110,
            instruction: 0x40_1234,
            task_id: 7,
        };
        let bytes = message.encode();
        assert_eq!(bytes[..8], 14u64.to_le_bytes());
        assert_eq!(bytes[8..16], 1u64.to_le_bytes());
        assert_eq!(FaultMessage::decode(&bytes), Some(message));
        let (address, code) = message.page_fault().unwrap();
        assert_eq!(address, 0x5000_0123);
        assert_eq!(code, PageFaultCode::WRITE | PageFaultCode::USER);
    }

    #[test]
    fn other_faults_have_no_address_and_no_page_fault_bits() {
        let message =
            FaultMessage { vector: 6, address: None, error_code: 0, instruction: 0x40_0000, task_id: 2 };
        assert_eq!(FaultMessage::decode(&message.encode()), Some(message));
        assert_eq!(message.page_fault(), None);
    }

    #[test]
    fn malformed_messages_are_refused() {
        let mut bytes =
            FaultMessage { vector: 13, address: None, error_code: 0, instruction: 1, task_id: 1 }.encode();
        assert_eq!(FaultMessage::decode(&bytes[..47]), None, "too short");
        bytes[8] = 2;
        assert_eq!(FaultMessage::decode(&bytes), None, "an unknown flag");
        bytes[8] = 0;
        bytes[16] = 1;
        assert_eq!(FaultMessage::decode(&bytes), None, "an address without its flag");
    }

    proptest! {
        #[test]
        fn decoding_never_panics_and_round_trips(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            if let Some(message) = FaultMessage::decode(&bytes) {
                prop_assert_eq!(&message.encode()[..], &bytes[..FaultMessage::SIZE]);
            }
        }
    }
}
