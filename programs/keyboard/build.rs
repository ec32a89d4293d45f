//! Links the program: see `ulib/link_user.rs`, shared by every user program.

include!("../../ulib/link_user.rs");
