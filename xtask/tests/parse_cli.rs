//! `cargo xtask parse` as CI sees it: the summary on stdout and the exit
//! code, on saved console logs.

use std::process::Command;

fn parse(log: &str) -> (i32, String) {
    let (code, stdout, _) = parse_with(&[&format!("{}/{log}", env!("CARGO_MANIFEST_DIR"))]);
    (code, stdout)
}

fn parse_with(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_xtask")).arg("parse").args(args).output().unwrap();
    let text = |b: Vec<u8>| String::from_utf8(b).unwrap();
    (out.status.code().unwrap(), text(out.stdout), text(out.stderr))
}

#[test]
fn a_passing_run() {
    let (code, stdout) = parse("../ktap/tests/fixtures/real_gup_suite.log");
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("real_gup_suite.log       10      0      0      0"), "{stdout}");
}

#[test]
fn a_panic_is_a_crash() {
    let (code, stdout) = parse("tests/data/real_sysrq_panic.log");
    assert_eq!(code, 3, "{stdout}");
    assert!(stdout.contains("kernel report: panic: Kernel panic - not syncing: sysrq triggered crash"), "{stdout}");
}

#[test]
fn failed_tests() {
    let (code, stdout) = parse("../ktap/tests/fixtures/kselftest_runner_nested.log");
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("fail selftests: mm: pfnmap / pfnmap.fork"), "{stdout}");
}

#[test]
fn a_missing_log_is_a_usage_error_naming_it() {
    let (code, _, stderr) = parse_with(&["tests/data/no-such.log"]);
    assert_eq!(code, 7, "{stderr}");
    assert!(stderr.contains("cannot read the log tests/data/no-such.log"), "{stderr}");
}

const CUT_OFF: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/real_gup_cut_off_in_boot.log");

/// The boot's KUnit tests passed; the suite's own never ran.
#[test]
fn a_run_cut_off_during_boot_fails_as_its_suite() {
    let (code, stdout, stderr) = parse_with(&["--suite", "gup", CUT_OFF]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(stdout.contains("gup                       3      0      0      7"), "{stdout}");
    assert!(stdout.contains("gup: 7 of the 7 tests selftests/gup/suite.toml declares did not report"), "{stdout}");
}

/// results/PROFILE/SUITE/console.log is judged as a run of SUITE unasked.
#[test]
fn a_console_log_in_a_suite_directory_is_judged_as_that_suite() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("gup")).unwrap();
    let log = dir.path().join("gup/console.log");
    std::fs::copy(CUT_OFF, &log).unwrap();
    let (code, stdout, stderr) = parse_with(&[log.to_str().unwrap()]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(stderr.contains("judged as a run of suite gup"), "{stderr}");
}

#[test]
fn a_log_without_test_output_says_so() {
    let (code, stdout, _) = parse_with(&["/dev/null"]);
    assert_eq!(code, 1);
    assert!(stdout.contains("null: the log is empty: no output at all"), "{stdout}");
    let dir = tempfile::tempdir().unwrap();
    let boot = dir.path().join("boot.log");
    let real = include_str!("../../ktap/tests/fixtures/real_gup_suite.log");
    std::fs::write(&boot, real.lines().take(300).map(|l| format!("{l}\n")).collect::<String>()).unwrap();
    let (code, stdout, _) = parse_with(&[boot.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(stdout.contains("boot.log: none of the log's 300 line(s) is KTAP or TAP test output"), "{stdout}");
}

/// `cargo xtask parse LOG | head -1`, or `| true`: the reader is gone
/// before xtask writes.
#[test]
fn a_closed_pipe_is_not_a_panic() {
    let log = format!("{}/tests/data/real_sysrq_panic.log", env!("CARGO_MANIFEST_DIR"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["parse", &log])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// A real vmf-insert-range run with the WARN its suite declares: test
/// accepted it, and so does parse as that suite; without it, a crash.
#[test]
fn a_declared_warn_passes_as_its_suite() {
    let log = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/real_runs/vmf-insert-range.console.log");
    let (code, stdout, stderr) = parse_with(&["--suite", "vmf-insert-range", log]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("declared kernel report seen 1x: warning: linux/mm/memory.c at vmf_insert_range"),
        "{stdout}"
    );
    let (code, _, _) = parse_with(&[log]);
    assert_eq!(code, 3);
}

/// A console log in results/PROFILE-base/SUITE/ is judged as test judged
/// the base kernel's run: not against the series' snapshot. A gup run
/// that skipped a test passes there, and differs from the snapshot in
/// results/PROFILE/.
#[test]
fn a_console_log_of_a_base_run_is_not_compared_with_the_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let skipped = include_str!("data/real_runs/gup.console.log")
        .replace("ok 5 selftests: gup: gup_basic", "ok 5 selftests: gup: gup_basic # SKIP");
    let judged = |label: &str| {
        let log = dir.path().join("results").join(label).join("gup/console.log");
        std::fs::create_dir_all(log.parent().unwrap()).unwrap();
        std::fs::write(&log, &skipped).unwrap();
        parse_with(&[log.to_str().unwrap()])
    };
    let (code, stdout, stderr) = judged("default-base");
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stderr.contains(
            "judged as a run of suite gup (selftests/gup/) on the base kernel, not compared with its snapshot"
        ),
        "{stderr}"
    );
    let (code, stdout, stderr) = judged("default");
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(stdout.contains("gup: the results differ from selftests/gup/results.snap"), "{stdout}");
}
