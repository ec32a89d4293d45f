//! `memcpy`, `memmove`, `memset`, `memcmp` and `bcmp`.
//!
//! The compiler turns struct copies and slice operations into calls to these
//! C functions, and the precompiled `compiler_builtins` of stable Rust does
//! not provide them. The copies use the x86 string instructions (`rep movsb`,
//! `rep stosb`), which modern CPUs run fast; the comparison is a plain loop
//! (LLVM does not turn a byte-compare loop back into a `memcmp` call).

use core::arch::asm;

/// Copies `n` bytes from `src` to `dest`; the ranges must not overlap.
///
/// # Safety
/// `src` must be valid for `n` reads and `dest` for `n` writes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memcpy(dest: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    // SAFETY: the caller guarantees both ranges are valid; `rep movsb` copies
    // exactly `n` bytes upwards (the direction flag is clear by ABI contract).
    unsafe {
        asm!("rep movsb",
            inout("rcx") n => _, inout("rdi") dest => _, inout("rsi") src => _,
            options(nostack, preserves_flags));
    }
    dest
}

/// Copies `n` bytes from `src` to `dest`; the ranges may overlap.
///
/// # Safety
/// `src` must be valid for `n` reads and `dest` for `n` writes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memmove(dest: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    if (dest as usize) <= (src as usize) || (dest as usize) >= (src as usize).wrapping_add(n) {
        // Copying upwards never overwrites a source byte before it is read.
        // SAFETY: as for `memcpy`; the caller guarantees validity.
        return unsafe { memcpy(dest, src, n) };
    }
    if n == 0 {
        return dest;
    }
    // `dest` overlaps the end of `src`: copy downwards, last byte first.
    // SAFETY: the caller guarantees both ranges are valid; with the direction
    // flag set `rep movsb` walks down from the last byte; it is cleared again
    // at once, as the ABI requires.
    unsafe {
        asm!("std", "rep movsb", "cld",
            inout("rcx") n => _,
            inout("rdi") dest.add(n - 1) => _,
            inout("rsi") src.add(n - 1) => _,
            options(nostack));
    }
    dest
}

/// Fills `n` bytes at `dest` with the low byte of `value`.
///
/// # Safety
/// `dest` must be valid for `n` writes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memset(dest: *mut u8, value: i32, n: usize) -> *mut u8 {
    // SAFETY: the caller guarantees the range is valid; `rep stosb` stores AL
    // `n` times upwards.
    unsafe {
        asm!("rep stosb",
            inout("rcx") n => _, inout("rdi") dest => _, in("al") value as u8,
            options(nostack, preserves_flags));
    }
    dest
}

/// Compares `n` bytes; returns the difference of the first unequal pair.
///
/// # Safety
/// Both pointers must be valid for `n` reads.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    let mut i = 0;
    while i < n {
        // SAFETY: `i < n` and the caller guarantees `n` readable bytes.
        let (x, y) = unsafe { (*a.add(i), *b.add(i)) };
        if x != y {
            return i32::from(x) - i32::from(y);
        }
        i += 1;
    }
    0
}

/// Like `memcmp`, but only zero versus non-zero matters.
///
/// # Safety
/// Both pointers must be valid for `n` reads.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    // SAFETY: same contract as `memcmp`.
    unsafe { memcmp(a, b, n) }
}
