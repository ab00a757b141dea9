//! `cargo xtask parse LOG`: the KTAP parser and the crash detector on a
//! saved console log, offline, with the same summary and exit code a test
//! run gives.

use std::{fmt::Write as _, path::PathBuf};

use anyhow::{Context, Result};

use crate::{
    outcome::Failure,
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
        print!("{}", verdict.summary(&self.log.display().to_string()));
        match verdict.failure() {
            Some(failure) => Err(anyhow::Error::new(failure).context(format!("{}", self.log.display()))),
            None => Ok(()),
        }
    }
}

/// What a console log says: the test results and the kernel's reports.
pub struct Verdict {
    pub report: ktap::Report,
    pub splats: Vec<Splat>,
}

impl Verdict {
    pub fn of(log: &str) -> Verdict {
        Verdict { report: ktap::parse(log), splats: splat::find(log) }
    }

    /// A splat beats failed tests: a crash explains the failures after it.
    pub fn failure(&self) -> Option<Failure> {
        let tests = self.report.walk();
        let crashed = tests.iter().any(|(_, t)| t.status == ktap::Status::Crashed);
        if !self.splats.is_empty() {
            return Some(Failure::KernelCrashed);
        }
        let failed = tests.iter().any(|(path, t)| path.len() == 1 && t.status.is_failure());
        let broken = self.report.documents.iter().any(|d| !d.errors.is_empty());
        (crashed || failed || broken || self.report.documents.is_empty()).then_some(Failure::TestsFailed)
    }

    pub fn summary(&self, source: &str) -> String {
        let mut out = String::new();
        let top: Vec<&ktap::Test> = self.report.documents.iter().flat_map(|d| &d.tests).collect();
        writeln!(out, "{source}: {} document(s), {} test(s)", self.report.documents.len(), top.len()).unwrap();
        for doc in &self.report.documents {
            for e in &doc.errors {
                writeln!(out, "  ! {}: {e}", doc.version).unwrap();
            }
        }
        for test in top {
            let mut counts: Vec<(ktap::Status, usize)> = Vec::new();
            count(&test.subtests, &mut counts);
            counts.sort();
            let detail = counts.iter().map(|(s, n)| format!("{n} {s}")).collect::<Vec<_>>().join(", ");
            let detail = if detail.is_empty() { String::new() } else { format!("  [{detail}]") };
            writeln!(out, "  {:<7} {}{detail}", test.status.as_str(), test.name).unwrap();
            for e in &test.errors {
                writeln!(out, "          ! {e}").unwrap();
            }
        }
        if !self.splats.is_empty() {
            writeln!(out, "kernel reports: {}", self.splats.len()).unwrap();
            for s in &self.splats {
                writeln!(out, "  {} (log line {})", s.fingerprint, s.line).unwrap();
                for line in &s.excerpt {
                    writeln!(out, "      {line}").unwrap();
                }
            }
        }
        let verdict = self.failure().map_or("passed".to_owned(), |f| format!("FAILED: {f}"));
        writeln!(out, "verdict: {verdict}").unwrap();
        out
    }
}

/// Leaf results by status, below `tests`.
fn count(tests: &[ktap::Test], counts: &mut Vec<(ktap::Status, usize)>) {
    for t in tests {
        if t.subtests.is_empty() {
            match counts.iter_mut().find(|(s, _)| *s == t.status) {
                Some((_, n)) => *n += 1,
                None => counts.push((t.status, 1)),
            }
        } else {
            count(&t.subtests, counts);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_with_a_splat_is_a_crash_even_if_tests_pass() {
        let log = include_str!("../tests/data/splats.log");
        let verdict = Verdict::of(log);
        assert_eq!(verdict.failure(), Some(Failure::KernelCrashed));
        insta::assert_snapshot!(verdict.summary("splats.log"));
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
    }
}
