//! The hidden `cargo xtask time-step`, which the cold build of `bench
//! --harness` puts before each compiler, is transparent to make.

use std::process::Command;

/// The program's exit code, and a line for the step even when it fails.
#[test]
fn a_failing_step_exits_as_its_program_did() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("steps.log");
    let status = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["time-step", "--log"])
        .arg(&log)
        .args(["--", "sh", "-c", "echo out; exit 3", "-o", "mm/x.o"])
        .output()
        .unwrap();
    assert_eq!(status.status.code(), Some(3));
    assert_eq!(status.stdout, b"out\n");
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.ends_with("\tmm/x.o\n"), "{text}");
}
