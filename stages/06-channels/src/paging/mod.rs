//! Paging: the levels, indices, rights, errors and window of
//! `common::paging`, and the levels as types for kernel objects.
//!
//! - `common::paging` (re-exported here): levels, indices, rights and
//!   errors, and [`window`], how the kernel reaches a table;
//! - [`levels`]: the four levels as types, for capabilities and objects.
//!
//! Stage 2's paging capabilities (`PML4Cap` and its kin, each owning a
//! frame) are gone: from stage 5 on, page tables and pages are objects in
//! capability pools, mapped through their capabilities by
//! `objects::mapping`, with the same rules.

pub mod levels;

pub use common::paging::*;
