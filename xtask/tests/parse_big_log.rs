//! `cargo xtask parse` on a 50 MB log of a WARN in a loop, as a test that
//! hit a WARN_ON (not _ONCE) in a hot path leaves it: the report stays a
//! screen long and the memory a small multiple of the log. Alone in its
//! test binary, so the children's peak memory is this parse's.

use std::{fmt::Write as _, process::Command};

#[test]
fn a_50_mb_log_gives_a_bounded_report_in_bounded_memory() {
    let warn = include_str!("data/real_warn.log");
    let mut log = String::from("TAP version 13\n1..1\n# selftests: x: y\n");
    let mut n = 0;
    while log.len() < 50 << 20 {
        write!(log, "{}", warn.replace("vmf_insert_rang/147", &format!("vmf_insert_rang/{}", n % 1000))).unwrap();
        n += 1;
    }
    log.push_str("ok 1 selftests: x: y\n");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.log");
    std::fs::write(&path, &log).unwrap();
    let size = log.len();
    drop(log);

    let out = Command::new(env!("CARGO_BIN_EXE_xtask")).arg("parse").arg(&path).output().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(3), "{stdout}");
    assert!(stdout.len() < 4096, "{} bytes of report", stdout.len());
    assert!(stdout.contains(&format!(", {n} times in all)")), "{stdout}");

    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    assert_eq!(unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) }, 0);
    let peak = usage.ru_maxrss as usize * 1024;
    assert!(peak < 2 * size, "parse of a {} MB log peaked at {} MB", size >> 20, peak >> 20);
}
