//! Stage 2 booted with UEFI firmware (OVMF) instead of the BIOS
//! (`make image-2` first): it runs to its end as under the BIOS, with the
//! memory map UEFI reports. See `stage1_uefi.rs` for what differs.

use qemu_test::Boot;

#[test]
fn runs_to_the_end_under_uefi() {
    Boot::stage(2).uefi().timeout_secs(120).run().expect_success().expect_lines(&[
        "BdsDxe: starting Boot",
        "console: no VGA text screen",
        "Stage 2: paging capabilities",
        "stage 2 complete",
    ]);
}
