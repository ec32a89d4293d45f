//! The VGA text screen as a test sees it: a dump of the 4000 bytes at
//! physical `0xB8000` (80 x 25 cells, each a character byte then a colour
//! byte) decoded into 25 lines of text.
//!
//! Character bytes are code page 437, the VGA's built-in font: ASCII as
//! itself, the rest as the Unicode character the glyph shows (`0xFE` is
//! `■`, `0xC4` is `─`), except that `0x00`, which the hardware shows as
//! blank, becomes a space. Colours are dropped.

/// Columns on the screen.
pub const WIDTH: usize = 80;
/// Rows on the screen.
pub const HEIGHT: usize = 25;
/// Bytes in a dump of the screen: two per cell.
pub const SCREEN_BYTES: usize = WIDTH * HEIGHT * 2;

/// The glyphs of bytes `0x01` to `0x1F` in code page 437.
const CP437_LOW: &str = "☺☻♥♦♣♠•◘○◙♂♀♪♫☼►◄↕‼¶§▬↨↑↓→←∟↔▲▼";
/// The glyphs of bytes `0x80` to `0xFF` in code page 437.
const CP437_HIGH: &str = "ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜ¢£¥₧ƒáíóúñÑªº¿⌐¬½¼¡«»\
                          ░▒▓│┤╡╢╖╕╣║╗╝╜╛┐└┴┬├─┼╞╟╚╔╩╦╠═╬╧╨╤╥╙╘╒╓╫╪┘┌█▄▌▐▀\
                          αßΓπΣσµτΦΘΩδ∞φε∩≡±≥≤⌠⌡÷≈°∙·√ⁿ²■\u{a0}";

/// The character a screen cell with character byte `byte` shows.
pub fn cp437(byte: u8) -> char {
    match byte {
        0 => ' ',
        0x01..=0x1F => CP437_LOW.chars().nth(usize::from(byte) - 1).expect("31 glyphs"),
        0x7F => '⌂',
        0x20..=0x7E => char::from(byte),
        0x80..=0xFF => CP437_HIGH.chars().nth(usize::from(byte) - 0x80).expect("128 glyphs"),
    }
}

/// Decodes a dump of the screen into its 25 lines, trailing spaces
/// trimmed. Fails unless `dump` is exactly [`SCREEN_BYTES`] long.
pub fn decode(dump: &[u8]) -> Result<Vec<String>, String> {
    if dump.len() != SCREEN_BYTES {
        return Err(format!("a screen dump is {SCREEN_BYTES} bytes, not {}", dump.len()));
    }
    Ok(dump
        .chunks_exact(WIDTH * 2)
        .map(|row| {
            let line: String = row.chunks_exact(2).map(|cell| cp437(cell[0])).collect();
            line.trim_end_matches(' ').to_string()
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A dump with `lines` from the top, in white on black, the rest blank
    /// cells as the kernel clears them (space, same colour).
    fn dump(lines: &[&[u8]]) -> Vec<u8> {
        let mut bytes = [b' ', 0x0F].repeat(WIDTH * HEIGHT);
        for (row, line) in lines.iter().enumerate() {
            for (column, &byte) in line.iter().enumerate() {
                bytes[(row * WIDTH + column) * 2] = byte;
            }
        }
        bytes
    }

    #[test]
    fn decodes_25_lines_and_trims_trailing_spaces() {
        let lines = decode(&dump(&[b"Stage 1: boot", b"", b"  indented  "])).unwrap();
        assert_eq!(lines.len(), HEIGHT);
        assert_eq!(lines[0], "Stage 1: boot");
        assert_eq!(lines[1], "");
        assert_eq!(lines[2], "  indented");
        assert!(lines[3..].iter().all(String::is_empty));
    }

    #[test]
    fn reads_the_character_byte_not_the_attribute() {
        let mut bytes = dump(&[]);
        bytes[0] = b'A';
        bytes[1] = b'B';
        bytes[2] = 0x07;
        bytes[3] = b'C';
        assert_eq!(decode(&bytes).unwrap()[0], "A•");
    }

    #[test]
    fn a_full_row_keeps_all_80_columns_and_the_last_row_is_read() {
        let full = [b'x'; WIDTH];
        let mut lines: Vec<&[u8]> = vec![b""; HEIGHT];
        lines[0] = &full;
        lines[HEIGHT - 1] = b"last row";
        let decoded = decode(&dump(&lines)).unwrap();
        assert_eq!(decoded[0], "x".repeat(WIDTH));
        assert_eq!(decoded[HEIGHT - 1], "last row");
    }

    #[test]
    fn zero_bytes_are_blank_and_code_page_437_is_mapped() {
        let mut bytes = vec![0; SCREEN_BYTES];
        for (column, byte) in [0x00, b'a', 0xC4, 0xFE, 0x80, 0xFF, 0x01, 0x7F].into_iter().enumerate() {
            bytes[column * 2] = byte;
        }
        assert_eq!(decode(&bytes).unwrap()[0], " a─■Ç\u{a0}☺⌂");
        assert_eq!(CP437_LOW.chars().count(), 31);
        assert_eq!(CP437_HIGH.chars().count(), 128);
        assert_eq!(cp437(0xB0), '░');
        assert_eq!(cp437(0xDB), '█');
        assert_eq!(cp437(0xE0), 'α');
    }

    #[test]
    fn a_dump_of_the_wrong_size_is_refused() {
        assert!(decode(&[0; SCREEN_BYTES - 1]).is_err());
        assert!(decode(&[]).is_err());
    }
}
