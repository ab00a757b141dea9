//! Two `cargo xtask` runs in one checkout: the second waits for the first.
//! Both run `bench --from FIFO`, which takes the checkout's lock and then
//! blocks reading a named pipe until the test writes to it, so the test
//! decides when each ends.

use std::{
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

fn bench_from(fifo: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["bench", "--from"])
        .arg(fifo)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn a_second_run_in_the_checkout_waits_for_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    for fifo in [&a, &b] {
        assert!(Command::new("mkfifo").arg(fifo).status().unwrap().success());
    }
    let lock = Path::new(env!("CARGO_MANIFEST_DIR")).join("../work/xtask.lock");
    let started = Instant::now();
    let first = bench_from(&a);
    let holds = |pid: u32| std::fs::read_to_string(&lock).is_ok_and(|t| t.starts_with(&format!("pid {pid}:")));
    while !holds(first.id()) {
        assert!(started.elapsed() < Duration::from_secs(30), "the first run never took {}", lock.display());
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut second = bench_from(&b);
    std::thread::sleep(Duration::from_millis(500));
    assert!(second.try_wait().unwrap().is_none(), "the second run did not wait");
    assert!(holds(first.id()));

    // An empty output: the first fails (no samples) and lets go.
    std::fs::write(&a, "").unwrap();
    let first_pid = first.id();
    assert_eq!(first.wait_with_output().unwrap().status.code(), Some(1));
    std::fs::write(&b, "").unwrap();
    let second_pid = second.id();
    let second = second.wait_with_output().unwrap();
    let stderr = String::from_utf8(second.stderr).unwrap();
    assert_eq!(second.status.code(), Some(1), "{stderr}");
    assert!(
        stderr
            .contains(&format!("waiting: another xtask works in this checkout (pid {first_pid}: xtask bench --from ")),
        "{stderr}"
    );
    assert!(holds(second_pid), "the second run took the lock after the first");
}
