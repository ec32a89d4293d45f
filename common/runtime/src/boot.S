// The boot stub: from the loader's 32-bit protected mode to `kmain` in the higher half.
//
// GRUB enters `_start` in 32-bit protected mode with paging off, EAX holding
// the Multiboot2 magic and EBX the physical address of the boot information.
// QEMU's `-kernel` loader (for fast test boots) does the same through
// Multiboot 1, with its own magic and information block; `kmain` tells the
// two apart by the magic (common::bootinfo). The stub checks the CPU,
// builds the boot page tables, switches to long mode, jumps to the higher
// half, enables SSE and calls `kmain(magic, boot_info_phys)`.
//
// Intel syntax, assembled by LLVM through `global_asm!`.

.set KERNEL_VMA,        0xFFFFFFFF80000000
.set MULTIBOOT2_MAGIC,  0xE85250D6      // in the header, for the loader
.set MULTIBOOT2_ANSWER, 0x36D76289      // in EAX, from the loader
.set MULTIBOOT1_MAGIC,  0x1BADB002      // the same for Multiboot 1
.set MULTIBOOT1_ANSWER, 0x2BADB002
// Multiboot 1 header flags: modules page-aligned (bit 0), a memory map
// wanted (bit 1), and the load addresses given in the header (bit 16).
.set MULTIBOOT1_FLAGS,  (1 << 0) | (1 << 1) | (1 << 16)
.set BOOT_STACK_SIZE,   128 * 1024

.set PAGE_PRESENT,  1 << 0
.set PAGE_WRITABLE, 1 << 1
.set PAGE_HUGE,     1 << 7

// ANCHOR: multiboot_header
// The Multiboot2 header: magic, architecture (0 = i386 protected mode),
// header length, a checksum that makes the four add up to zero, and the
// end tag. GRUB looks for it in the first 32 KiB of the file.
.section .multiboot_header, "a"
.align 8
multiboot_header:
    .long MULTIBOOT2_MAGIC
    .long 0
    .long multiboot_header_end - multiboot_header
    .long 0x100000000 - (MULTIBOOT2_MAGIC + (multiboot_header_end - multiboot_header))
    .short 0                    // end tag: type 0
    .short 0                    //          flags 0
    .long 8                     //          size 8
multiboot_header_end:
// ANCHOR_END: multiboot_header

// ANCHOR: multiboot1_header
// The Multiboot 1 header, which QEMU's `-kernel` reads (it does not know
// Multiboot2): magic, flags, checksum, then where the image goes, because
// QEMU loads no 64-bit ELF files by their program headers. It copies the
// file from this header's position on, as one block: the header's own
// address, the load start, the end of the bytes in the file, the end of
// the zeroed memory after them (.bss), and the entry point. The linker
// script keeps the file one plain copy of memory from .boot to .data.
// Looked for in the first 8 KiB of the file, 4-byte aligned.
.align 4
multiboot1_header:
    .long MULTIBOOT1_MAGIC
    .long MULTIBOOT1_FLAGS
    .long 0x100000000 - (MULTIBOOT1_MAGIC + MULTIBOOT1_FLAGS)
    .long multiboot1_header         // header_addr
    .long __kernel_phys_start       // load_addr
    .long __kernel_file_end         // load_end_addr
    .long __kernel_phys_end         // bss_end_addr
    .long _start                    // entry_addr
// ANCHOR_END: multiboot1_header

// Boot page tables and the boot stack. They live at physical addresses, so
// the 32-bit code can use them before paging is on. They are zeros stored
// in the file (not bss), so that the file stays one plain copy of memory
// up to the end of .data, as the Multiboot 1 header above needs.
.section .boot.zeroed, "aw", @progbits
.align 4096
boot_pml4:      .skip 4096
boot_pdpt_low:  .skip 4096      // identity map: virtual = physical
boot_pdpt_high: .skip 4096      // higher half: virtual = KERNEL_VMA + physical
boot_pd_low:    .skip 4096
boot_pd_high:   .skip 4096
boot_pt_high:   .skip 4096      // the first 2 MiB of the higher half, in 4 KiB pages
.global __stack_guard
__stack_guard:  .skip 4096      // left unmapped: running off the stack faults here
.global __stack_bottom
__stack_bottom: .skip BOOT_STACK_SIZE
.global __stack_top
__stack_top:
.global boot_entry_tsc
boot_entry_tsc: .skip 8         // the time stamp counter as _start began

.section .boot.text, "ax"
.code32
.global _start
// ANCHOR: entry32
_start:
    cli
    cld
    mov esp, offset __stack_top     // physical address: paging is still off
    mov edi, eax                    // kmain's first argument: the magic
    mov esi, ebx                    // kmain's second: the boot information

    cmp eax, MULTIBOOT2_ANSWER
    je .Lloaded_by_multiboot
    cmp eax, MULTIBOOT1_ANSWER
    jne .Lnot_multiboot
.Lloaded_by_multiboot:
    // The time stamp counter at entry: under `-icount shift=0` the number
    // of instructions the firmware and the loader took (`make bench-boot`
    // reads it from memory).
    rdtsc
    mov [boot_entry_tsc], eax
    mov [boot_entry_tsc + 4], edx

    // Long mode and no-execute are both reported by CPUID leaf 0x80000001.
    mov eax, 0x80000000
    cpuid
    cmp eax, 0x80000001
    jb .Lno_long_mode
    mov eax, 0x80000001
    cpuid
    test edx, 1 << 29               // LM: long mode
    jz .Lno_long_mode
    test edx, 1 << 20               // NX: no-execute pages
    jz .Lno_nx
// ANCHOR_END: entry32

// ANCHOR: virtual_wire
    // The 8259 interrupt controllers' line reaches the CPU through the
    // local APIC's LINT0 input, which passes it on only when set to
    // "external interrupt" ("virtual wire" mode). SeaBIOS and UEFI set it
    // so; qboot, the minimal firmware of the fast test boots, leaves it
    // masked, and the timer would never tick. Set it here, with paging
    // still off so that the APIC's registers are at their physical
    // address (given by the IA32_APIC_BASE register), if the APIC is on.
    mov ecx, 0x1B                   // IA32_APIC_BASE
    rdmsr
    test eax, 1 << 11               // the local APIC is enabled
    jz .Lno_local_apic
    and eax, 0xFFFFF000
    mov dword ptr [eax + 0x350], 0x700  // LVT LINT0: external interrupt, not masked
.Lno_local_apic:
// ANCHOR_END: virtual_wire

// ANCHOR: boot_tables
    // PML4[0] -> identity PDPT, PML4[511] -> higher-half PDPT.
    mov eax, offset boot_pdpt_low
    or eax, PAGE_PRESENT | PAGE_WRITABLE
    mov [boot_pml4], eax
    mov eax, offset boot_pdpt_high
    or eax, PAGE_PRESENT | PAGE_WRITABLE
    mov [boot_pml4 + 511 * 8], eax

    // Identity PDPT[0] and higher-half PDPT[510] (0xFFFFFFFF80000000) each
    // point to a page directory mapping physical 0..1 GiB.
    mov eax, offset boot_pd_low
    or eax, PAGE_PRESENT | PAGE_WRITABLE
    mov [boot_pdpt_low], eax
    mov eax, offset boot_pd_high
    or eax, PAGE_PRESENT | PAGE_WRITABLE
    mov [boot_pdpt_high + 510 * 8], eax

    // Both directories: 512 huge pages of 2 MiB.
    xor ecx, ecx
.Lfill_directories:
    mov eax, ecx
    shl eax, 21
    or eax, PAGE_PRESENT | PAGE_WRITABLE | PAGE_HUGE
    mov [boot_pd_low + ecx * 8], eax
    mov [boot_pd_high + ecx * 8], eax
    inc ecx
    cmp ecx, 512
    jne .Lfill_directories

    // The first 2 MiB of the higher half (where the kernel and its stack
    // are) get a page table of 4 KiB pages instead, so that one page, the
    // stack guard, can be left out.
    mov eax, offset boot_pt_high
    or eax, PAGE_PRESENT | PAGE_WRITABLE
    mov [boot_pd_high], eax
    xor ecx, ecx
.Lfill_table:
    mov eax, ecx
    shl eax, 12
    or eax, PAGE_PRESENT | PAGE_WRITABLE
    mov [boot_pt_high + ecx * 8], eax
    inc ecx
    cmp ecx, 512
    jne .Lfill_table
    mov eax, offset __stack_guard
    shr eax, 12
    mov dword ptr [boot_pt_high + eax * 8], 0
// ANCHOR_END: boot_tables

// ANCHOR: long_mode
    mov eax, offset boot_pml4
    mov cr3, eax
    mov eax, cr4
    or eax, 1 << 5                  // PAE: 64-bit page table entries
    mov cr4, eax
    mov ecx, 0xC0000080             // the EFER model-specific register
    rdmsr
    or eax, (1 << 8) | (1 << 11)    // LME: long mode, NXE: no-execute bit
    wrmsr
    mov eax, cr0
    or eax, (1 << 31) | (1 << 16)   // PG: paging on, WP: read-only pages bind ring 0 too
    mov cr0, eax

    // Paging is on and we are in compatibility mode; a far return through
    // a 64-bit code segment enters long mode proper.
    lgdt [boot_gdt_pointer]
    mov eax, offset long_mode_start
    push 0x08                       // code segment selector: GDT entry 1
    push eax                        // where to continue
    retf
// ANCHOR_END: long_mode

// Print the NUL-terminated message at EBX on COM1 and the VGA screen, then
// stop (exiting QEMU with the failure code where the exit device exists).
.Lnot_multiboot:
    mov ebx, offset message_not_multiboot
    jmp .Lboot_failed
.Lno_long_mode:
    mov ebx, offset message_no_long_mode
    jmp .Lboot_failed
.Lno_nx:
    mov ebx, offset message_no_nx
.Lboot_failed:
    mov edi, 0xB8000
.Lnext_char:
    mov al, [ebx]
    test al, al
    jz .Lstop
    mov dx, 0x3F8
    out dx, al
    mov ah, 0x4F                    // white on red
    mov [edi], ax
    add edi, 2
    inc ebx
    jmp .Lnext_char
.Lstop:
    mov al, 0x11                    // isa-debug-exit: failure
    out 0xF4, al
.Lhalt32:
    hlt
    jmp .Lhalt32

.code64
long_mode_start:
    mov edi, edi                    // writing a 32-bit register clears the upper
    mov esi, esi                    // half: the arguments are now clean 64-bit values
    xor eax, eax
    mov ss, ax
    mov ds, ax
    mov es, ax
    mov fs, ax
    mov gs, ax
    movabs rax, offset higher_half_start
    jmp rax

.section .boot.rodata, "a"
.align 8
// A minimal GDT for the jump to long mode: the null descriptor and one
// 64-bit code segment. The kernel loads its real GDT (common::gdt) later.
boot_gdt:
    .quad 0
    .quad (1 << 43) | (1 << 44) | (1 << 47) | (1 << 53) // code, non-system, present, 64-bit
boot_gdt_pointer:
    .short boot_gdt_pointer - boot_gdt - 1
    .long boot_gdt
message_not_multiboot:
    .asciz "boot error: not loaded by a Multiboot loader"
message_no_long_mode:
    .asciz "boot error: this CPU has no 64-bit long mode"
message_no_nx:
    .asciz "boot error: this CPU has no no-execute (NX) pages"

// ANCHOR: higher_half
.section .text.boot64, "ax"
higher_half_start:
    // Move the stack pointer to the stack's higher-half address.
    movabs rax, KERNEL_VMA
    add rsp, rax

    // The precompiled `core` uses SSE: clear CR0.EM (no x87 emulation), set
    // CR0.MP, and set CR4.OSFXSR and CR4.OSXMMEXCPT to enable SSE and its
    // exceptions.
    mov rax, cr0
    and rax, ~(1 << 2)
    or rax, 1 << 1
    mov cr0, rax
    mov rax, cr4
    or rax, (1 << 9) | (1 << 10)
    mov cr4, rax

    // EDI and ESI still hold the magic and the boot information address:
    // the first two arguments in the System V calling convention.
    call kmain
.Lhalt64:
    cli
    hlt
    jmp .Lhalt64
// ANCHOR_END: higher_half
