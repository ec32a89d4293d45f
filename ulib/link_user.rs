// The build script of every user program, shared: each program's `build.rs`
// includes this file (as every kernel's `Cargo.toml` names `common/runtime/
// link_kernel.rs` as its build script).
//
// It links the program with the user linker script (`ulib/user.ld`, whose
// path ulib's own build script hands over), without a C runtime, as a
// static, non-relocatable executable linked at 0x40_0000. The arguments
// apply to the package's binaries only (`rustc-link-arg-bins`).

fn main() {
    let script = std::env::var("DEP_ULIB_LINKER_SCRIPT").expect("a user program depends on ulib");
    println!("cargo::rerun-if-changed={script}");
    println!("cargo::rerun-if-env-changed=DEP_ULIB_LINKER_SCRIPT");
    for arg in
        [&format!("-T{script}"), "-nostartfiles", "-nostdlib", "-static", "-no-pie", "-Wl,--build-id=none"]
    {
        println!("cargo::rustc-link-arg-bins={arg}");
    }
}
