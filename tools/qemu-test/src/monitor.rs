//! A connection to QEMU's human monitor over a Unix socket (QEMU started
//! with `-monitor unix:PATH,server,nowait`): press keys on the emulated
//! PS/2 keyboard (`sendkey`) and dump the VGA text screen (`pmemsave`).
//!
//! The monitor talks as to a terminal: it echoes each command character by
//! character with cursor-movement escapes, ends the echo with `\r\n`, then
//! prints the command's answer (nothing when it succeeds, for the commands
//! used here) and its prompt, `(qemu) `. A command is done when the prompt
//! comes back.

use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use crate::screen;

/// What the monitor prints when it is ready for a command.
const PROMPT: &str = "(qemu) ";

/// How long a command may take to answer before the connection is given up.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);

/// An open monitor connection, past QEMU's greeting.
pub struct Monitor {
    stream: UnixStream,
}

impl Monitor {
    /// Connects to the monitor socket at `path`, waiting until `deadline`
    /// for QEMU to create it, and reads the greeting.
    pub fn connect(path: &Path, deadline: Instant) -> io::Result<Self> {
        let stream = loop {
            match UnixStream::connect(path) {
                Ok(stream) => break stream,
                Err(error) if Instant::now() >= deadline => return Err(error),
                Err(_) => thread::sleep(Duration::from_millis(10)),
            }
        };
        stream.set_read_timeout(Some(ANSWER_TIMEOUT))?;
        let mut monitor = Self { stream };
        monitor.read_until_prompt()?;
        Ok(monitor)
    }

    /// Runs one monitor command and returns its answer, without the echo
    /// and the prompt (usually empty when the command succeeded).
    pub fn command(&mut self, line: &str) -> io::Result<String> {
        self.stream.write_all(format!("{line}\n").as_bytes())?;
        let raw = self.read_until_prompt()?;
        Ok(answer(&raw))
    }

    /// Presses and releases one key: `name` is a `sendkey` name such as
    /// `a`, `shift-a` or `ret` (see [`crate::keys`]); the key stays down
    /// for `hold_ms` milliseconds.
    pub fn send_key(&mut self, name: &str, hold_ms: u32) -> Result<(), String> {
        let answer = self.command(&format!("sendkey {name} {hold_ms}")).map_err(|error| error.to_string())?;
        match answer.is_empty() {
            true => Ok(()),
            false => Err(format!("sendkey {name}: {answer}")),
        }
    }

    /// Dumps the VGA text screen into `file` (replacing it) and returns
    /// its 25 lines.
    pub fn save_screen(&mut self, file: &Path) -> Result<Vec<String>, String> {
        // A dump left from an earlier capture must not pass for this one.
        let _ = std::fs::remove_file(file);
        let name = file.to_str().filter(|name| !name.contains(['"', '\\'])).ok_or("unquotable file name")?;
        // Unquoted, the name would be read as part of the size expression
        // (`4000 /tmp/...` divides).
        let command = format!("pmemsave 0xb8000 {} \"{name}\"", screen::SCREEN_BYTES);
        let answer = self.command(&command).map_err(|error| error.to_string())?;
        if !answer.is_empty() {
            return Err(format!("pmemsave: {answer}"));
        }
        // QEMU writes the file before it answers; wait anyway until it is
        // complete rather than trust that.
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let dump = std::fs::read(file).unwrap_or_default();
            if dump.len() >= screen::SCREEN_BYTES || Instant::now() >= deadline {
                return screen::decode(&dump);
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// The VGA text screen once it has stopped changing: captures again,
    /// 20 ms apart, until two captures agree (at most ten times, then the
    /// last one). The serial console runs a little ahead of the screen, as
    /// the kernel writes each byte to COM1 first: the screen may still be
    /// drawing the line the runner saw on the console.
    pub fn save_settled_screen(&mut self, file: &Path) -> Result<Vec<String>, String> {
        let mut screen = self.save_screen(file)?;
        for _ in 0..10 {
            thread::sleep(Duration::from_millis(20));
            let again = self.save_screen(file)?;
            if again == screen {
                break;
            }
            screen = again;
        }
        Ok(screen)
    }

    /// The 64-bit word at physical `address` (`xp /1gx`, which answers
    /// `ADDRESS: 0xVALUE`).
    pub fn read_physical_word(&mut self, address: u64) -> Result<u64, String> {
        let answer = self.command(&format!("xp /1gx {address:#x}")).map_err(|error| error.to_string())?;
        parse_word(&answer).ok_or(format!("xp {address:#x}: {answer}"))
    }

    /// Reads until the monitor prints its prompt; returns everything read.
    fn read_until_prompt(&mut self) -> io::Result<Vec<u8>> {
        let mut raw = Vec::new();
        let mut buffer = [0u8; 4096];
        while !raw.ends_with(PROMPT.as_bytes()) {
            match self.stream.read(&mut buffer)? {
                0 => return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the monitor closed")),
                n => raw.extend_from_slice(&buffer[..n]),
            }
        }
        Ok(raw)
    }
}

/// The answer in what the monitor printed after a command: the text
/// between the end of the echo (the first `\r\n`) and the prompt, with
/// line ends as `\n` and no trailing line end.
fn answer(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    let text = text.strip_suffix(PROMPT).unwrap_or(&text);
    let after_echo = text.split_once("\r\n").map_or("", |(_, rest)| rest);
    after_echo.replace("\r\n", "\n").trim_end().to_string()
}

/// The value in an `xp /1gx` answer: `0000000000101000: 0x00000000000000ff`.
fn parse_word(answer: &str) -> Option<u64> {
    let (_, value) = answer.trim().split_once(": ")?;
    u64::from_str_radix(value.trim().strip_prefix("0x")?, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader};
    use std::os::unix::net::UnixListener;
    use std::path::PathBuf;

    /// Echoes `line` as QEMU's monitor does, one more character each time.
    fn echo(line: &str) -> String {
        let mut echo = String::new();
        for end in 1..=line.len() {
            echo += &line[..end];
            echo += "\x1b[K";
            if end < line.len() {
                echo += &"\x1b[D".repeat(end);
            }
        }
        echo + "\r\n"
    }

    /// A fake monitor on a fresh socket: greets, then answers each command
    /// line with `respond` after the echo. Returns the socket's path.
    fn fake_monitor(name: &str, respond: fn(&str) -> String) -> PathBuf {
        let path = std::env::temp_dir().join(format!("qemu-test-{name}-{}.sock", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path).unwrap();
        thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            stream.write_all(b"QEMU 7.2.22 monitor - type 'help' for more information\r\n(qemu) ").unwrap();
            let reader = BufReader::new(stream.try_clone().unwrap());
            for line in reader.lines() {
                let line = line.unwrap();
                let reply = format!("{}{}{PROMPT}", echo(&line), respond(&line));
                stream.write_all(reply.as_bytes()).unwrap();
            }
        });
        path
    }

    #[test]
    fn reads_a_word_from_an_xp_answer() {
        assert_eq!(parse_word("0000000000101000: 0x00000000000000ff\r\n"), Some(255));
        assert_eq!(parse_word("Cannot access memory"), None);
        assert_eq!(parse_word("00: 0xzz"), None);
    }

    #[test]
    fn the_answer_is_what_follows_the_echo() {
        let raw = format!("{}invalid parameter: bogus\r\n{PROMPT}", echo("sendkey bogus"));
        assert_eq!(answer(raw.as_bytes()), "invalid parameter: bogus");
        assert_eq!(answer(format!("{}{PROMPT}", echo("sendkey a 20")).as_bytes()), "");
        let two = format!("{}one\r\ntwo\r\n{PROMPT}", echo("x"));
        assert_eq!(answer(two.as_bytes()), "one\ntwo");
    }

    #[test]
    fn sends_keys_and_reports_refused_ones() {
        let path = fake_monitor("keys", |line| match line {
            "sendkey shift-x 20" | "sendkey ret 20" => String::new(),
            _ => format!("invalid parameter: {line}\r\n"),
        });
        let mut monitor = Monitor::connect(&path, Instant::now() + Duration::from_secs(5)).unwrap();
        assert_eq!(monitor.send_key("shift-x", 20), Ok(()));
        assert_eq!(monitor.send_key("ret", 20), Ok(()));
        let refused = monitor.send_key("bogus", 20).unwrap_err();
        assert!(refused.contains("invalid parameter"), "{refused}");
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn saves_the_screen_through_pmemsave() {
        let path = fake_monitor("screen", |line| {
            let name = line.strip_prefix("pmemsave 0xb8000 4000 \"").and_then(|rest| rest.strip_suffix('"'));
            let Some(name) = name else { return "unexpected\r\n".into() };
            let mut dump = [b' ', 0x07].repeat(screen::WIDTH * screen::HEIGHT);
            dump[0] = b'O';
            dump[2] = b'K';
            std::fs::write(name, dump).unwrap();
            String::new()
        });
        let mut monitor = Monitor::connect(&path, Instant::now() + Duration::from_secs(5)).unwrap();
        let file = std::env::temp_dir().join(format!("qemu-test-screen-{}.bin", std::process::id()));
        let lines = monitor.save_screen(&file).unwrap();
        assert_eq!(lines[0], "OK");
        assert_eq!(lines.len(), screen::HEIGHT);
        let _ = std::fs::remove_file(&file);
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn connecting_to_no_socket_fails_at_the_deadline() {
        let path = std::env::temp_dir().join("qemu-test-no-such-monitor.sock");
        let started = Instant::now();
        assert!(Monitor::connect(&path, started + Duration::from_millis(100)).is_err());
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
