/work/h20b/target-base/release/deps/qemu_test-0822a5651eec0f70.d: tools/qemu-test/src/lib.rs tools/qemu-test/src/bench.rs tools/qemu-test/src/image.rs tools/qemu-test/src/iso.rs tools/qemu-test/src/keys.rs tools/qemu-test/src/monitor.rs tools/qemu-test/src/screen.rs

/work/h20b/target-base/release/deps/libqemu_test-0822a5651eec0f70.rlib: tools/qemu-test/src/lib.rs tools/qemu-test/src/bench.rs tools/qemu-test/src/image.rs tools/qemu-test/src/iso.rs tools/qemu-test/src/keys.rs tools/qemu-test/src/monitor.rs tools/qemu-test/src/screen.rs

/work/h20b/target-base/release/deps/libqemu_test-0822a5651eec0f70.rmeta: tools/qemu-test/src/lib.rs tools/qemu-test/src/bench.rs tools/qemu-test/src/image.rs tools/qemu-test/src/iso.rs tools/qemu-test/src/keys.rs tools/qemu-test/src/monitor.rs tools/qemu-test/src/screen.rs

tools/qemu-test/src/lib.rs:
tools/qemu-test/src/bench.rs:
tools/qemu-test/src/image.rs:
tools/qemu-test/src/iso.rs:
tools/qemu-test/src/keys.rs:
tools/qemu-test/src/monitor.rs:
tools/qemu-test/src/screen.rs:

# env-dep:CARGO_MANIFEST_DIR=/work/h20b-base/tools/qemu-test
