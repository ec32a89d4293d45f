//! User mode: entering ring 3 with [`run`], and coming back.
//!
//! A task's registers live in a [`UserContext`]. [`run`] loads them and
//! enters ring 3; whatever brings the CPU back (a system call, an
//! interrupt, an exception) saves them again and returns from `run`, as if
//! it were an ordinary call that took a while, with the reason: a
//! [`Trap`]. The kernel stays one thread of control on one stack: it never
//! has to remember *where in the kernel* a task was, only the task's own
//! registers.
//!
//! The assembly is in `switch.S`; [`init`] points the `syscall`
//! instruction at it.

use crate::exceptions::{PAGE_FAULT, name};
use crate::gdt::{self, Selectors};
use crate::println;
use crate::trap::TrapFrame;
use core::fmt;
use x86_64::VirtAddr;
use x86_64::registers::control::{Cr0, Cr0Flags, Cr4, Cr4Flags};
use x86_64::registers::model_specific::{Efer, EferFlags, LStar, SFMask, Star};
use x86_64::registers::rflags::RFlags;

/// The `vector` a system call leaves in the saved frame: past the 256
/// interrupt vectors, so it is never mistaken for one.
pub const SYSCALL_VECTOR: u64 = 256;
/// The first vector of the hardware interrupts (IRQ 0 is vector 32).
pub const FIRST_IRQ_VECTOR: u64 = 32;

const FRAME_SIZE: usize = size_of::<TrapFrame>();

core::arch::global_asm!(
    include_str!("../trap/registers.S"),
    include_str!("switch.S"),
    frame_size = const FRAME_SIZE,
    frame_words = const FRAME_SIZE / 8,
    user_code = const USER_CODE,
    user_data = const USER_DATA,
    syscall_vector = const SYSCALL_VECTOR,
    options(att_syntax)
);

unsafe extern "C" {
    fn switch_to(context: *mut UserContext);
    fn syscall_entry();
    static mut current_user_frame: *mut TrapFrame;
    static mut current_user_frame_end: u64;
}

/// The user code selector (GDT entry 4, privilege 3), as `gdt` lays it out.
const USER_CODE: u64 = 0x20 | 3;
/// The user data selector (GDT entry 3, privilege 3).
const USER_DATA: u64 = 0x18 | 3;

// ANCHOR: context
/// The SSE and x87 state, in the 512-byte layout of `fxsave`.
#[repr(C, align(16))]
#[derive(Clone)]
pub struct FpuState([u8; 512]);

impl FpuState {
    /// The state a new task starts with: every floating-point exception
    /// masked, as after `fninit` and with the default MXCSR.
    pub fn initial() -> Self {
        let mut bytes = [0; 512];
        bytes[0..2].copy_from_slice(&0x037F_u16.to_le_bytes()); // x87 control word
        bytes[24..28].copy_from_slice(&0x1F80_u32.to_le_bytes()); // MXCSR
        FpuState(bytes)
    }
}

/// Everything a task's code sees of the CPU: its registers, saved while it
/// does not run.
#[repr(C, align(16))]
#[derive(Clone)]
pub struct UserContext {
    /// The general registers and the interrupt frame, in the layout the
    /// trap path pushes.
    pub frame: TrapFrame,
    /// The SSE and x87 registers.
    pub fpu: FpuState,
}
// ANCHOR_END: context

const _: () = assert!(FRAME_SIZE.is_multiple_of(16), "rsp0 must stay 16-byte aligned");
const _: () = assert!(core::mem::offset_of!(UserContext, fpu) == FRAME_SIZE);

impl UserContext {
    /// A task that will start at `entry` with stack pointer `stack`, every
    /// other register zero.
    pub fn new(entry: u64, stack: u64) -> Self {
        let frame = TrapFrame { rip: entry, rsp: stack, ..TrapFrame::default() };
        UserContext { frame, fpu: FpuState::initial() }
    }
}

impl Default for UserContext {
    fn default() -> Self {
        Self::new(0, 0)
    }
}

// ANCHOR: user_flags
/// The flags a task may set for itself: the arithmetic flags and the
/// direction flag. Never the trap flag (single-stepping is a debugger's
/// business), never IOPL (port access), never IF (the kernel decides).
const USER_CHANGEABLE_FLAGS: u64 = 0x0CD5;

/// Whether `address` is a canonical address of the user half: one
/// address, such as an instruction or stack pointer. (For a range of
/// bytes, an ELF segment say, `abi::is_user_range`.)
pub fn is_user_address(address: u64) -> bool {
    address < abi::USER_END
}
// ANCHOR_END: user_flags

// ANCHOR: trap
/// Why a task stopped running and the kernel got the CPU back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trap {
    /// The task executed `syscall`: the call's number and arguments are in
    /// its saved registers.
    SystemCall,
    /// A hardware interrupt arrived: IRQ `0..16` from the interrupt
    /// controller.
    Interrupt(u8),
    /// The task's own instruction raised an exception.
    Fault(Fault),
}

/// A CPU exception raised by a task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fault {
    /// The exception vector (0 to 31), or [`Fault::BAD_INSTRUCTION_POINTER`].
    pub vector: u64,
    pub error_code: u64,
    /// The instruction that faulted.
    pub rip: u64,
    /// For page faults, the address touched (CR2).
    pub address: Option<u64>,
}
// ANCHOR_END: trap

impl Fault {
    // ANCHOR: bad_instruction_pointer
    /// Not a CPU exception: the task's instruction pointer is outside the
    /// user half (a `syscall` at the very top of it returns to a
    /// non-canonical address), so the kernel refuses to return to it.
    pub const BAD_INSTRUCTION_POINTER: u64 = u64::MAX;
    // ANCHOR_END: bad_instruction_pointer

    /// The fault's name.
    pub fn name(&self) -> &'static str {
        match self.vector {
            Self::BAD_INSTRUCTION_POINTER => "instruction pointer outside the user half",
            vector => name(vector),
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{} at rip {:#x}", self.name(), self.rip)?;
        if let Some(address) = self.address {
            let cause = crate::exceptions::PageFaultCause(self.error_code);
            write!(f, ", address {address:#x} ({cause})")?;
        } else if self.error_code != 0 {
            write!(f, ", error code {:#x}", self.error_code)?;
        }
        Ok(())
    }
}

// ANCHOR: syscall_mask
/// The flags `syscall` clears as it enters the kernel (the SFMASK
/// register): every flag a task can leave set that changes how the
/// kernel's own instructions behave. A task's `popfq` can set all of these
/// but IOPL; `syscall` itself clears RF, and VM cannot be set in 64-bit
/// mode (Intel SDM vol. 2, SYSCALL and POPF; AMD APM vol. 3, SYSCALL).
/// - IF: the kernel runs with interrupts off.
/// - TF: single-stepping would trap (#DB) on the kernel's next instruction.
/// - DF: Rust code assumes string instructions count up.
/// - AC: with SMAP, AC set lets the kernel touch user pages unnoticed.
/// - NT: `iretq` with NT set is a task return, #GP in 64-bit mode: the
///   kernel's `iretq` back to any task would fault, stopping the machine.
/// - IOPL and RF: no task can set them, cleared all the same, so that the
///   kernel never runs with a value it did not choose.
///
/// The arithmetic flags are left as they are: no kernel code reads them
/// before setting them. An interrupt or exception from ring 3 clears IF,
/// TF, NT and RF itself (an interrupt gate does), and the entry path
/// clears DF (`cld`); AC matters there only with SMAP, which the kernel
/// does not turn on. The way back (`iretq` in `switch_to`) loads the
/// task's own flags, within [`USER_CHANGEABLE_FLAGS`].
const SYSCALL_CLEARED_FLAGS: RFlags = RFlags::INTERRUPT_FLAG
    .union(RFlags::TRAP_FLAG)
    .union(RFlags::DIRECTION_FLAG)
    .union(RFlags::ALIGNMENT_CHECK)
    .union(RFlags::NESTED_TASK)
    .union(RFlags::IOPL_HIGH)
    .union(RFlags::IOPL_LOW)
    .union(RFlags::RESUME_FLAG);
// ANCHOR_END: syscall_mask

// ANCHOR: init
/// Sets the CPU up for system calls: `syscall` jumps to `syscall_entry`
/// in ring 0 with interrupts off, and the user segments are the ones
/// [`gdt`] laid out for it.
pub fn init(selectors: &Selectors) {
    assert_eq!(u64::from(selectors.user_code.0), USER_CODE, "the GDT order switch.S expects");
    assert_eq!(u64::from(selectors.user_data.0), USER_DATA, "the GDT order switch.S expects");
    Star::write(selectors.user_code, selectors.user_data, selectors.kernel_code, selectors.kernel_data)
        .expect("the GDT has the segment order syscall and sysret need");
    LStar::write(VirtAddr::new(syscall_entry as *const () as u64));
    SFMask::write(SYSCALL_CLEARED_FLAGS);
    // SAFETY: turning on the `syscall` instruction; its target is set.
    unsafe { Efer::update(|flags| flags.insert(EferFlags::SYSTEM_CALL_EXTENSIONS)) };
    report_x87_errors_as_exceptions();
    hide_descriptor_tables();
}
// ANCHOR_END: init

// ANCHOR: numeric_error
/// Sets CR0.NE: an unmasked x87 error then raises #MF (vector 16) in the
/// task that made it, at its next x87 instruction, a fault like the others.
/// With NE clear (how the boot leaves it) the CPU signals it the way of the
/// 1980s, on a pin to the interrupt controller that nothing listens to, and
/// the error goes unnoticed.
fn report_x87_errors_as_exceptions() {
    // SAFETY: NE changes only how x87 errors are reported; the kernel
    // itself uses no x87 instructions but `fninit`, which reports nothing.
    unsafe { Cr0::update(|flags| flags.insert(Cr0Flags::NUMERIC_ERROR)) };
}
// ANCHOR_END: numeric_error

// ANCHOR: umip
/// Turns on UMIP (user-mode instruction prevention, CR4 bit 11) where the
/// CPU has it (CPUID leaf 7, ECX bit 2): `sgdt`, `sidt`, `sldt`, `smsw`
/// and `str` are then a general protection fault in ring 3, instead of
/// telling a task where the kernel keeps its GDT, IDT and TSS. Without it,
/// they work: the book's chapter 5 says what that gives away.
fn hide_descriptor_tables() {
    // A CPU without leaf 7 would answer with another leaf's values: ask
    // only one whose highest leaf (leaf 0's EAX) is 7 or more.
    use core::arch::x86_64::{__cpuid, __cpuid_count};
    let has_umip = __cpuid(0).eax >= 7 && __cpuid_count(7, 0).ecx & (1 << 2) != 0;
    if !has_umip {
        println!("UMIP: not on this CPU: ring 3 can read the descriptor tables' addresses");
        return;
    }
    // SAFETY: UMIP affects only those five instructions in ring 3; the
    // kernel never runs ring 3 code that needs them.
    unsafe { Cr4::update(|flags| flags.insert(Cr4Flags::USER_MODE_INSTRUCTION_PREVENTION)) };
    println!("UMIP on: ring 3 cannot read the descriptor tables");
}
// ANCHOR_END: umip

// ANCHOR: run
/// Runs the task whose registers are `context` in ring 3 until it traps,
/// and says why it stopped. The registers are saved back into `context`.
///
/// # Safety
/// The task's address space (CR3) must be loaded, map the kernel half as
/// the kernel's own tables do, and nothing else may use `context` until
/// this returns. [`init`] must have run.
#[inline]
pub unsafe fn run(context: &mut UserContext) -> Trap {
    let frame = &mut context.frame;
    if !is_user_address(frame.rip) {
        let rip = frame.rip;
        return Trap::Fault(Fault {
            vector: Fault::BAD_INSTRUCTION_POINTER,
            error_code: 0,
            rip,
            address: None,
        });
    }
    // Whatever the task left there, it returns to ring 3 with interrupts
    // on and no I/O privilege.
    frame.cs = USER_CODE;
    frame.ss = USER_DATA;
    frame.rflags = (frame.rflags & USER_CHANGEABLE_FLAGS) | RFlags::INTERRUPT_FLAG.bits() | 0x2;
    let start = frame as *mut TrapFrame;
    let end = start as u64 + FRAME_SIZE as u64;
    // SAFETY: the frame ends 16-byte aligned (UserContext is aligned, the
    // frame's size a multiple of 16), and it is ours until we return; an
    // interrupt from ring 3 pushes its frame there, into the context.
    unsafe {
        gdt::set_ring0_stack(end);
        current_user_frame = start;
        current_user_frame_end = end;
    }
    // SAFETY: the caller's promises; `switch_to` returns once the task traps,
    // with its registers saved in `context`.
    unsafe { switch_to(context) };
    trap_of(&context.frame)
}
// ANCHOR_END: run

// ANCHOR: trap_of
/// The reason recorded in the frame a trap from ring 3 saved.
#[inline]
fn trap_of(frame: &TrapFrame) -> Trap {
    match frame.vector {
        SYSCALL_VECTOR => Trap::SystemCall,
        vector @ 0..FIRST_IRQ_VECTOR => Trap::Fault(Fault {
            vector,
            error_code: frame.error_code,
            rip: frame.rip,
            address: (vector == PAGE_FAULT).then(x86_64::registers::control::Cr2::read_raw),
        }),
        vector => Trap::Interrupt((vector - FIRST_IRQ_VECTOR) as u8),
    }
}
// ANCHOR_END: trap_of

#[cfg(test)]
mod tests {
    use super::*;

    /// A fault handler's report of a fault message (`abi::fault`, the
    /// stage-6 shell's for its child) says what the kernel's report of
    /// the same fault says, word for word.
    #[test]
    fn fault_messages_are_reported_as_the_kernel_reports_faults() {
        let vectors = (0..=33).chain([Fault::BAD_INSTRUCTION_POINTER]);
        for vector in vectors {
            for error_code in 0..32 {
                let address = (vector == PAGE_FAULT).then_some(0x7fff_1000 + error_code);
                let fault = Fault { vector, error_code, rip: 0x40_1234, address };
                let message = abi::fault::FaultMessage {
                    vector,
                    address,
                    error_code,
                    instruction: fault.rip,
                    task_id: 3,
                };
                assert_eq!(message.to_string(), fault.to_string());
            }
        }
    }

    #[test]
    fn initial_fpu_state_masks_every_exception() {
        let state = FpuState::initial();
        assert_eq!(u16::from_le_bytes([state.0[0], state.0[1]]), 0x037F);
        assert_eq!(u32::from_le_bytes(state.0[24..28].try_into().unwrap()), 0x1F80);
    }

    #[test]
    fn only_user_half_addresses_are_user_addresses() {
        assert!(is_user_address(0x40_0000));
        assert!(is_user_address(0x7FFF_FFFF_FFFF));
        assert!(!is_user_address(0x8000_0000_0000));
        assert!(!is_user_address(0xFFFF_8000_0000_0000));
    }

    #[test]
    fn traps_are_decoded_from_the_vector() {
        let frame = |vector| TrapFrame { vector, rip: 0x1234, error_code: 0, ..TrapFrame::default() };
        assert_eq!(trap_of(&frame(SYSCALL_VECTOR)), Trap::SystemCall);
        assert_eq!(trap_of(&frame(32)), Trap::Interrupt(0));
        assert_eq!(trap_of(&frame(36)), Trap::Interrupt(4));
        let divide = Trap::Fault(Fault { vector: 0, error_code: 0, rip: 0x1234, address: None });
        assert_eq!(trap_of(&frame(0)), divide);
    }

    #[test]
    fn syscall_clears_every_flag_that_changes_the_kernel() {
        // A task's NT reaching the kernel's `iretq` stopped the machine.
        let must = RFlags::INTERRUPT_FLAG
            | RFlags::TRAP_FLAG
            | RFlags::DIRECTION_FLAG
            | RFlags::ALIGNMENT_CHECK
            | RFlags::NESTED_TASK;
        assert!(SYSCALL_CLEARED_FLAGS.contains(must));
        // Nothing a task may set for itself is a flag the kernel clears,
        // but DF: masked on the way in, the task's own on the way back.
        let kept = USER_CHANGEABLE_FLAGS & !RFlags::DIRECTION_FLAG.bits();
        assert_eq!(SYSCALL_CLEARED_FLAGS.bits() & kept, 0);
    }

    #[test]
    fn user_changeable_flags_exclude_interrupts_and_io_privilege() {
        let forbidden = RFlags::INTERRUPT_FLAG | RFlags::IOPL_HIGH | RFlags::IOPL_LOW | RFlags::NESTED_TASK;
        assert_eq!(USER_CHANGEABLE_FLAGS & forbidden.bits(), 0);
    }
}
