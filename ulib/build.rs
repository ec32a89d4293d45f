//! Tells the build script of every user program where the user linker
//! script is: `DEP_ULIB_LINKER_SCRIPT` (see `link_user.rs`).

fn main() {
    let directory = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    println!("cargo::metadata=linker_script={directory}/user.ld");
    println!("cargo::rerun-if-changed=build.rs");
}
