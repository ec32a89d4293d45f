//! Paging: the levels, indices, rights, errors and window of
//! `common::paging`, stage 2's page tables as typed capabilities, and the
//! levels as types for kernel objects.
//!
//! - `common::paging` (re-exported here): levels, indices, rights and
//!   errors, and [`window`], how the kernel reaches a table;
//! - [`levels`]: the four levels as types, for capabilities and objects;
//! - [`caps`]: `PML4Cap`, `PDPTCap`, `PDCap`, `PTCap`, `RawPageCap` and the
//!   rules for mapping them.

pub mod caps;
pub mod levels;

pub use caps::{PDCap, PDPTCap, PML4Cap, PTCap, RawPageCap};
pub use common::paging::*;
