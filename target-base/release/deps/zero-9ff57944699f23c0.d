/work/h20b/target-base/release/deps/zero-9ff57944699f23c0.d: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/zero-0.1.3/src/lib.rs

/work/h20b/target-base/release/deps/libzero-9ff57944699f23c0.rlib: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/zero-0.1.3/src/lib.rs

/work/h20b/target-base/release/deps/libzero-9ff57944699f23c0.rmeta: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/zero-0.1.3/src/lib.rs

/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/zero-0.1.3/src/lib.rs:
