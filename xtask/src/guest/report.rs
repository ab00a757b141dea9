//! What a test run leaves for people and CI in results/PROFILE/:
//! results.json (everything, for scripts), junit.xml (for CI systems'
//! test views, written with quick-junit, cargo-nextest's JUnit writer) and
//! kcidb.json (for kernel CI dashboards).

pub mod kcidb;

use std::{
    fmt::Write as _,
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::Result;
use quick_junit::{NonSuccessKind, TestCase, TestCaseStatus, TestSuite};
use serde::Serialize;
use xshell::Shell;

use crate::{
    guest::{
        boot::{AccelChoice, Ending, GuestRun},
        splat::Splat,
        suite::Suite,
        verdict::{splat_details, table, Counts, Row, SnapshotStatus, Tolerated, Verdict},
    },
    kernel::{build::Kbuild, repo},
    outcome::Failure,
    project::{Kernel, Project},
};

/// Diagnostic lines of a failed test shown on screen; results.json and
/// junit.xml keep them all.
const SHOWN_DIAGNOSTICS: usize = 8;

#[derive(Debug, Serialize)]
pub struct SuiteResult {
    pub suite: String,
    pub description: String,
    pub accel: AccelChoice,
    pub ending: Ending,
    pub duration_s: f64,
    pub boot_to_first_test_s: Option<f64>,
    /// "ok", or what failed: "tests failed", "timed out", "the kernel
    /// crashed", ...
    pub verdict: String,
    #[serde(flatten)]
    pub counts: Counts,
    pub splats: Vec<Splat>,
    pub tolerated_splats: Vec<Tolerated>,
    /// Declared tests that never reported.
    pub missing: Vec<String>,
    pub snapshot: SnapshotStatus,
    pub tests: Vec<TestResult>,
    pub console_log: PathBuf,
    /// Why it failed, with the snapshot's diff or the last console lines.
    pub failure: Option<String>,
    #[serde(skip)]
    pub failure_kind: Option<Failure>,
}

#[derive(Debug, Serialize)]
pub struct TestResult {
    /// Names from the top, joined with " / ".
    pub path: String,
    pub status: String,
    /// Counted as a test: a leaf, or a parent that failed although
    /// nothing below it did.
    pub counted: bool,
    pub reason: Option<String>,
    pub errors: Vec<String>,
    /// The `# ` lines the test printed before its result.
    pub diagnostics: Vec<String>,
}

impl SuiteResult {
    pub fn new(
        suite: &Suite,
        accel: &AccelChoice,
        run: &GuestRun,
        console_log: PathBuf,
        verdict: Verdict,
        failure: Option<String>,
    ) -> SuiteResult {
        SuiteResult {
            suite: suite.name.clone(),
            description: suite.spec.description.clone(),
            accel: accel.clone(),
            ending: run.ending.clone(),
            duration_s: run.duration.as_secs_f64(),
            boot_to_first_test_s: run.booted_after.map(|d| d.as_secs_f64()),
            verdict: verdict.failure.map_or("ok".to_owned(), |f| f.to_string()),
            counts: verdict.counts,
            tests: tests(&verdict.report),
            splats: verdict.splats,
            tolerated_splats: verdict.tolerated,
            missing: verdict.missing,
            snapshot: verdict.snapshot,
            console_log,
            failure,
            failure_kind: verdict.failure,
        }
    }

    /// The failed tests with their last diagnostic lines, for the screen.
    pub fn failed_tests(&self) -> String {
        let mut out = String::new();
        for t in self.tests.iter().filter(|t| t.counted && is_failure(&t.status)) {
            let reason = t.reason.as_deref().map(|r| format!(" # {r}")).unwrap_or_default();
            out.push_str(&format!("  {} {}{reason}\n", t.status, t.path));
            let skip = t.diagnostics.len().saturating_sub(SHOWN_DIAGNOSTICS);
            if skip > 0 {
                out.push_str(&format!("      ({skip} earlier line(s) in results.json)\n"));
            }
            for line in &t.diagnostics[skip..] {
                out.push_str(&format!("      # {line}\n"));
            }
        }
        out
    }
}

fn tests(report: &ktap::Report) -> Vec<TestResult> {
    report
        .walk()
        .into_iter()
        .map(|(path, t)| TestResult {
            path: path.join(" / "),
            status: t.status.as_str().to_owned(),
            counted: t.is_counted(),
            reason: t.reason.clone(),
            errors: t.errors.clone(),
            diagnostics: t.diagnostics.clone(),
        })
        .collect()
}

fn is_failure(status: &str) -> bool {
    matches!(status, "fail" | "timeout" | "error" | "crashed")
}

/// The reports of this module in `dir`.
const FILES: [&str; 3] = ["results.json", "junit.xml", "kcidb.json"];

/// Removes the reports of an earlier run from `dir`.
pub fn remove(dir: &std::path::Path) -> Result<()> {
    for file in FILES {
        match std::fs::remove_file(dir.join(file)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
            _ => {}
        }
    }
    Ok(())
}

pub fn write(dir: &std::path::Path, results: &[SuiteResult], checkout: &kcidb::Checkout) -> Result<()> {
    let [json, xml, kcidb_json] = FILES.map(|f| dir.join(f));
    std::fs::write(json, serde_json::to_string_pretty(results)? + "\n")?;
    std::fs::write(xml, junit(results).to_string()?)?;
    std::fs::write(kcidb_json, serde_json::to_string_pretty(&kcidb::report(checkout, results))? + "\n")?;
    Ok(())
}

/// One testsuite per suite; a testcase per leaf test, its parents in the
/// classname; the tests that never reported, a crash, timeout or missing
/// output as `<error>` testcases, a snapshot difference as a failure.
pub fn junit(results: &[SuiteResult]) -> quick_junit::Report {
    let mut report = quick_junit::Report::new("kernel-tests");
    for r in results {
        let mut suite = TestSuite::new(r.suite.as_str());
        suite.set_time(Duration::from_secs_f64(r.duration_s));
        for t in r.tests.iter().filter(|t| t.counted) {
            let (parents, name) = t.path.rsplit_once(" / ").unwrap_or(("", &t.path));
            let mut status = match t.status.as_str() {
                "pass" => TestCaseStatus::success(),
                "skip" | "todo" | "xfail" => {
                    let mut status = TestCaseStatus::skipped();
                    status.set_type(t.status.as_str());
                    status
                }
                "fail" => TestCaseStatus::non_success(NonSuccessKind::Failure),
                _ => TestCaseStatus::non_success(NonSuccessKind::Error),
            };
            if let Some(reason) = &t.reason {
                status.set_message(reason.as_str());
            }
            if !t.errors.is_empty() {
                status.set_description(t.errors.join("\n"));
            }
            let mut case = TestCase::new(name, status);
            case.set_classname(classname(&r.suite, parents));
            if !t.diagnostics.is_empty() {
                case.set_system_out(t.diagnostics.join("\n"));
            }
            suite.add_test_case(case);
        }
        for missing in &r.missing {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
            status.set_message("the test never reported").set_type("crashed");
            let mut case = TestCase::new(missing.as_str(), status);
            case.set_classname(r.suite.as_str());
            suite.add_test_case(case);
        }
        // Failed tests are failures already; what else went wrong is one more.
        let run_failure = r.failure_kind.and_then(|kind| match kind {
            Failure::TestsFailed => None,
            Failure::SnapshotDiffers => Some(("results.snap", NonSuccessKind::Failure)),
            _ => Some(("guest", NonSuccessKind::Error)),
        });
        if let Some((name, kind)) = run_failure {
            let why = r.failure.as_deref().unwrap_or("");
            let mut status = TestCaseStatus::non_success(kind);
            status
                .set_message(r.verdict.as_str())
                .set_description(format!("{why}\n{}", splat_details(&r.splats)).trim_end());
            let mut case = TestCase::new(name, status);
            case.set_classname(r.suite.as_str());
            suite.add_test_case(case);
        }
        report.add_test_suite(suite);
    }
    report
}

fn classname(suite: &str, parents: &str) -> String {
    if parents.is_empty() {
        suite.to_owned()
    } else {
        format!("{suite} / {parents}")
    }
}

/// What it takes to reproduce the run: the .config, the HEAD of the
/// kernel's tree and of the work tree the guest programs come from, and
/// the versions of every tool involved. The vng command of each suite is in
/// its command.txt.
pub fn write_reproducer(sh: &Shell, project: &Project, kbuild: &Kbuild, image: &Path, dir: &Path) -> Result<()> {
    std::fs::copy(kbuild.out_dir().join(".config"), dir.join("config"))?;
    let toolchain = &project.config.toolchain;
    let bindgen = crate::toolchain::bindgen_path(toolchain);
    let probes: Vec<(&str, Vec<String>)> = vec![
        ("kernel image", vec!["file".into(), "-b".into(), image.display().to_string()]),
        ("rustc", vec![toolchain.rustc.display().to_string(), "--version".into()]),
        ("bindgen", vec![bindgen.display().to_string(), "--version".into()]),
        ("clang", vec![crate::toolchain::clang(&toolchain.llvm), "--version".into()]),
        ("vng", vec![crate::toolchain::vng_path(project).display().to_string(), "--version".into()]),
        ("qemu", vec![kbuild.arch().qemu().into(), "--version".into()]),
        ("host kernel", vec!["uname".into(), "-srm".into()]),
    ];
    let mut text = String::new();
    for (what, tree) in [("kernel tree HEAD", kbuild.tree()), ("work tree HEAD (guest programs)", &project.tree_dir())]
    {
        let head = repo::head_line(tree).unwrap_or_else(|_| "unknown".to_owned());
        writeln!(text, "{what}: {head}").unwrap();
    }
    for (what, argv) in probes {
        let (program, args) = argv.split_first().expect("probe commands are not empty");
        let out = xshell::cmd!(sh, "{program} {args...}").quiet().ignore_status().ignore_stderr().read();
        let first = out.unwrap_or_default().lines().next().unwrap_or("unknown").to_owned();
        writeln!(text, "{what}: {first}").unwrap();
    }
    std::fs::write(dir.join("versions.txt"), text)?;
    Ok(())
}

/// The one-screen summary: a row per suite, then why each failed.
pub fn summary(results: &[SuiteResult], accel: &AccelChoice, dir: &Path, kernel: Kernel) -> String {
    let mut out = String::new();
    if kernel == Kernel::Base {
        out.push_str(
            "base kernel: the suites ran on the base without the series; results are not compared with \
             snapshots, the verdict is what happened (exit code 3 for a crash, 4 a timeout, 1 failed tests)\n",
        );
    }
    writeln!(out, "accelerator: {} ({})", accel.accel, accel.why).unwrap();
    let rows: Vec<Row> = results
        .iter()
        .map(|r| Row {
            name: &r.suite,
            counts: r.counts,
            time: Some(Duration::from_secs_f64(r.duration_s)),
            boot: r.boot_to_first_test_s.map(Duration::from_secs_f64),
            verdict: r.failure_kind,
        })
        .collect();
    out.push_str(&table(&rows));
    for r in results {
        if let Some(f) = &r.failure {
            writeln!(out, "\n{}: {f}", r.suite).unwrap();
            out.push_str(&r.failed_tests());
            out.push_str(&splat_details(&r.splats));
            writeln!(out, "console log: {}", r.console_log.display()).unwrap();
        }
    }
    writeln!(out, "\nresults: {} (results.json, junit.xml, */console.log)", dir.display()).unwrap();
    // The plain closing line CI dashboards read.
    let total = results.iter().fold(Counts::default(), |t, r| t.add(r.counts));
    writeln!(
        out,
        "kernel-tests: {} passed, {} failed, {} skipped",
        total.passed,
        total.failed + total.crashed,
        total.skipped
    )
    .unwrap();
    out
}

#[cfg(test)]
mod tests;
