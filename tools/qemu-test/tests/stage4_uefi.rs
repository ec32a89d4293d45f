//! Stage 4 booted with UEFI firmware (OVMF) instead of the BIOS
//! (`make image-4` first): it runs to its end as under the BIOS, with the
//! memory map UEFI reports. See `stage1_uefi.rs` for what differs.

use qemu_test::Boot;

#[test]
fn runs_to_the_end_under_uefi() {
    Boot::stage(4).uefi().timeout_secs(120).run().expect_success().expect_lines(&[
        "BdsDxe: starting Boot",
        "console: no VGA text screen",
        "Stage 4: capability pools",
        "retype a 10000-page untyped from ",
        "stage 4 complete",
    ]);
}
