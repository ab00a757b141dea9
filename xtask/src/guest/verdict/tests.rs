use super::*;

fn suite(name: &str) -> Suite {
    Suite::load(&crate::project::root().join("selftests"), name).unwrap()
}

fn judge_as(log: &str, name: &str) -> Verdict {
    Verdict::judge(log, &Expectations::of_suite(&suite(name)).unwrap())
}

/// A real run of the gup suite: KUnit at boot, then the runner's TAP.
const GUP_RUN: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../ktap/tests/fixtures/real_gup_suite.log"));

/// The same run cut off by Ctrl-C while the guest started up: the boot's
/// KUnit results pass, but none of the suite's tests ran.
#[test]
fn a_run_cut_off_during_boot_is_not_ok() {
    let log = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/real_gup_cut_off_in_boot.log"));
    let verdict = judge_as(log, "gup");
    assert_eq!(verdict.failure, Some(Failure::TestsFailed));
    assert_eq!(verdict.counts, Counts { passed: 3, failed: 0, skipped: 0, crashed: 7 });
    insta::assert_snapshot!(verdict.why.unwrap(), @"7 of the 7 tests selftests/gup/suite.toml declares did not report: selftests: gup: gup_fast, selftests: gup: gup_fast all pages, selftests: gup: pin_fast, selftests: gup: pin_fast all pages, selftests: gup: gup_basic, selftests: gup: pin_longterm, selftests: gup: dump_pages");
}

#[test]
fn results_that_differ_from_the_snapshot_say_so() {
    let log = GUP_RUN.replace("ok 5 selftests: gup: gup_basic", "not ok 5 selftests: gup: gup_basic # exit=1");
    let verdict = judge_as(&log, "gup");
    assert_eq!(verdict.failure, Some(Failure::SnapshotDiffers));
    assert_eq!(verdict.why.as_deref(), Some("the results differ from selftests/gup/results.snap"));
    assert!(verdict.diff.as_deref().unwrap().contains("  +   fail    selftests: gup: gup_basic # exit=1"));
    assert_eq!(verdict.accepted().failure, None);
}

#[test]
fn a_log_with_a_splat_is_a_crash_even_if_tests_pass() {
    let verdict = Verdict::judge(
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/splats.log")),
        &Expectations::none(),
    );
    assert_eq!(verdict.failure, Some(Failure::KernelCrashed));
    let row = Row { name: "splats", counts: verdict.counts, time: None, boot: None, verdict: verdict.failure };
    insta::assert_snapshot!(format!("{}{}", table(&[row]), verdict.details("splats")));
}

#[test]
fn without_a_suite_failed_tests_fail() {
    let judge = |log: &str| Verdict::judge(log, &Expectations::none());
    let pass = "TAP version 13\n1..1\n# TAP version 13\n# 1..2\n# ok 1 a\n# ok 2 b # SKIP no\nok 1 selftests: mm: x\n";
    assert_eq!(judge(pass).failure, None);
    let fail = pass.replace("ok 1 selftests", "not ok 1 selftests");
    assert_eq!(judge(&fail).why.as_deref(), Some("1 result(s) not ok: selftests: mm: x (fail)"));
    let truncated = "TAP version 13\n1..2\nok 1 selftests: mm: x\n";
    assert_eq!(
        judge(truncated).why.as_deref(),
        Some("1 planned result(s) never came: TAP version 13: planned 2 tests, but only 1 reported")
    );
    let killed = format!("{truncated}{}\n", GuestEnd::Killed("the tests did not finish within 15 s".into()).marker());
    assert_eq!(judge(&killed).failure, Some(Failure::Timeout));
}

#[test]
fn a_guest_that_died_without_results_is_a_crash() {
    let log = format!("Linux version 7.3.4\n{}\n", GuestEnd::Exited(Some(255)).marker());
    let verdict = Verdict::judge(&log, &Expectations::none());
    assert_eq!(verdict.failure, Some(Failure::KernelCrashed));
    assert_eq!(verdict.why.as_deref(), Some("the guest ended (vng exit 255) without test results"));
}

#[test]
fn the_suite_of_a_results_directory_is_found() {
    let selftests = crate::project::root().join("selftests");
    assert_eq!(suite_of_log(Path::new("results/default/gup/console.log"), &selftests).as_deref(), Some("gup"));
    assert_eq!(suite_of_log(Path::new("results/default/nosuch/console.log"), &selftests), None);
    assert_eq!(suite_of_log(Path::new("results/default/gup/output.log"), &selftests), None);
}

#[test]
fn addresses_are_normalised_and_layout_kept() {
    let rendered = "TAP version 13 (1..1)\n  pass    map at 0x7fea1de00000 # pfn 0x100000000\n  pass    value 0x10\n";
    assert_eq!(
        normalise(rendered),
        "TAP version 13 (1..1)\n  pass    map at 0xADDR # pfn 0xADDR\n  pass    value 0x10\n"
    );
}

/// mm's corruption reports fail a run like any splat, and a suite can
/// declare one it provokes.
#[test]
fn an_mm_corruption_report_fails_unless_declared() {
    let log = "KTAP version 1\n1..1\nmm/pgtable-generic.c:53: bad pud 00000000d1a5f0b2(80000001000000e7)\nok 1 t\n";
    let undeclared = Verdict::judge(log, &Expectations::none());
    assert_eq!(undeclared.failure, Some(Failure::KernelCrashed));
    let splats = vec![ExpectedSplat { fingerprint: "bug: mm/pgtable-generic.c bad pud".into(), reason: "r".into() }];
    let declared = Verdict::judge(log, &Expectations { splats, ..Expectations::none() });
    assert_eq!(declared.failure, None);
    assert_eq!(declared.tolerated[0].count, 1);
}

const KUNIT_DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../ktap/tests/fixtures/kunit/");

fn judge_kernel_log(name: &str) -> Verdict {
    let log = std::fs::read_to_string(format!("{KUNIT_DATA}{name}")).unwrap();
    Verdict::judge(&log, &Expectations::none())
}

/// kunit.py passes test_interrupted_tap_output.log: every planned result
/// came before the panic. Here a panic is a crash wherever it is.
#[test]
fn a_panic_after_the_last_result_is_a_crash() {
    let verdict = judge_kernel_log("test_interrupted_tap_output.log");
    assert_eq!(verdict.counts, Counts { passed: 10, failed: 0, skipped: 0, crashed: 0 });
    assert_eq!(verdict.failure, Some(Failure::KernelCrashed));
}

/// As kunit.py: no tests, and only skipped ones, are not a pass.
#[test]
fn no_tests_and_all_skipped_are_not_ok() {
    let none = judge_kernel_log("test_is_test_passed-no_tests_run_with_header.log");
    assert_eq!(none.failure, Some(Failure::NoResults));
    let skipped = judge_kernel_log("test_skip_all_tests.log");
    assert_eq!((skipped.failure, skipped.why.as_deref()), (Some(Failure::NoResults), Some("all 5 test(s) skipped")));
    let missing_plan = judge_kernel_log("test_is_test_passed-missing_plan.log");
    assert_eq!(missing_plan.failure, None);
}

/// The console logs of a real `cargo xtask test -p default` of every suite
/// (tests/data/real_runs), each of which test accepted: judged as its
/// suite, each is ok and matches its reviewed snapshot, the
/// vmf-insert-range WARN the suite declares included.
#[test]
fn real_runs_are_judged_as_test_judged_them() {
    for name in
        ["gup", "vmf-insert-range", "vmf-insert-range-ram", "pud-pfnmap", "vfio-pci", "remap", "qxl-ttm", "rust-pfnmap"]
    {
        let path = format!("{}/tests/data/real_runs/{name}.console.log", env!("CARGO_MANIFEST_DIR"));
        let verdict = judge_as(&std::fs::read_to_string(path).unwrap(), name);
        assert_eq!((verdict.failure, verdict.why.as_deref()), (None, None), "{name}");
        assert_eq!(verdict.snapshot, SnapshotStatus::Matches, "{name}");
        assert_eq!(verdict.counts.failed + verdict.counts.crashed, 0, "{name}");
    }
}

/// Without its suite's declarations the vmf-insert-range run's WARNs are
/// undeclared splats, as they were for parse before it knew suites.
#[test]
fn the_declared_warn_is_tolerated_only_as_its_suite() {
    let log = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/real_runs/vmf-insert-range.console.log"));
    let verdict = judge_as(log, "vmf-insert-range");
    let tolerated: Vec<_> = verdict.tolerated.iter().map(|splat| splat.fingerprint.as_str()).collect();
    assert_eq!(
        tolerated,
        [
            "warning: linux/mm/huge_memory.c at __insert_pmd",
            "warning: linux/mm/huge_memory.c at __insert_pud",
            "warning: linux/mm/memory.c at vmf_insert_range | vmfir_fault",
        ]
    );
    let undeclared = Verdict::judge(log, &Expectations::none());
    assert_eq!(undeclared.failure, Some(Failure::KernelCrashed));
}

/// A real debug-profile run of pud-pfnmap whose tests all passed, with an
/// upstream KASAN report at boot that selftests/known-splats.toml lists:
/// tolerated, and named with its reason; any other suite's judgement of
/// the same log without the list is a crash.
#[test]
fn a_known_splat_of_the_base_kernel_is_tolerated_and_named() {
    let log = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/real_debug_la57_kasan_boot.log"));
    let verdict = judge_as(log, "pud-pfnmap");
    assert_eq!(verdict.failure, None, "{:?}", verdict.why);
    assert_eq!(verdict.tolerated.len(), 1);
    assert!(verdict.details("pud-pfnmap").contains("declared kernel report seen 1x: kasan: wild-memory-access"));

    let mut expect = Expectations::of_suite(&suite("pud-pfnmap")).unwrap();
    expect.splats.clear();
    assert_eq!(Verdict::judge(log, &expect).failure, Some(Failure::KernelCrashed));
}

#[test]
fn known_splats_need_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("known-splats.toml"), "[[known-splat]]\nfingerprint = \"bug: x\"\nreason = \" \"\n")
        .unwrap();
    let err = known_splats(dir.path()).unwrap_err().to_string();
    assert!(err.contains("selftests/known-splats.toml: known-splat[0]: needs a fingerprint and the reason"), "{err}");
    assert!(known_splats(&dir.path().join("none")).unwrap().is_empty());
}
