// The fifteen general registers of a `TrapFrame`, saved and restored in one
// place: every way into the kernel saves them with SAVE_GENERAL_REGISTERS
// (`trap_common` in entry.S, `syscall_entry` in user/switch.S), and every
// way out restores them with RESTORE_GENERAL_REGISTERS (`trap_common`, and
// `switch_to` into ring 3).
//
// The pushes build the frame from its top down, so the first register
// pushed (rax) is the last field of the general registers in `TrapFrame`
// and the last pushed (r15) the first, at the lowest address; the pops
// undo them in the opposite order. `trap/mod.rs` checks at compile time
// that `TrapFrame`'s fields sit where these pushes put them.
//
// Both assembly files include this one (`global_asm!` takes it as their
// first template string), and each ends with `.purgem` of both macros, so
// that they are defined once wherever the assembler sees the two together.
//
// AT&T syntax, like entry.S.

// ANCHOR: registers
.macro SAVE_GENERAL_REGISTERS
    push %rax
    push %rbx
    push %rcx
    push %rdx
    push %rsi
    push %rdi
    push %rbp
    push %r8
    push %r9
    push %r10
    push %r11
    push %r12
    push %r13
    push %r14
    push %r15
.endm

.macro RESTORE_GENERAL_REGISTERS
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %r11
    pop %r10
    pop %r9
    pop %r8
    pop %rbp
    pop %rdi
    pop %rsi
    pop %rdx
    pop %rcx
    pop %rbx
    pop %rax
.endm
// ANCHOR_END: registers
