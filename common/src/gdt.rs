//! The kernel's Global Descriptor Table and Task State Segment.
//!
//! In long mode segments are mostly vestigial, but the CPU still needs a
//! code segment to know it runs 64-bit code at ring 0, and a Task State
//! Segment (TSS) to know which stacks to switch to when an interrupt
//! arrives. The TSS's Interrupt Stack Table gives exception handlers stacks
//! of their own: a page fault caused by running off the kernel stack can
//! then still be reported, and an exception never writes over the red zone
//! of the code it interrupts.
//!
//! The user segments are here already, in the order the `syscall`/`sysret`
//! instructions require; user mode arrives in stage 5, and with it the
//! TSS's `rsp0`: the stack the CPU switches to when an interrupt arrives
//! from ring 3 ([`set_ring0_stack`]).

use core::cell::UnsafeCell;
use spin::Once;
use x86_64::VirtAddr;
use x86_64::instructions::segmentation::{CS, DS, ES, SS, Segment};
use x86_64::instructions::tables::load_tss;
use x86_64::registers::segmentation::SegmentSelector;
use x86_64::structures::gdt::{Descriptor, GlobalDescriptorTable};
use x86_64::structures::tss::TaskStateSegment;

/// Interrupt Stack Table slot (0-based, as the `x86_64` crate counts) used by
/// every exception except the double fault.
pub const EXCEPTION_IST_INDEX: u16 = 0;
/// IST slot of the double fault, so that a fault while handling another
/// fault still finds a good stack.
pub const DOUBLE_FAULT_IST_INDEX: u16 = 1;
/// IST slot of the non-maskable interrupt and the machine check, which can
/// arrive at any instruction, even while the kernel is still using the
/// exception stack (stage 5's `user_trap_exit` copies a frame off it):
/// on a stack of their own, they cannot write over that frame.
pub const NON_MASKABLE_IST_INDEX: u16 = 2;

const IST_STACK_SIZE: usize = 16 * 1024;

/// A stack for the Interrupt Stack Table: only its address is ever taken.
#[repr(C, align(16))]
struct Stack([u8; IST_STACK_SIZE]);

static mut EXCEPTION_STACK: Stack = Stack([0; IST_STACK_SIZE]);
static mut DOUBLE_FAULT_STACK: Stack = Stack([0; IST_STACK_SIZE]);
static mut NON_MASKABLE_STACK: Stack = Stack([0; IST_STACK_SIZE]);

/// The selectors of the kernel's segments.
#[derive(Debug, Clone, Copy)]
pub struct Selectors {
    pub kernel_code: SegmentSelector,
    pub kernel_data: SegmentSelector,
    pub user_data: SegmentSelector,
    pub user_code: SegmentSelector,
    pub tss: SegmentSelector,
}

/// The TSS. The CPU reads it, and [`set_ring0_stack`] writes `rsp0` while
/// the kernel runs, so it lives in an `UnsafeCell` that no Rust reference
/// outlives.
struct TssCell(UnsafeCell<TaskStateSegment>);

// SAFETY: one CPU, and the kernel runs with interrupts disabled: no two
// accesses to the TSS ever overlap.
unsafe impl Sync for TssCell {}

static TSS: TssCell = TssCell(UnsafeCell::new(TaskStateSegment::new()));
static GDT: Once<(GlobalDescriptorTable, Selectors)> = Once::new();

/// The end (highest address) of a stack: stacks grow down.
fn top_of(stack: *const Stack) -> VirtAddr {
    VirtAddr::from_ptr(stack) + IST_STACK_SIZE as u64
}

// ANCHOR: init
/// Loads the GDT and TSS and reloads every segment register.
pub fn init() -> Selectors {
    let (gdt, selectors) = GDT.call_once(|| {
        let tss = TSS.0.get();
        // SAFETY: the GDT is built once, before the TSS is loaded: nothing
        // else touches the TSS yet.
        unsafe {
            (*tss).interrupt_stack_table[usize::from(EXCEPTION_IST_INDEX)] =
                top_of(&raw const EXCEPTION_STACK);
            (*tss).interrupt_stack_table[usize::from(DOUBLE_FAULT_IST_INDEX)] =
                top_of(&raw const DOUBLE_FAULT_STACK);
            (*tss).interrupt_stack_table[usize::from(NON_MASKABLE_IST_INDEX)] =
                top_of(&raw const NON_MASKABLE_STACK);
        }
        let mut gdt = GlobalDescriptorTable::new();
        let kernel_code = gdt.append(Descriptor::kernel_code_segment());
        let kernel_data = gdt.append(Descriptor::kernel_data_segment());
        let user_data = gdt.append(Descriptor::user_data_segment());
        let user_code = gdt.append(Descriptor::user_code_segment());
        // SAFETY: the TSS is a static: it is valid for as long as the GDT.
        let tss = gdt.append(unsafe { Descriptor::tss_segment_unchecked(tss) });
        (gdt, Selectors { kernel_code, kernel_data, user_data, user_code, tss })
    });
    gdt.load();
    // SAFETY: the selectors index descriptors of the GDT just loaded, which
    // lives in a static for ever; the code and data segments are the flat
    // 64-bit ones the kernel already runs on, so nothing moves.
    unsafe {
        CS::set_reg(selectors.kernel_code);
        SS::set_reg(selectors.kernel_data);
        DS::set_reg(selectors.kernel_data);
        ES::set_reg(selectors.kernel_data);
        load_tss(selectors.tss);
    }
    *selectors
}
// ANCHOR_END: init

// ANCHOR: rsp0
/// Makes `top` the stack the CPU switches to when an interrupt or exception
/// without an IST stack arrives from ring 3 (the TSS's `rsp0`).
///
/// # Safety
/// Until the next call, `top` must be the end of memory the CPU may push
/// an interrupt frame into, 16-byte aligned (so a kernel address, which
/// is canonical: it is taken as it is, unchecked, since every switch to a
/// task sets it).
#[inline]
pub unsafe fn set_ring0_stack(top: u64) {
    // SAFETY: one CPU, interrupts disabled in the kernel: nothing else
    // reads or writes the TSS now; the CPU reads it only on a trap.
    unsafe { (*TSS.0.get()).privilege_stack_table[0] = VirtAddr::new_truncate(top) };
}
// ANCHOR_END: rsp0
