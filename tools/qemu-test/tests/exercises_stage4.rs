#![cfg(feature = "exercises")]
//! The exercises of chapter 4 (capability pools), as boot tests: each
//! boots `build/stage-4.iso` and checks the lines the exercise asks the
//! kernel to print. Each fails on the stage as shipped and passes once the
//! exercise is solved (`make grade STAGE=4`; the exercises are in
//! `exercises/stage-4.txt` and at the end of the chapter).

use qemu_test::Boot;

const STAGE: u32 = 4;

/// `swap` (easy): `cpool::swap` exchanges the capabilities of two slots,
/// and `demo::swap_slots` shows it.
#[test]
fn swap_exchanges_two_slots() {
    Boot::stage(STAGE)
        .run()
        .expect_success()
        .expect_lines(&[
            "-- swap --",
            "retype a RawPage from 8 into 90: ok",
            "retype a CPool from 8 into 91: ok",
            "swap 90 and 91: ok",
            "after the swap: 90 holds a CPool, 91 holds a RawPage",
            "swap 90 and 92: refused: 92: level 1: the slot is empty",
            "stage 4 complete",
        ])
        .expect_absent(&["NOT REFUSED"]);
}

/// `revoke-count` (moderate): a revoke says how many objects it
/// destroyed, counting the objects made from those objects too.
#[test]
fn revoke_counts_what_it_destroys() {
    Boot::stage(STAGE).run().expect_success().expect_lines(&[
        "revoke 65: ok, 3 objects destroyed",
        "revoke 80, the first of them: ok, 9999 objects destroyed",
        "stage 4 complete",
    ]);
}

/// `read-only` (hard): a read-only copy of a capability names the same
/// object, but refuses retype and revoke, and so do its copies.
#[test]
fn read_only_copies_refuse_retype_and_revoke() {
    Boot::stage(STAGE)
        .run()
        .expect_success()
        .expect_lines(&[
            "-- rights --",
            "copy 8 to 93, read-only: ok",
            "retype a RawPage from 93 into 94: refused: 93: the capability is read-only",
            "revoke 93: refused: 93: the capability is read-only",
            "copy 93 to 95: ok",
            "retype a RawPage from 95 into 94: refused: 95: the capability is read-only",
            "retype a RawPage from 8 into 94: ok",
            "stage 4 complete",
        ])
        .expect_absent(&["NOT REFUSED"]);
}
