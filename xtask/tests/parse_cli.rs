//! `cargo xtask parse` as CI sees it: the summary on stdout and the exit
//! code, on saved console logs.

use std::process::Command;

fn parse(log: &str) -> (i32, String) {
    let path = format!("{}/{log}", env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(env!("CARGO_BIN_EXE_xtask")).args(["parse", &path]).output().unwrap();
    (out.status.code().unwrap(), String::from_utf8(out.stdout).unwrap())
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
fn a_missing_log_is_an_xtask_error() {
    let (code, _) = parse("tests/data/no-such.log");
    assert_eq!(code, 8);
}
