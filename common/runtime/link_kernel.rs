// The build script of every stage's kernel image, shared: each stage's
// `Cargo.toml` names this file (`build = "../../common/runtime/link_kernel.rs"`).
//
// It links the image with our linker script (`kernel.ld`, beside this
// file), without a C runtime, as a static, non-relocatable executable. The
// arguments apply to the package's binaries only (`rustc-link-arg-bins`):
// host unit tests of the same package link normally.

fn main() {
    // The folder read when the script runs, not when it was built: the
    // same build of it serves a copy of the tree elsewhere (make
    // grade-check's scratch copy, tools/qemu-test/src/bin/grade/seed.rs).
    let directory = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let script = format!("{directory}/../../common/runtime/kernel.ld");
    println!("cargo:rerun-if-changed={script}");
    for arg in
        [&format!("-T{script}"), "-nostartfiles", "-nostdlib", "-static", "-no-pie", "-Wl,--build-id=none"]
    {
        println!("cargo:rustc-link-arg-bins={arg}");
    }
}
