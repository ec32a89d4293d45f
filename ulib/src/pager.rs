//! The pager protocol: how rinit, the pager (`programs/pager`) and a program
//! it serves (`programs/lazy`) meet. User space only: the kernel knows
//! nothing of it beyond fault channels (`abi::fault`).
//!
//! Capabilities reach the pager and the program over the one channel they
//! share with rinit (their root slot 255, which the loader fills with a
//! channel of their own, rinit's slot 215: not the channel 255 of rinit's
//! child), so the order of the messages there is the protocol:
//!
//! 1. rinit makes the fault channel, a reply channel and an untyped for the
//!    pager, sets the program's fault channel, starts the pager and puts
//!    the three capabilities on their channel ([`FAULTS`], [`MEMORY`],
//!    [`REPLIES`] in the pager's pool). The pager puts [`READY`] on the
//!    reply channel, which rinit waits for: from then on nothing else
//!    takes from that channel for the pager.
//! 2. rinit puts the fault channel and the reply channel on it for the
//!    program ([`FAULTS`], [`REPLIES`] in its pool) and starts it.
//! 3. The program puts a capability to its address space (its PML4) on the
//!    fault channel: the pager maps into it. Then each first touch of a page
//!    of [`LAZY_BUFFER`] faults; the kernel suspends the program and puts a
//!    fault message on the fault channel; the pager retypes a page from its
//!    untyped, maps it there, and resumes the program.
//! 4. Done, the program puts the number of pages it touched (a Raw
//!    message) on the fault channel; the pager answers on the reply
//!    channel with the number it mapped, revokes its untyped (which unmaps
//!    every page and table it mapped, so that the next run faults again)
//!    and exits.
//!
//! (The kernel used to build the programs, and gave each the channel 255
//! of rinit's child, so the shell refused `run lazy` once a child existed.
//! rinit's loader fills each new program's pool itself, and gives these
//! two a channel of their own.)

// ANCHOR: pager_protocol
/// Where lazy's buffer lies: nothing is mapped there when it starts.
pub const LAZY_BUFFER: u64 = 0x2000_0000;
/// The pages of the buffer: each faults once.
pub const LAZY_PAGES: u64 = 80;
/// The pager's untyped: the pages, the page table over them, and room to
/// spare.
pub const PAGER_MEMORY: u64 = 128 * 4096;

/// Slots, in the pager's pool and in the program's: the fault channel, the
/// pager's untyped (pager only), the reply channel.
pub const FAULTS: u8 = 8;
/// The pager's untyped.
pub const MEMORY: u8 = 9;
/// The reply channel, pager to program (and to rinit, once).
pub const REPLIES: u8 = 10;

/// What the pager puts on the reply channel once it holds its capabilities.
pub const READY: u64 = 0x0052_4541_4459; // "READY" in ASCII
// ANCHOR_END: pager_protocol
