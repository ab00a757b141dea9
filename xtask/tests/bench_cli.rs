//! `cargo xtask bench --from LOG`: the report stages alone, on saved guest
//! outputs, as a developer runs them after a benchmark.

use std::process::Command;

fn bench_from(log: &str) -> (i32, String, String) {
    let path = format!("{}/src/bench/testdata/{log}", env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(env!("CARGO_BIN_EXE_xtask")).args(["bench", "--from", &path]).output().unwrap();
    let text = |b: Vec<u8>| String::from_utf8(b).unwrap();
    (out.status.code().unwrap(), text(out.stdout), text(out.stderr))
}

#[test]
fn a_saved_run_gives_the_table_and_the_targets() {
    let (code, stdout, stderr) = bench_from("tcg-5-reps.log");
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("| c-driver | d) vmf_insert_range | 1 GiB | aligned | 1 |"), "{stdout}");
    assert!(stdout.contains("| 1 GiB | aligned | a) vmf_insert_pfn | 262144x |"), "{stdout}");
    assert!(stdout.contains("target: d) at 1 GiB aligned takes <= 2 faults: 1 (met)"), "{stdout}");
}

#[test]
fn a_failure_in_the_guest_is_reported_with_the_log() {
    let (code, _, stderr) = bench_from("guest-error.log");
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("guest-error.log"), "{stderr}");
    assert!(
        stderr.contains("the benchmark failed in the guest (line 3): VMFIR_IOC_CONFIG mode huge-fault"),
        "{stderr}"
    );
}
