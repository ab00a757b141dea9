use super::*;
use crate::guest::{
    boot::{self, Accel},
    verdict::{Expectations, GuestEnd},
};

const GUP_RUN: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../ktap/tests/fixtures/real_gup_suite.log"));

fn suite(name: &str) -> Suite {
    Suite::load(&crate::project::root().join("selftests"), name).unwrap()
}

/// What `test` records for `log` judged against `expect`.
fn result_of(suite_name: &str, log: &str, expect: &Expectations) -> SuiteResult {
    let verdict = Verdict::judge(log, expect);
    let failure = verdict.why.clone();
    let ending = match GuestEnd::from_log(log) {
        Some(GuestEnd::Killed(_)) => Ending::RunTimeout { seconds: 300 },
        _ => Ending::Exited { code: Some(0) },
    };
    let run = GuestRun { ending, duration: Duration::from_secs(10), booted_after: None, tail: Vec::new() };
    let accel = AccelChoice { accel: Accel::Tcg, why: "asked for".into() };
    SuiteResult::new(&suite(suite_name), &accel, &run, "console.log".into(), verdict, failure)
}

fn as_suite(name: &str, log: &str) -> SuiteResult {
    result_of(name, log, &Expectations::of_suite(&suite(name)).unwrap())
}

/// The testsuite element's counts, after parsing junit.xml as a CI
/// system would.
fn junit_counts(results: &[SuiteResult]) -> Vec<(String, [usize; 4])> {
    let xml = junit(results).to_string().unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap_or_else(|e| panic!("junit.xml is not XML: {e}\n{xml}"));
    let number = |node: roxmltree::Node, name: &str| node.attribute(name).map_or(0, |v| v.parse().unwrap());
    doc.descendants()
        .filter(|n| n.has_tag_name("testsuite"))
        .map(|s| {
            let counts = ["tests", "failures", "errors", "skipped"].map(|a| number(s, a));
            (s.attribute("name").unwrap().to_owned(), counts)
        })
        .collect()
}

#[test]
fn leaves_are_the_testcases_and_parents_their_classname() {
    let result = result_of("gup", GUP_RUN, &Expectations::none());
    assert_eq!(junit_counts(&[result]), [("gup".to_owned(), [10, 0, 0, 0])]);
    let xml = junit(&[result_of("gup", GUP_RUN, &Expectations::none())]).to_string().unwrap();
    assert!(xml.contains(r#"<testcase name="ioctl status 0" classname="gup / selftests: gup: gup_basic">"#), "{xml}");
}

/// Control characters in a test's output are not XML; todo and xfail are
/// skipped, not failures; a failure keeps its diagnostics.
#[test]
fn junit_is_xml_whatever_the_tests_printed() {
    let log = "KTAP version 1\n1..4\n# escape \x1b[31mred\x1b[0m and \x01\nnot ok 1 a # exit=1\n\
               ok 2 b # TODO later\nnot ok 3 c # XFAIL known\nok 4 d # SKIP no device\n";
    let result = result_of("gup", log, &Expectations::none());
    assert_eq!(junit_counts(&[result]), [("gup".to_owned(), [4, 1, 0, 3])]);
    let result = result_of("gup", log, &Expectations::none());
    let xml = junit(&[result]).to_string().unwrap();
    assert!(xml.contains("<system-out>escape red and </system-out>"), "{xml}");
}

/// The boot's KUnit results passed, the suite's 7 tests never ran: 7
/// errors, counted as crashed.
#[test]
fn tests_that_never_reported_are_errors() {
    let result =
        as_suite("gup", include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/real_gup_cut_off_in_boot.log")));
    assert_eq!((result.counts.crashed, result.verdict.as_str()), (7, "tests failed"));
    assert_eq!(junit_counts(&[result]), [("gup".to_owned(), [10, 0, 7, 0])]);
}

#[test]
fn a_failing_test_shows_its_diagnostics() {
    let log = GUP_RUN.replace(
        "# # GUP_BASIC_TEST: done\n# ok 1 ioctl status 0\n# # Totals: pass:1 fail:0 xfail:0 xpass:0 skip:0 error:0\nok 5",
        "# # GUP_BASIC_TEST: done\n# # ioctl(GUP_BASIC_TEST) returned -14\n# not ok 1 ioctl status -14\n\
         # # Totals: pass:0 fail:1 xfail:0 xpass:0 skip:0 error:0\nnot ok 5",
    );
    let result = result_of("gup", &log, &Expectations::none());
    insta::assert_snapshot!(result.failed_tests());
    let json = serde_json::to_value(&result).unwrap();
    let failed =
        json["tests"].as_array().unwrap().iter().find(|t| t["status"] == "fail" && t["counted"] == true).unwrap();
    assert!(!failed["diagnostics"].as_array().unwrap().is_empty(), "{failed}");
}

#[test]
fn results_json_and_junit_xml_are_written() {
    let dir = tempfile::tempdir().unwrap();
    let checkout =
        kcidb::Checkout { base_commit: &"a".repeat(40), patches: vec!["ab12"], profile: "default", arch: "x86_64" };
    write(dir.path(), &[result_of("gup", GUP_RUN, &Expectations::none())], &checkout).unwrap();
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("results.json")).unwrap()).unwrap();
    assert_eq!(json[0]["verdict"], "ok");
    roxmltree::Document::parse(&std::fs::read_to_string(dir.path().join("junit.xml")).unwrap()).unwrap();
    let kcidb: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("kcidb.json")).unwrap()).unwrap();
    assert_eq!(kcidb["tests"][0]["path"], "selftests.gup");
}

/// The gup run killed at its timeout while the fourth test ran: the guest
/// is an error, the fourth test and the three that never started are
/// crashed errors, and results.json does not say ok.
#[test]
fn a_timed_out_suite_is_an_error_not_a_pass() {
    let cut = GUP_RUN.find("ok 4 selftests: gup: pin_fast all pages").unwrap();
    let killed = GuestEnd::Killed("the tests did not finish within 300 s".into()).marker();
    let log = format!("{}{killed}\n", &GUP_RUN[..cut]);
    let result = as_suite("gup", &log);
    assert_eq!(result.verdict, "timed out");
    assert_eq!(result.counts, Counts { passed: 7, failed: 0, skipped: 0, crashed: 4 });
    assert_eq!(result.missing.len(), 3);
    assert_eq!(junit_counts(&[result]), [("gup".to_owned(), [12, 0, 5, 0])]);
}

/// A real kernel panic (the harness-panic suite): the guest is an error
/// with the panic's fingerprint, the test it killed one more.
#[test]
fn a_crashed_suite_is_an_error_with_the_report() {
    let result = as_suite(
        "harness-panic",
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/real_sysrq_panic.log")),
    );
    assert_eq!((result.verdict.as_str(), result.counts.crashed), ("the kernel crashed", 1));
    let xml = junit(&[as_suite(
        "harness-panic",
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/real_sysrq_panic.log")),
    )])
    .to_string()
    .unwrap();
    assert!(xml.contains("kernel report: panic: Kernel panic - not syncing: sysrq triggered crash"), "{xml}");
    assert_eq!(junit_counts(&[result]), [("harness-panic".to_owned(), [5, 0, 2, 0])]);
    let json = serde_json::to_value(as_suite(
        "harness-panic",
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/real_sysrq_panic.log")),
    ));
    assert_eq!(json.unwrap()["verdict"], "the kernel crashed");
}

/// A new run first removes the reports of the last one, so that none is
/// left next to console logs it does not describe if this run is cut off.
#[test]
fn the_reports_of_an_earlier_run_are_removed() {
    let dir = tempfile::tempdir().unwrap();
    let checkout =
        kcidb::Checkout { base_commit: &"a".repeat(40), patches: vec![], profile: "default", arch: "x86_64" };
    write(dir.path(), &[result_of("gup", GUP_RUN, &Expectations::none())], &checkout).unwrap();
    std::fs::write(dir.path().join("config"), "CONFIG_X=y\n").unwrap();
    remove(dir.path()).unwrap();
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left, ["config"]);
    remove(dir.path()).unwrap();
}

#[test]
fn the_summary_of_a_base_run_says_it_was_not_compared() {
    let accel = AccelChoice { accel: boot::Accel::Tcg, why: "asked for".into() };
    let dir = Path::new("results/default-base");
    let base = summary(&[], &accel, dir, Kernel::Base);
    assert!(
        base.starts_with(
            "base kernel: the suites ran on the base without the series; results are not compared with snapshots"
        ),
        "{base}"
    );
    assert!(base.contains("exit code 3 for a crash"), "{base}");
    assert!(!summary(&[], &accel, dir, Kernel::Series).contains("base kernel"));
}
