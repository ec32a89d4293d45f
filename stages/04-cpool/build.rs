//! Links the kernel image: our linker script, no C runtime, a static
//! non-relocatable executable (see `book/src/setup.md` for why).

fn main() {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../common/runtime/kernel.ld");
    println!("cargo:rerun-if-changed={script}");
    for arg in
        [&format!("-T{script}"), "-nostartfiles", "-nostdlib", "-static", "-no-pie", "-Wl,--build-id=none"]
    {
        println!("cargo:rustc-link-arg-bins={arg}");
    }
}
