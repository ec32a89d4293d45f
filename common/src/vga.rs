//! The VGA text screen: 80 x 25 character cells in memory at physical
//! address `0xB8000`, each a character byte and a colour byte.
//!
//! [`TextWriter`] turns a stream of text into cells: it wraps long lines,
//! moves to the next row on `\n` and scrolls everything up one row when the
//! last row is full. It draws through the [`Screen`] trait, so the host unit
//! tests run it on an ordinary array while the kernel runs it on the real
//! memory-mapped buffer ([`VgaBuffer`]).

/// Columns on the screen.
pub const WIDTH: usize = 80;
/// Rows on the screen.
pub const HEIGHT: usize = 25;
/// Physical address of the text buffer.
pub const BUFFER_PHYSICAL: u64 = 0xB8000;

/// The 16 colours of the text mode palette.
#[allow(dead_code)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Color {
    Black = 0,
    Blue = 1,
    Green = 2,
    Cyan = 3,
    Red = 4,
    Magenta = 5,
    Brown = 6,
    LightGray = 7,
    DarkGray = 8,
    LightBlue = 9,
    LightGreen = 10,
    LightCyan = 11,
    LightRed = 12,
    Pink = 13,
    Yellow = 14,
    White = 15,
}

/// A cell's colour byte: foreground in the low nibble, background in the high.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attribute(u8);

impl Attribute {
    pub const fn new(foreground: Color, background: Color) -> Self {
        Self((background as u8) << 4 | foreground as u8)
    }
}

/// One character cell, as the hardware reads it: character in the low byte,
/// attribute in the high byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cell(u16);

impl Cell {
    pub const fn new(character: u8, attribute: Attribute) -> Self {
        Self((attribute.0 as u16) << 8 | character as u16)
    }

    /// The character byte of the cell.
    pub const fn character(self) -> u8 {
        self.0 as u8
    }
}

/// Something with `WIDTH` x `HEIGHT` cells to draw on.
pub trait Screen {
    fn write(&mut self, row: usize, column: usize, cell: Cell);
    fn read(&self, row: usize, column: usize) -> Cell;
    /// Shows the blinking cursor at this cell (if the screen has one).
    fn show_cursor(&mut self, _row: usize, _column: usize) {}
}

// ANCHOR: text_writer
// ANCHOR: holds_text
/// Whether `screen` keeps what is written to it: two different cells
/// written to its top left corner read back as written. Under UEFI there
/// is no VGA text mode: the firmware leaves the display in a graphics mode,
/// and `0xB8000` reads back all ones (on QEMU) or whatever the bus returns.
pub fn holds_text(screen: &mut impl Screen) -> bool {
    let probes = [Cell(0x0741), Cell(0x70BE)];
    probes.iter().all(|&cell| {
        screen.write(0, 0, cell);
        screen.read(0, 0) == cell
    })
}
// ANCHOR_END: holds_text

/// Writes text to a [`Screen`] from the top left, wrapping and scrolling.
pub struct TextWriter<S: Screen> {
    screen: S,
    row: usize,
    column: usize,
    attribute: Attribute,
}

impl<S: Screen> TextWriter<S> {
    /// A writer that clears `screen` and starts at its top left corner.
    pub fn new(screen: S, attribute: Attribute) -> Self {
        let mut writer = Self { screen, row: 0, column: 0, attribute };
        for row in 0..HEIGHT {
            writer.clear_row(row);
        }
        writer
    }

    /// Draws on `screen` from now on, keeping the cursor where it is (for
    /// when the same screen is reached through a new address).
    pub fn replace_screen(&mut self, screen: S) {
        self.screen = screen;
    }

    /// Sets the colours for the text written from now on.
    pub fn set_attribute(&mut self, attribute: Attribute) {
        self.attribute = attribute;
    }

    /// Writes one byte: `\n` starts a new line, printable ASCII is drawn,
    /// anything else is drawn as a small square.
    pub fn write_byte(&mut self, byte: u8) {
        match byte {
            b'\n' => self.new_line(),
            b'\r' => self.column = 0,
            // Backspace moves back one cell (the shell then writes a space
            // over the character and backs up again, as terminals expect).
            0x08 => self.column = self.column.saturating_sub(1),
            _ => {
                if self.column == WIDTH {
                    self.new_line();
                }
                let printable = if (0x20..0x7f).contains(&byte) { byte } else { 0xfe };
                self.screen.write(self.row, self.column, Cell::new(printable, self.attribute));
                self.column += 1;
            }
        }
    }

    /// Puts the screen's cursor where the next character will go.
    pub fn update_cursor(&mut self) {
        self.screen.show_cursor(self.row, self.column.min(WIDTH - 1));
    }

    fn new_line(&mut self) {
        self.column = 0;
        if self.row + 1 < HEIGHT {
            self.row += 1;
            return;
        }
        // The last row is in use: move every row up one and clear the last.
        for row in 1..HEIGHT {
            for column in 0..WIDTH {
                let cell = self.screen.read(row, column);
                self.screen.write(row - 1, column, cell);
            }
        }
        self.clear_row(HEIGHT - 1);
    }

    fn clear_row(&mut self, row: usize) {
        for column in 0..WIDTH {
            self.screen.write(row, column, Cell::new(b' ', self.attribute));
        }
    }
}
// ANCHOR_END: text_writer

impl<S: Screen> core::fmt::Write for TextWriter<S> {
    fn write_str(&mut self, text: &str) -> core::fmt::Result {
        text.bytes().for_each(|byte| self.write_byte(byte));
        Ok(())
    }
}

/// The memory-mapped VGA text buffer.
pub struct VgaBuffer {
    cells: *mut u16,
}

// SAFETY: the buffer is a fixed piece of memory-mapped hardware; moving the
// pointer between threads of execution is harmless (access is serialised by
// the console lock).
unsafe impl Send for VgaBuffer {}

impl VgaBuffer {
    /// The buffer at virtual address `address`.
    ///
    /// # Safety
    /// `address` must map the VGA text buffer (physical `0xB8000`) writably,
    /// and nothing else may write to it while this value is in use.
    pub unsafe fn new(address: u64) -> Self {
        Self { cells: address as *mut u16 }
    }
}

impl Screen for VgaBuffer {
    fn write(&mut self, row: usize, column: usize, cell: Cell) {
        assert!(row < HEIGHT && column < WIDTH);
        // SAFETY: the index is inside the 80 x 25 buffer (checked above) and
        // `new`'s contract makes the buffer ours. Volatile: the hardware
        // reads this memory, so the writes must not be optimised away.
        unsafe { self.cells.add(row * WIDTH + column).write_volatile(cell.0) }
    }

    fn read(&self, row: usize, column: usize) -> Cell {
        assert!(row < HEIGHT && column < WIDTH);
        // SAFETY: as in `write`.
        Cell(unsafe { self.cells.add(row * WIDTH + column).read_volatile() })
    }

    fn show_cursor(&mut self, row: usize, column: usize) {
        use x86_64::instructions::port::Port;
        let position = (row * WIDTH + column) as u16;
        // The CRT controller's index port selects a register (0x0E: cursor
        // position high byte, 0x0F: low byte), its data port sets it.
        let mut index = Port::<u8>::new(0x3D4);
        let mut data = Port::<u8>::new(0x3D5);
        // SAFETY: these are the VGA CRT controller's ports, owned with the
        // text buffer; setting the cursor position has no other effect.
        unsafe {
            index.write(0x0F);
            data.write(position as u8);
            index.write(0x0E);
            data.write((position >> 8) as u8);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::fmt::Write;

    struct FakeScreen([[Cell; WIDTH]; HEIGHT], (usize, usize));

    impl Screen for FakeScreen {
        fn write(&mut self, row: usize, column: usize, cell: Cell) {
            self.0[row][column] = cell;
        }
        fn read(&self, row: usize, column: usize) -> Cell {
            self.0[row][column]
        }
        fn show_cursor(&mut self, row: usize, column: usize) {
            self.1 = (row, column);
        }
    }

    impl FakeScreen {
        fn new() -> Self {
            Self([[Cell(0); WIDTH]; HEIGHT], (0, 0))
        }
        fn row_text(&self, row: usize) -> String {
            let text: String = self.0[row].iter().map(|cell| cell.character() as char).collect();
            text.trim_end().to_string()
        }
    }

    const GRAY: Attribute = Attribute::new(Color::LightGray, Color::Black);

    /// A screen that is not there: writes are lost, reads return `value`
    /// (all ones for a floating bus).
    struct NoScreen(u16);

    impl Screen for NoScreen {
        fn write(&mut self, _: usize, _: usize, _: Cell) {}
        fn read(&self, _: usize, _: usize) -> Cell {
            Cell(self.0)
        }
    }

    #[test]
    fn only_a_screen_that_keeps_its_cells_holds_text() {
        assert!(holds_text(&mut FakeScreen::new()));
        assert!(!holds_text(&mut NoScreen(0xFFFF)));
        assert!(!holds_text(&mut NoScreen(0)));
        assert!(!holds_text(&mut NoScreen(0x0741)));
    }

    #[test]
    fn writes_lines_from_the_top() {
        let mut writer = TextWriter::new(FakeScreen::new(), GRAY);
        write!(writer, "hello\nworld").unwrap();
        writer.update_cursor();
        let screen = &writer.screen;
        assert_eq!(screen.1, (1, 5));
        assert_eq!(screen.row_text(0), "hello");
        assert_eq!(screen.row_text(1), "world");
        assert_eq!(screen.row_text(2), "");
    }

    #[test]
    fn backspace_erases_the_way_a_shell_asks() {
        let mut writer = TextWriter::new(FakeScreen::new(), GRAY);
        write!(writer, "lsit\x08 \x08\x08 \x08\x08 \x08ist").unwrap();
        assert_eq!(writer.screen.row_text(0), "list");
        write!(writer, "\n\x08x").unwrap();
        assert_eq!(writer.screen.row_text(1), "x", "no further back than the start of the line");
    }

    #[test]
    fn wraps_a_long_line() {
        let mut writer = TextWriter::new(FakeScreen::new(), GRAY);
        let long: String = (0..WIDTH + 3).map(|i| (b'a' + (i % 26) as u8) as char).collect();
        writer.write_str(&long).unwrap();
        let screen = &writer.screen;
        assert_eq!(screen.row_text(0), &long[..WIDTH]);
        assert_eq!(screen.row_text(1), &long[WIDTH..]);
    }

    #[test]
    fn scrolls_when_the_screen_is_full() {
        let mut writer = TextWriter::new(FakeScreen::new(), GRAY);
        for line in 0..HEIGHT + 2 {
            writeln!(writer, "line {line}").unwrap();
        }
        let screen = &writer.screen;
        // 27 lines and a final newline: lines 0..=2 scrolled off the top.
        assert_eq!(screen.row_text(0), "line 3");
        assert_eq!(screen.row_text(HEIGHT - 2), format!("line {}", HEIGHT + 1));
        assert_eq!(screen.row_text(HEIGHT - 1), "");
    }

    #[test]
    fn draws_unprintable_bytes_as_a_square_with_the_chosen_colour() {
        let red = Attribute::new(Color::White, Color::Red);
        let mut writer = TextWriter::new(FakeScreen::new(), GRAY);
        writer.set_attribute(red);
        writer.write_byte(0x07);
        let screen = &writer.screen;
        assert_eq!(screen.0[0][0], Cell::new(0xfe, red));
        assert_eq!(screen.0[0][1], Cell::new(b' ', GRAY));
    }
}
