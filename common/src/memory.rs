//! Addresses: the higher-half base, the page size, the boot-time window
//! onto physical memory, and address ranges.

/// The higher-half base: the kernel's virtual addresses are this plus the
/// physical address (see `common/runtime/kernel.ld`).
pub const KERNEL_VMA: u64 = 0xFFFF_FFFF_8000_0000;

/// The size of a page (and of a frame): 4 KiB.
pub const PAGE: u64 = 4096;

/// How much physical memory the boot page tables map at `KERNEL_VMA`.
pub const BOOT_WINDOW_SIZE: u64 = 1 << 30;

/// The virtual address through which the kernel reaches physical address
/// `physical` under the boot page tables, or `None` when it lies beyond the
/// 1 GiB those tables map.
pub fn boot_window(physical: u64) -> Option<u64> {
    (physical < BOOT_WINDOW_SIZE).then(|| KERNEL_VMA + physical)
}

/// A half-open range of addresses, `start..end`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    pub start: u64,
    pub end: u64,
}

impl Span {
    /// The span `start..end`.
    pub const fn new(start: u64, end: u64) -> Self {
        Self { start, end }
    }

    /// The number of bytes in the span.
    pub const fn len(&self) -> u64 {
        self.end - self.start
    }

    /// Whether the span holds no byte.
    pub const fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// Whether `address` lies in the span.
    pub const fn contains(&self, address: u64) -> bool {
        self.start <= address && address < self.end
    }
}

impl core::fmt::Display for Span {
    /// `0x100000-0x13d000`
    fn fmt(&self, f: &mut core::fmt::Formatter) -> core::fmt::Result {
        write!(f, "{:#x}-{:#x}", self.start, self.end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boot_window_covers_the_first_gibibyte_only() {
        assert_eq!(boot_window(0xB8000), Some(0xFFFF_FFFF_800B_8000));
        assert_eq!(boot_window(BOOT_WINDOW_SIZE - 1), Some(KERNEL_VMA + BOOT_WINDOW_SIZE - 1));
        assert_eq!(boot_window(BOOT_WINDOW_SIZE), None);
    }

    #[test]
    fn span_is_half_open() {
        let span = Span::new(0x1000, 0x2000);
        assert_eq!(span.len(), 0x1000);
        assert!(span.contains(0x1000));
        assert!(span.contains(0x1fff));
        assert!(!span.contains(0x2000));
        assert!(!span.contains(0xfff));
        assert!(Span::new(5, 5).is_empty());
        assert_eq!(span.to_string(), "0x1000-0x2000");
    }
}
