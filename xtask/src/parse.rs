//! `cargo xtask parse LOG`: the KTAP parser and the crash detector on a
//! saved console log, offline, with the same summary and exit code a test
//! run gives.

use std::{fmt::Write as _, path::PathBuf, time::Duration};

use anyhow::{Context, Result};
use serde::Serialize;

use crate::{
    boot::KILLED_MARKER,
    outcome::Failure,
    progress::fmt_duration,
    splat::{self, Splat},
};

#[derive(clap::Args, Debug)]
pub struct Parse {
    /// Console log of a run (results/*/console.log, or any kernel log).
    pub log: PathBuf,
}

impl Parse {
    pub fn run(&self) -> Result<()> {
        let bytes = std::fs::read(&self.log).with_context(|| format!("cannot read {}", self.log.display()))?;
        let log = String::from_utf8_lossy(&bytes);
        let verdict = Verdict::of(&log);
        // results/PROFILE/SUITE/console.log is named after its suite.
        let name = match self.log.file_name().and_then(|f| f.to_str()) {
            Some("console.log") => self.log.parent().and_then(|d| d.file_name()).and_then(|d| d.to_str()),
            other => other,
        }
        .unwrap_or("log");
        let failure = verdict.failure();
        let row = Row { name, counts: verdict.counts(), time: None, boot: None, verdict: failure };
        print!("{}", table(&[row]));
        print!("{}", verdict.details(name));
        match failure {
            Some(failure) => Err(anyhow::Error::new(failure).context(format!("{}", self.log.display()))),
            None => Ok(()),
        }
    }
}

/// What a console log says: the test results and the kernel's reports.
pub struct Verdict {
    pub report: ktap::Report,
    pub splats: Vec<Splat>,
    /// Why the harness killed the guest, if it did.
    pub killed: Option<String>,
}

/// Leaf results by outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
    /// Tests that never reported: the kernel died or the output was cut.
    pub crashed: usize,
}

impl Verdict {
    pub fn of(log: &str) -> Verdict {
        let killed = log.lines().find_map(|l| l.strip_prefix(KILLED_MARKER)).map(str::to_owned);
        Verdict { report: ktap::parse(log), splats: splat::find(log), killed }
    }

    /// A splat beats a timeout, which beats failed tests: each explains
    /// what comes after it.
    pub fn failure(&self) -> Option<Failure> {
        let tests = self.report.walk();
        let crashed = tests.iter().any(|(_, t)| t.status == ktap::Status::Crashed);
        if !self.splats.is_empty() {
            return Some(Failure::KernelCrashed);
        }
        if self.killed.is_some() {
            return Some(Failure::Timeout);
        }
        let failed = tests.iter().any(|(path, t)| path.len() == 1 && t.status.is_failure());
        let broken = self.report.documents.iter().any(|d| !d.errors.is_empty());
        (crashed || failed || broken || self.report.documents.is_empty()).then_some(Failure::TestsFailed)
    }

    pub fn counts(&self) -> Counts {
        let mut counts = Counts::default();
        for (_, t) in self.report.walk().into_iter().filter(|(_, t)| t.subtests.is_empty()) {
            match t.status {
                ktap::Status::Pass => counts.passed += 1,
                ktap::Status::Skip | ktap::Status::Todo | ktap::Status::XFail => counts.skipped += 1,
                ktap::Status::Crashed => counts.crashed += 1,
                ktap::Status::Fail | ktap::Status::Timeout | ktap::Status::Error => counts.failed += 1,
            }
        }
        counts
    }

    /// The problems behind a failed verdict: malformed or cut-short output,
    /// failed tests, and each splat with its first lines.
    pub fn details(&self, name: &str) -> String {
        let mut out = String::new();
        if let Some(why) = &self.killed {
            writeln!(out, "{name}: the guest was killed: {why}").unwrap();
        }
        for doc in &self.report.documents {
            for e in &doc.errors {
                writeln!(out, "{name}: {}: {e}", doc.version).unwrap();
            }
        }
        for (path, t) in self.report.walk() {
            if t.status.is_failure() || !t.errors.is_empty() {
                let reason = t.reason.as_deref().map(|r| format!(" # {r}")).unwrap_or_default();
                writeln!(out, "{name}: {} {}{reason}", t.status, path.join(" / ")).unwrap();
                for e in &t.errors {
                    writeln!(out, "    ! {e}").unwrap();
                }
            }
        }
        out.push_str(&splat_details(&self.splats));
        out
    }
}

/// One line of the summary table.
pub struct Row<'a> {
    pub name: &'a str,
    pub counts: Counts,
    pub time: Option<Duration>,
    pub boot: Option<Duration>,
    pub verdict: Option<Failure>,
}

/// The summary table `test` and `parse` print.
pub fn table(rows: &[Row]) -> String {
    let mut out = format!(
        "{:<20} {:>6} {:>6} {:>6} {:>6} {:>9} {:>9}  verdict\n",
        "suite", "pass", "fail", "skip", "crash", "time", "boot"
    );
    for r in rows {
        let c = r.counts;
        writeln!(
            out,
            "{:<20} {:>6} {:>6} {:>6} {:>6} {:>9} {:>9}  {}",
            r.name,
            c.passed,
            c.failed,
            c.skipped,
            c.crashed,
            r.time.map_or("-".to_owned(), fmt_duration),
            r.boot.map_or("-".to_owned(), fmt_duration),
            r.verdict.map_or("ok".to_owned(), |f| f.to_string()),
        )
        .unwrap();
    }
    out
}

pub fn splat_details(splats: &[Splat]) -> String {
    let mut out = String::new();
    for s in splats {
        writeln!(out, "kernel report: {} (console line {})", s.fingerprint, s.line).unwrap();
        for line in &s.excerpt {
            writeln!(out, "      {line}").unwrap();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_with_a_splat_is_a_crash_even_if_tests_pass() {
        let log = include_str!("../tests/data/splats.log");
        let verdict = Verdict::of(log);
        assert_eq!(verdict.failure(), Some(Failure::KernelCrashed));
        let row = Row { name: "splats", counts: verdict.counts(), time: None, boot: None, verdict: verdict.failure() };
        insta::assert_snapshot!(format!("{}{}", table(&[row]), verdict.details("splats")));
    }

    #[test]
    fn passing_and_failing_logs() {
        let pass =
            "TAP version 13\n1..1\n# TAP version 13\n# 1..2\n# ok 1 a\n# ok 2 b # SKIP no\nok 1 selftests: mm: x\n";
        assert_eq!(Verdict::of(pass).failure(), None);
        let fail = pass.replace("ok 1 selftests", "not ok 1 selftests");
        assert_eq!(Verdict::of(&fail).failure(), Some(Failure::TestsFailed));
        let truncated = "TAP version 13\n1..2\nok 1 selftests: mm: x\n";
        assert_eq!(Verdict::of(truncated).failure(), Some(Failure::TestsFailed));
        assert_eq!(Verdict::of("no results at all\n").failure(), Some(Failure::TestsFailed));
        let killed = format!("{truncated}{KILLED_MARKER}the tests did not finish within 15 s\n");
        assert_eq!(Verdict::of(&killed).failure(), Some(Failure::Timeout));
    }
}
