//! Paging: the levels, indices, rights, errors and window of
//! `common::paging` (finished here: no later chapter changes them), and
//! stage 2's page tables as typed capabilities.
//!
//! - `common::paging` (re-exported here): levels, indices, rights and
//!   errors, and [`window`], how the kernel reaches a table;
//! - [`caps`]: `PML4Cap`, `PDPTCap`, `PDCap`, `PTCap`, `RawPageCap` and the
//!   rules for mapping them.

pub mod caps;

pub use caps::{PDCap, PDPTCap, PML4Cap, PTCap, RawPageCap};
pub use common::paging::*;
