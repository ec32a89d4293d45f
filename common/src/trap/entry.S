// Interrupt entry: one small stub per vector, and the common path they share.
//
// The CPU pushes SS, RSP, RFLAGS, CS and RIP (and, for some exceptions, an
// error code) and jumps to the vector's stub. Each stub makes the stack look
// the same for every vector: it pushes a zero where the CPU pushed no error
// code, then the vector number, and jumps to `trap_common`, which saves the
// general registers and the SSE state, and calls the Rust dispatcher with a
// pointer to the saved registers: a `TrapFrame`.
//
// The general registers are saved and restored by the macros of
// registers.S, which every way into and out of the kernel shares.
//
// AT&T syntax (`options(att_syntax)`), where `pushq $vector` is plainly an
// immediate.

// ANCHOR: stubs
.section .text.trap_entry, "ax"
.balign 16
.global trap_stubs
trap_stubs:
.set vector, 0
.rept 256
    .balign 16                  // stub N starts at trap_stubs + 16 * N
    .if !((vector == 8) || (vector >= 10 && vector <= 14) || (vector == 17) || (vector == 21) || (vector == 29) || (vector == 30))
        pushq $0                // no error code from the CPU: push a zero
    .endif
    pushq $vector
    jmp trap_common
    .set vector, vector + 1
.endr
// ANCHOR_END: stubs

// ANCHOR: common
trap_common:
    SAVE_GENERAL_REGISTERS      // registers.S: the TrapFrame's 15 registers
    // ANCHOR: ring3
    // From ring 3 (the CS the CPU saved has privilege bits 3): the task's
    // registers are saved; leave through user mode's exit (user/switch.S),
    // which returns from `switch_to`. No stage before 5 runs ring 3 code.
    testb $3, {frame_cs}(%rsp)  // TrapFrame.cs (its offset, from offset_of!)
    jnz user_trap_exit
    // ANCHOR_END: ring3
    mov %rsp, %rdi              // first argument: the TrapFrame just built

    // The handler is Rust code and may use the SSE registers: save them.
    // The CPU aligned the stack to 16 bytes before its pushes, and 22
    // eight-byte words have been pushed since, so RSP is 16-byte aligned,
    // as both FXSAVE and the call need.
    sub $512, %rsp
    fxsave64 (%rsp)
    cld
    call {dispatch}
    fxrstor64 (%rsp)
    add $512, %rsp

    RESTORE_GENERAL_REGISTERS
    add $16, %rsp               // drop the vector and the error code
    iretq
// ANCHOR_END: common

// The macros are this file's (registers.S, included before it): forget them,
// so that user/switch.S can include them too.
.purgem SAVE_GENERAL_REGISTERS
.purgem RESTORE_GENERAL_REGISTERS
