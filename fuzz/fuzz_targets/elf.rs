//! Coverage-guided fuzzing of the ELF loader (`common::elf`): any bytes
//! as a boot module. The plan must refuse them with an error or accept
//! them with its promises kept (segments sorted and apart, every page
//! once, in order, never writable and executable, the entry in code), and
//! loading an accepted plan must copy exactly the file's bytes.

#![no_main]

use kernel_fuzz::check_elf;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check_elf(data));
