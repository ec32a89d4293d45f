//! Paging: the levels, indices, rights, errors and window of
//! `common::paging`, re-exported here (the levels as types, for
//! capabilities and objects, are `objects::table`'s markers).
//!
//! Stage 2's paging capabilities (`PML4Cap` and its kin, each owning a
//! frame) are gone: from stage 5 on, page tables and pages are objects in
//! capability pools, mapped through their capabilities by
//! `objects::mapping`, with the same rules.

pub use common::paging::*;
