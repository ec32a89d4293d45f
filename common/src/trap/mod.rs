//! Traps: how the CPU's interrupts and exceptions reach Rust code.
//!
//! Every one of the 256 vectors has an entry stub (`entry.S`) that saves the
//! interrupted registers as a [`TrapFrame`] and calls one dispatcher, which
//! calls the handler the kernel registered with [`init`]. When the handler
//! returns, the registers in the frame (changed or not) are restored and the
//! interrupted code continues.

mod idt;

use crate::gdt::{DOUBLE_FAULT_IST_INDEX, EXCEPTION_IST_INDEX, NON_MASKABLE_IST_INDEX};
use idt::{Gate, Idt};
use spin::Once;
use x86_64::registers::segmentation::SegmentSelector;

core::arch::global_asm!(
    include_str!("registers.S"),
    include_str!("entry.S"),
    dispatch = sym dispatch,
    frame_cs = const core::mem::offset_of!(TrapFrame, cs),
    options(att_syntax)
);

// ANCHOR: frame_layout
/// `registers.S` pushes rax first and r15 last, from the top of the
/// general registers down: each register's place in [`TrapFrame`] is the
/// one its push gives it. (The hardware's part follows: the stub's vector
/// and error code, then what the CPU pushed.)
const _: () = {
    use core::mem::offset_of;
    let pushed = [
        offset_of!(TrapFrame, r15),
        offset_of!(TrapFrame, r14),
        offset_of!(TrapFrame, r13),
        offset_of!(TrapFrame, r12),
        offset_of!(TrapFrame, r11),
        offset_of!(TrapFrame, r10),
        offset_of!(TrapFrame, r9),
        offset_of!(TrapFrame, r8),
        offset_of!(TrapFrame, rbp),
        offset_of!(TrapFrame, rdi),
        offset_of!(TrapFrame, rsi),
        offset_of!(TrapFrame, rdx),
        offset_of!(TrapFrame, rcx),
        offset_of!(TrapFrame, rbx),
        offset_of!(TrapFrame, rax),
    ];
    let mut index = 0;
    while index < pushed.len() {
        assert!(pushed[index] == index * 8, "TrapFrame's registers are not in registers.S's order");
        index += 1;
    }
    assert!(offset_of!(TrapFrame, vector) == pushed.len() * 8);
};
// ANCHOR_END: frame_layout

// ANCHOR: trap_frame
/// The registers of the interrupted code, as the entry path saved them,
/// lowest address first.
#[repr(C)]
#[derive(Clone, Debug, Default)]
pub struct TrapFrame {
    pub r15: u64,
    pub r14: u64,
    pub r13: u64,
    pub r12: u64,
    pub r11: u64,
    pub r10: u64,
    pub r9: u64,
    pub r8: u64,
    pub rbp: u64,
    pub rdi: u64,
    pub rsi: u64,
    pub rdx: u64,
    pub rcx: u64,
    pub rbx: u64,
    pub rax: u64,
    /// Pushed by the stub.
    pub vector: u64,
    /// Pushed by the CPU for some exceptions, a zero from the stub otherwise.
    pub error_code: u64,
    // Pushed by the CPU.
    pub rip: u64,
    pub cs: u64,
    pub rflags: u64,
    pub rsp: u64,
    pub ss: u64,
}
// ANCHOR_END: trap_frame

/// What the kernel does with a trap.
pub type Handler = fn(&mut TrapFrame);

/// The number of CPU exception vectors; interrupts start after them.
pub const EXCEPTION_VECTORS: usize = 32;
/// Vector of the double fault exception.
pub const DOUBLE_FAULT: u64 = 8;
/// Vector of the non-maskable interrupt.
pub const NMI: u64 = 2;
/// Vector of the machine check exception.
pub const MACHINE_CHECK: u64 = 18;
/// Vector of the breakpoint exception (`int3`).
const BREAKPOINT: u64 = crate::exceptions::BREAKPOINT;

static HANDLER: Once<Handler> = Once::new();
static IDT: Once<Idt> = Once::new();

unsafe extern "C" {
    /// The first of the 256 entry stubs in `entry.S`, each 16 bytes long.
    static trap_stubs: [[u8; 16]; 256];
}

// ANCHOR: init
/// Builds and loads the Interrupt Descriptor Table. From now on every
/// exception calls `handler`, on an Interrupt Stack Table stack (see
/// `gdt`). Interrupts stay disabled: the kernel does not take them.
pub fn init(kernel_code: SegmentSelector, handler: Handler) {
    HANDLER.call_once(|| handler);
    let idt = IDT.call_once(|| {
        let mut idt = Idt::new();
        for vector in 0..256 {
            let stub = (&raw const trap_stubs) as u64 + 16 * vector as u64;
            let stack = match vector as u64 {
                DOUBLE_FAULT => Some(DOUBLE_FAULT_IST_INDEX),
                NMI | MACHINE_CHECK => Some(NON_MASKABLE_IST_INDEX),
                v if (v as usize) < EXCEPTION_VECTORS => Some(EXCEPTION_IST_INDEX),
                _ => None,
            };
            let gate = Gate::interrupt(stub, kernel_code, stack);
            // Only the breakpoint may be raised by code with `int`; every
            // other vector comes from the CPU or the hardware alone.
            let gate = if vector as u64 == BREAKPOINT { gate.callable_from_user() } else { gate };
            idt.set(vector, gate);
        }
        idt
    });
    idt.load();
}
// ANCHOR_END: init

/// Called by `trap_common` with the saved registers.
extern "C" fn dispatch(frame: &mut TrapFrame) {
    match HANDLER.get() {
        Some(handler) => handler(frame),
        // Unreachable: `init` sets the handler before loading the table.
        None => crate::qemu::halt_forever(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trap_frame_matches_what_the_entry_path_pushes() {
        // 15 general registers, vector, error code, 5 words from the CPU.
        assert_eq!(core::mem::size_of::<TrapFrame>(), 22 * 8);
        assert_eq!(core::mem::offset_of!(TrapFrame, vector), 15 * 8);
        assert_eq!(core::mem::offset_of!(TrapFrame, rip), 17 * 8);
        // entry.S tests the privilege bits of the saved CS (at the offset
        // `offset_of!` gives it): the CPU pushed it second of its five.
        assert_eq!(core::mem::offset_of!(TrapFrame, cs), 18 * 8);
    }
}
