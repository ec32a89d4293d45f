//! Printing through the task buffer: `print!` and `println!` format into the
//! calling task's buffer page and hand it to the kernel with the print call,
//! at most one page ([`TaskBuffer::SIZE`] bytes) at a time.
//!
//! A `print!` makes one print call per page of text, so a line shorter than
//! a page reaches the console whole, even when another task prints at the
//! same time. Longer text is cut into pages between characters, never
//! inside one (the kernel refuses invalid UTF-8).

use crate::syscall::print_buffer;
use abi::Error;
use abi::syscall::TASK_BUFFER_SIZE;
use core::fmt;

/// Prints formatted text (errors from the kernel are ignored: see [`print`]).
#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => {
        $crate::io::print_fmt(format_args!($($arg)*))
    };
}

/// Prints formatted text and a newline.
#[macro_export]
macro_rules! println {
    () => {
        $crate::io::print_fmt(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::io::print_fmt(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// The page where this task exchanges data with the kernel, as this task
/// sees it (where it is mapped).
#[derive(Clone, Copy, Debug)]
pub struct TaskBuffer {
    address: u64,
}

impl TaskBuffer {
    /// Its size: one page.
    pub const SIZE: usize = TASK_BUFFER_SIZE;

    /// The task buffer mapped at `address`.
    ///
    /// # Safety
    /// This task's own task buffer page is mapped writable at `address`,
    /// and no Rust data lives there.
    pub const unsafe fn at(address: u64) -> TaskBuffer {
        TaskBuffer { address }
    }

    /// The calling task's buffer: [`abi::TASK_BUFFER`] for the program's
    /// first task, the one given to [`crate::task::prepare`] for a task it
    /// started.
    pub fn current() -> TaskBuffer {
        // SAFETY: the kernel maps the first task's buffer at TASK_BUFFER
        // (the ABI); a started task's buffer address was vouched for by the
        // caller of the unsafe `task::prepare`.
        unsafe { TaskBuffer::at(crate::task::current_buffer()) }
    }

    /// Where it is mapped.
    pub const fn address(&self) -> u64 {
        self.address
    }

    fn pointer(&self) -> *mut u8 {
        core::ptr::with_exposed_provenance_mut(self.address as usize)
    }

    /// Copies `bytes` into the buffer at `offset`.
    ///
    /// # Panics
    /// If they do not fit in the page.
    pub fn write(&self, offset: usize, bytes: &[u8]) {
        assert!(offset.checked_add(bytes.len()).is_some_and(|end| end <= Self::SIZE), "past the task buffer");
        // SAFETY: the range is inside the buffer page (checked above), which
        // is mapped writable and holds no Rust data (`TaskBuffer::at`).
        unsafe { core::ptr::copy_nonoverlapping(bytes.as_ptr(), self.pointer().add(offset), bytes.len()) }
    }

    /// Copies bytes from the buffer at `offset` into `out`.
    ///
    /// # Panics
    /// If they are not all in the page.
    pub fn read(&self, offset: usize, out: &mut [u8]) {
        assert!(offset.checked_add(out.len()).is_some_and(|end| end <= Self::SIZE), "past the task buffer");
        // SAFETY: as for `write`; the page is readable too.
        unsafe { core::ptr::copy_nonoverlapping(self.pointer().add(offset), out.as_mut_ptr(), out.len()) }
    }
}

// ANCHOR: chunks
/// How much of `text` fits in `room` bytes without cutting a character.
pub fn fitting_prefix(text: &str, room: usize) -> usize {
    if text.len() <= room {
        return text.len();
    }
    let mut end = room;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    end
}

/// Collects text in `buffer` and hands it to `flush` whenever the buffer is
/// full, and at the end ([`Chunks::finish`]).
pub struct Chunks<'b, F: FnMut(&[u8]) -> Result<(), Error>> {
    buffer: &'b mut [u8],
    len: usize,
    flush: F,
    error: Option<Error>,
}

impl<'b, F: FnMut(&[u8]) -> Result<(), Error>> Chunks<'b, F> {
    /// Collects into `buffer`, which must hold at least one character (4 bytes).
    pub fn new(buffer: &'b mut [u8], flush: F) -> Self {
        assert!(buffer.len() >= 4, "room for any character");
        Chunks { buffer, len: 0, flush, error: None }
    }

    /// Adds `text`, flushing full buffers.
    pub fn push(&mut self, mut text: &str) -> Result<(), Error> {
        while !text.is_empty() {
            let take = fitting_prefix(text, self.buffer.len() - self.len);
            if take == 0 {
                self.flush_buffer()?;
                continue;
            }
            self.buffer[self.len..self.len + take].copy_from_slice(&text.as_bytes()[..take]);
            self.len += take;
            text = &text[take..];
        }
        Ok(())
    }

    /// Flushes what is left, and reports the first error on the way.
    pub fn finish(mut self) -> Result<(), Error> {
        if let Some(error) = self.error {
            return Err(error);
        }
        self.flush_buffer()
    }

    fn flush_buffer(&mut self) -> Result<(), Error> {
        if self.len > 0 {
            let len = core::mem::take(&mut self.len);
            (self.flush)(&self.buffer[..len])?;
        }
        Ok(())
    }
}

impl<F: FnMut(&[u8]) -> Result<(), Error>> fmt::Write for Chunks<'_, F> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        self.push(text).map_err(|error| {
            self.error.get_or_insert(error);
            fmt::Error
        })
    }
}
// ANCHOR_END: chunks

/// Prints `text`.
pub fn print(text: &str) -> Result<(), Error> {
    write_fmt(format_args!("{text}"))
}

/// Prints formatted text, reporting the first error of the print call.
pub fn write_fmt(args: fmt::Arguments) -> Result<(), Error> {
    let buffer = TaskBuffer::current();
    // SAFETY: the buffer page is mapped writable and holds no Rust data
    // (`TaskBuffer::current`); this task makes no other reference to it
    // while the slice lives (a panic while formatting never comes back).
    let bytes = unsafe { core::slice::from_raw_parts_mut(buffer.pointer(), TaskBuffer::SIZE) };
    let mut chunks = Chunks::new(bytes, |text| print_buffer(text.len()).map(|_| ()));
    // If formatting fails without an error from the kernel, a `Display`
    // implementation failed: there is nothing to report.
    let _ = fmt::write(&mut chunks, args);
    chunks.finish()
}

/// What `print!` calls: like [`write_fmt`], ignoring errors (a program
/// that must know uses [`print`] or [`write_fmt`]).
pub fn print_fmt(args: fmt::Arguments) {
    let _ = write_fmt(args);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::String;
    use std::vec::Vec;

    /// Pushes the pieces through a buffer of `size` bytes and returns the
    /// chunks the flush received.
    fn chunks_of(pieces: &[&str], size: usize) -> Vec<String> {
        let mut buffer = vec![0; size];
        let mut flushed = Vec::new();
        let mut chunks = Chunks::new(&mut buffer, |bytes: &[u8]| {
            flushed.push(String::from_utf8(bytes.to_vec()).expect("every chunk is UTF-8"));
            Ok(())
        });
        for piece in pieces {
            chunks.push(piece).unwrap();
        }
        chunks.finish().unwrap();
        flushed
    }

    #[test]
    fn short_pieces_make_one_chunk() {
        assert_eq!(chunks_of(&["parent: ", "1", "\n"], 4096), ["parent: 1\n"]);
        assert_eq!(chunks_of(&[], 4096), Vec::<String>::new(), "nothing to print, no call");
    }

    #[test]
    fn long_text_is_cut_at_the_buffer_size() {
        let text = "x".repeat(5000);
        let chunks = chunks_of(&[&text], 4096);
        assert_eq!(chunks.iter().map(String::len).collect::<Vec<_>>(), [4096, 904]);
        assert_eq!(chunks.concat(), text);
    }

    #[test]
    fn characters_are_never_cut() {
        // 'é' is 2 bytes, '€' 3 and '😀' 4: with 5-byte chunks, cut early.
        let text = "aé€😀é€😀b";
        for size in 4..12 {
            let chunks = chunks_of(&[text, text], size);
            assert_eq!(chunks.concat(), [text, text].concat(), "size {size}");
            assert!(chunks.iter().all(|chunk| chunk.len() <= size && !chunk.is_empty()));
        }
        assert_eq!(fitting_prefix("aé", 2), 1);
        assert_eq!(fitting_prefix("aé", 3), 3);
        assert_eq!(fitting_prefix("€", 2), 0);
    }

    #[test]
    fn the_first_error_is_reported() {
        let mut buffer = [0; 8];
        let mut calls = 0;
        let mut chunks = Chunks::new(&mut buffer, |_: &[u8]| {
            calls += 1;
            Err(Error::NoBuffer)
        });
        assert_eq!(fmt::write(&mut chunks, format_args!("{}", "0123456789")), Err(fmt::Error));
        assert_eq!(chunks.finish(), Err(Error::NoBuffer));
        assert_eq!(calls, 1, "stops at the first refusal");
    }
}
