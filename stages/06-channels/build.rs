//! Links the kernel image: see `common/runtime/link_kernel.rs`, shared by
//! every stage.

include!("../../common/runtime/link_kernel.rs");
