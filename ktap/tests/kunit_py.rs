//! The crate against the kernel's own KTAP parser: for each of the
//! kernel's test logs (tests/fixtures/kunit, from Linux 7.3.4's
//! tools/testing/kunit/test_data, GPL-2.0), what
//! `python3 tools/testing/kunit/kunit.py parse LOG` reported, recorded by
//! running it on that tree: its verdict (exit 0) and its counts. The crate
//! must give the same, except where it differs on purpose, listed in
//! DIFFERENCES with the reason.

use std::path::Path;

/// Log, kunit.py's verdict, its [passed, failed, skipped, crashed]. Its
/// error count is not compared: the crate records a problem where it is
/// (on the test or the document), kunit.py once more for each parent.
const KUNIT_PY: &[(&str, bool, [usize; 4])] = &[
    ("test_config_printk_time.log", true, [10, 0, 0, 0]),
    ("test_insufficient_memory.log", false, [0, 0, 0, 0]),
    ("test_interrupted_tap_output.log", true, [10, 0, 0, 0]),
    ("test_is_test_passed-all_passed.log", true, [10, 0, 0, 0]),
    ("test_is_test_passed-all_passed_nested.log", true, [7, 0, 0, 0]),
    ("test_is_test_passed-failure-nested.log", false, [1, 2, 0, 0]),
    ("test_is_test_passed-failure.log", false, [9, 1, 0, 0]),
    ("test_is_test_passed-kselftest.log", true, [2, 0, 1, 0]),
    ("test_is_test_passed-missing_plan.log", true, [10, 0, 0, 0]),
    ("test_is_test_passed-no_tests_no_plan.log", true, [1, 0, 0, 0]),
    ("test_is_test_passed-no_tests_run_no_header.log", false, [0, 0, 0, 0]),
    ("test_is_test_passed-no_tests_run_with_header.log", false, [0, 0, 0, 0]),
    ("test_kernel_panic_interrupt.log", false, [8, 0, 0, 2]),
    ("test_multiple_prefixes.log", true, [10, 0, 0, 0]),
    ("test_output_isolated_correctly.log", true, [2, 0, 0, 0]),
    ("test_output_with_prefix_isolated_correctly.log", true, [10, 0, 0, 0]),
    ("test_parse_attributes.log", true, [1, 0, 0, 0]),
    ("test_parse_ktap_output.log", true, [3, 0, 0, 0]),
    ("test_parse_subtest_header.log", true, [1, 0, 0, 0]),
    ("test_pound_no_prefix.log", true, [10, 0, 0, 0]),
    ("test_pound_sign.log", true, [10, 0, 0, 0]),
    ("test_skip_all_tests.log", false, [0, 0, 5, 0]),
    ("test_skip_tests.log", true, [4, 0, 1, 0]),
    ("test_strip_hyphen.log", true, [2, 0, 0, 0]),
];

/// Logs on which the crate deliberately differs from kunit.py, and why.
const DIFFERENCES: &[(&str, &str)] = &[(
    "test_is_test_passed-kselftest.log",
    "the kselftest runner nests each program's own KTAP behind `# `: kunit.py reads those lines as \
     diagnostics and counts the 3 programs (2 passed, 1 skipped), the crate parses them and counts the \
     programs' 4 test cases and the skipped program (4 passed, 1 skipped): a failing case inside a \
     program that still exits 0 must fail the run",
)];

#[test]
fn the_crate_agrees_with_kunit_py() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/kunit");
    let mut disagreements = Vec::new();
    for (log, verdict, counts) in KUNIT_PY {
        let text = std::fs::read_to_string(dir.join(log)).unwrap();
        let c = ktap::parse(&text).counts();
        let ours = (c.passed(), [c.passed, c.failed, c.skipped, c.crashed]);
        let theirs = (*verdict, *counts);
        let excused = DIFFERENCES.iter().any(|(name, _)| name == log);
        if (ours != theirs) != excused {
            disagreements
                .push(format!("{log}: kunit.py {theirs:?}, crate {ours:?}, listed as a difference: {excused}"));
        }
    }
    assert!(disagreements.is_empty(), "\n{}", disagreements.join("\n"));
    let logs = std::fs::read_dir(&dir)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension() == Some("log".as_ref()))
        .count();
    assert_eq!(logs, KUNIT_PY.len(), "every kernel log has kunit.py's verdict recorded");
}
