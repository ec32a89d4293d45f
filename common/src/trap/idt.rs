//! The Interrupt Descriptor Table: one 16-byte gate per vector, telling the
//! CPU where the handler is, which code segment it runs in, whether user
//! code may raise it with `int`, and which stack to switch to.
//!
//! The `x86_64` crate has an IDT type, but its typed fields are built for
//! the `x86-interrupt` calling convention, which stable Rust lacks; our
//! vectors all go to assembly stubs, so a plain array of gates says more.

use x86_64::VirtAddr;
use x86_64::instructions::tables::lidt;
use x86_64::registers::segmentation::SegmentSelector;
use x86_64::structures::DescriptorTablePointer;

// ANCHOR: gate
/// One IDT entry, in the layout the CPU reads.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct Gate {
    offset_low: u16,
    selector: u16,
    /// Bits 0-2: IST slot (0 = stay on the current stack); 8-11: gate type;
    /// 13-14: lowest privilege level allowed to use `int` on it; 15: present.
    options: u16,
    offset_middle: u16,
    offset_high: u32,
    reserved: u32,
}

const PRESENT: u16 = 1 << 15;
/// A 64-bit interrupt gate: the CPU disables interrupts on entry.
const INTERRUPT_GATE: u16 = 0xE << 8;

impl Gate {
    /// A present interrupt gate to `handler` in segment `code`, reachable
    /// only from ring 0 (and from hardware). `stack` is an index into the
    /// TSS's Interrupt Stack Table, counted from 0 as the `x86_64` crate
    /// does; the gate stores it plus one.
    pub fn interrupt(handler: u64, code: SegmentSelector, stack: Option<u16>) -> Self {
        let ist = stack.map_or(0, |index| index + 1);
        Self {
            offset_low: handler as u16,
            selector: code.0,
            options: PRESENT | INTERRUPT_GATE | ist,
            offset_middle: (handler >> 16) as u16,
            offset_high: (handler >> 32) as u32,
            reserved: 0,
        }
    }

    /// The same gate, reachable from ring 3 with `int` too: for the
    /// breakpoint (`int3`), so that a task's breakpoint is reported as one
    /// rather than as a general protection fault.
    pub fn callable_from_user(mut self) -> Self {
        self.options |= 3 << 13;
        self
    }

    /// The handler address stored in the gate.
    #[cfg(test)]
    fn handler(&self) -> u64 {
        u64::from(self.offset_low) | u64::from(self.offset_middle) << 16 | u64::from(self.offset_high) << 32
    }
}
// ANCHOR_END: gate

/// The table: 256 gates.
#[repr(C, align(16))]
pub struct Idt([Gate; 256]);

impl Idt {
    /// A table of non-present gates: any vector raises a fault.
    pub fn new() -> Self {
        Self([Gate::default(); 256])
    }

    /// Sets the gate of `vector`.
    pub fn set(&mut self, vector: usize, gate: Gate) {
        self.0[vector] = gate;
    }

    /// Makes this the CPU's table.
    pub fn load(&'static self) {
        let pointer = DescriptorTablePointer {
            limit: (core::mem::size_of::<Self>() - 1) as u16,
            base: VirtAddr::from_ptr(self),
        };
        // SAFETY: the table is 'static, so it outlives its use by the CPU,
        // and every present gate points to an entry stub.
        unsafe { lidt(&pointer) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use x86_64::PrivilegeLevel;

    #[test]
    fn gate_encodes_handler_selector_and_stack() {
        let code = SegmentSelector::new(1, PrivilegeLevel::Ring0);
        let gate = Gate::interrupt(0xFFFF_FFFF_8012_3456, code, Some(1));
        assert_eq!(gate.handler(), 0xFFFF_FFFF_8012_3456);
        assert_eq!(gate.selector, 0x08);
        assert_eq!(gate.options, 0x8E02);
        assert_eq!(Gate::interrupt(0, code, None).options, 0x8E00);
        assert_eq!(Gate::interrupt(0, code, None).callable_from_user().options, 0xEE00);
        assert_eq!(core::mem::size_of::<Gate>(), 16);
    }
}
