use std::time::Duration;

use super::*;
use crate::guest::{
    boot::{Accel, AccelChoice, Ending, GuestRun},
    suite::Suite,
    verdict::{Expectations, GuestEnd, Verdict},
};

const GUP_RUN: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../ktap/tests/fixtures/real_gup_suite.log"));
const BASE: &str = "634fa1ee9085ad73efa5d56fbbccb9f3c1697feb";

fn result_of(suite_name: &str, log: &str, declared: bool) -> SuiteResult {
    let suite = Suite::load(&crate::project::root().join("selftests"), suite_name).unwrap();
    let expect = if declared { Expectations::of_suite(&suite).unwrap() } else { Expectations::none() };
    let verdict = Verdict::judge(log, &expect);
    let failure = verdict.why.clone();
    let ending = match GuestEnd::from_log(log) {
        Some(GuestEnd::Killed(_)) => Ending::RunTimeout { seconds: 300 },
        _ => Ending::Exited { code: Some(0) },
    };
    let run = GuestRun { ending, duration: Duration::from_secs(10), booted_after: None, tail: Vec::new() };
    let accel = AccelChoice { accel: Accel::Tcg, why: "asked for".into() };
    SuiteResult::new(&suite, &accel, &run, "console.log".into(), verdict, failure)
}

fn kcidb(results: &[SuiteResult]) -> Value {
    let checkout = Checkout { base_commit: BASE, patches: vec!["ab12", "cd34"], profile: "default", arch: "x86_64" };
    report(&checkout, results)
}

/// The KCIDB I/O schema of kcidb-io (tests/data/kcidb.schema.json).
fn assert_valid(report: &Value) {
    // Its patterns spell NUL `\0`, which ECMA-262 regexes take and Rust's
    // regex engines refuse; `\x00` is the same character in both.
    let text =
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/kcidb.schema.json")).replace(r"\\0", r"\\x00");
    let schema: Value = serde_json::from_str(&text).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> =
        validator.iter_errors(report).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    assert!(errors.is_empty(), "{}\n{report:#}", errors.join("\n"));
}

fn statuses(report: &Value) -> Vec<String> {
    let tests = report["tests"].as_array().unwrap();
    tests.iter().map(|t| format!("{} {}", t["status"].as_str().unwrap(), t["path"].as_str().unwrap())).collect()
}

#[test]
fn a_passing_run_in_kcidb_form() {
    let report = kcidb(&[result_of("gup", GUP_RUN, false)]);
    assert_valid(&report);
    insta::assert_snapshot!(statuses(&report).join("\n"));
    assert_eq!(
        report["checkouts"][0]["patchset_hash"],
        "490fb335283282a4cf2cf02164675c3cc9c09406e0f4c26f1892d7dfba76646d"
    );
}

/// A panic, a timeout and a boot cut off: FAIL, ERROR, MISS; every
/// report valid against the schema.
#[test]
fn failed_runs_in_kcidb_form() {
    let panic = result_of(
        "harness-panic",
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/real_sysrq_panic.log")),
        true,
    );
    let cut = GUP_RUN.find("ok 4 selftests: gup: pin_fast all pages").unwrap();
    let killed = GuestEnd::Killed("the tests did not finish within 300 s".into()).marker();
    let timeout = result_of("gup", &format!("{}{killed}\n", &GUP_RUN[..cut]), true);
    let report = kcidb(&[panic, timeout]);
    assert_valid(&report);
    let statuses = statuses(&report);
    for expected in [
        "FAIL selftests.harness-panic",
        "MISS selftests.harness-panic.sysrq_crash",
        "ERROR selftests.gup",
        "ERROR selftests.gup.pin_fast_all_pages",
        "MISS selftests.gup.dump_pages",
        "PASS selftests.gup.gup_fast.ioctl_status_0",
    ] {
        assert!(statuses.iter().any(|s| s == expected), "{expected} not in\n{}", statuses.join("\n"));
    }
    let crash = &report["tests"][0];
    assert!(crash["log_excerpt"].as_str().unwrap().contains("sysrq triggered crash"), "{crash:#}");
}

#[test]
fn paths_are_made_of_kcidb_segments() {
    assert_eq!(
        test_path("vmf-insert-range", "selftests: vmf-insert-range: vmf_insert_range / vmfir.pud_aligned"),
        "selftests.vmf-insert-range.vmf_insert_range.vmfir.pud_aligned"
    );
    assert_eq!(
        test_path("gup", "rust_mm_virt / range is clipped"),
        "selftests.gup.kunit.rust_mm_virt.range_is_clipped"
    );
    assert_eq!(segment("a: b/c"), "a__b_c");
}
