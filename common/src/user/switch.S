// User mode: going in with `switch_to`, and every way of coming back out.
//
// The kernel has one stack and one thread of control. `switch_to` saves the
// kernel's callee-saved registers and stack pointer, loads a task's
// registers and enters ring 3 with `iretq`. Whatever brings the CPU back to
// ring 0 (a system call, an interrupt, an exception) saves the task's
// registers into its context, puts the kernel's stack pointer back and
// returns from `switch_to`, as if the call had simply finished. Rust code
// then reads why from the saved frame's `vector`.
//
// The task's registers live in its `UserContext`: a `TrapFrame` (the layout
// `trap_common` pushes) followed by the 512-byte FXSAVE area. While a task
// runs, the TSS's `rsp0` points just past its frame, so an interrupt from
// ring 3 pushes the hardware frame, and `trap_common` the registers, straight
// into the task's context. Exceptions arrive on their own IST stacks and
// are copied there.
//
// The general registers are saved and restored by the macros of
// trap/registers.S, as `trap_common` saves and restores them.
//
// AT&T syntax, like entry.S.

.section .text.user_mode, "ax"

// ANCHOR: switch_to
// extern "C" fn switch_to(context: *mut UserContext)
//   rdi: the task's context; `current_user_frame` and the TSS's rsp0 were
//   set by the caller (`user::run`).
.global switch_to
switch_to:
    push %rbx                   // the registers a C function must preserve
    push %rbp
    push %r12
    push %r13
    push %r14
    push %r15
    mov %rsp, kernel_resume_rsp(%rip)
    fxrstor64 {frame_size}(%rdi) // the task's SSE and x87 state
    // ANCHOR: data_segments
    // DS, ES, FS and GS are not part of a task's saved registers: in 64-bit
    // mode they hold no base or limit a task could use (FS and GS bases
    // stay 0: no descriptor has another, and the kernel leaves FSGSBASE
    // off). But a task can load a selector into them, and `iretq` keeps
    // it: the next task would read it. Every task enters with the null
    // selector in all four.
    xor %eax, %eax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %fs
    mov %ax, %gs
    // ANCHOR_END: data_segments
    mov %rdi, %rsp              // the saved frame, lowest word first
    RESTORE_GENERAL_REGISTERS   // trap/registers.S
    add $16, %rsp               // skip the vector and the error code
    iretq                       // rip, cs, rflags, rsp, ss: into ring 3
// ANCHOR_END: switch_to

// ANCHOR: syscall_entry
// The `syscall` instruction lands here (the LSTAR register), still on the
// task's stack, with interrupts off (SFMASK clears IF), the return address
// in rcx and the task's rflags in r11. Build the same frame an interrupt
// from ring 3 would, in the task's context, with the vector SYSCALL_VECTOR.
.global syscall_entry
syscall_entry:
    mov %rsp, syscall_user_rsp(%rip)
    mov current_user_frame_end(%rip), %rsp
    pushq ${user_data}          // ss
    pushq syscall_user_rsp(%rip) // rsp
    push %r11                   // rflags
    pushq ${user_code}          // cs
    push %rcx                   // rip
    pushq $0                    // error code
    pushq ${syscall_vector}     // vector
    SAVE_GENERAL_REGISTERS      // trap/registers.S
    // The frame is the task's context already (no IST stack to copy
    // from): straight past `user_trap_exit`'s test of that.
    mov %rsp, %rdi
    jmp user_trap_in_context
// ANCHOR_END: syscall_entry

// ANCHOR: user_trap_exit
// `trap_common` jumps here for a trap from ring 3, with rsp at the saved
// frame; `syscall_entry`, whose frame is always in the task's context,
// jumps to `user_trap_in_context`.
.global user_trap_exit
user_trap_exit:
    mov current_user_frame(%rip), %rdi
    cmp %rsp, %rdi
    je user_trap_in_context
    // An exception: the CPU switched to an IST stack, so the frame is
    // there. Copy it into the task's context (22 words).
    mov %rsp, %rsi
    mov ${frame_words}, %ecx
    cld
    rep movsq
    mov current_user_frame(%rip), %rdi
user_trap_in_context:            // rdi: the task's context
    fxsave64 {frame_size}(%rdi)  // the task's SSE and x87 state
    ldmxcsr kernel_mxcsr(%rip)  // and the kernel's own defaults back
    fninit
    cld
    mov kernel_resume_rsp(%rip), %rsp
    pop %r15                    // as `switch_to` pushed them
    pop %r14
    pop %r13
    pop %r12
    pop %rbp
    pop %rbx
    ret                         // "return" from switch_to
// ANCHOR_END: user_trap_exit

// ANCHOR: kernel_mxcsr
.section .rodata.user_mode, "a"
.balign 4
kernel_mxcsr:
    .long 0x1f80                // all SSE exceptions masked, round to nearest
// ANCHOR_END: kernel_mxcsr

.section .bss.user_mode, "aw", @nobits
.balign 8
.global current_user_frame
.global current_user_frame_end
kernel_resume_rsp:              // the kernel's rsp inside `switch_to`
    .quad 0
syscall_user_rsp:               // the task's rsp, for one instruction
    .quad 0
current_user_frame:             // the running task's saved frame
    .quad 0
current_user_frame_end:         // ... and its end, the TSS's rsp0
    .quad 0

// The macros are this file's (trap/registers.S, included before it):
// forget them, so that trap/entry.S can include them too.
.purgem SAVE_GENERAL_REGISTERS
.purgem RESTORE_GENERAL_REGISTERS
