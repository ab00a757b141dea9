//! The one verdict on a guest's console log, for `test`, `parse` and
//! `bench` alike.
//!
//! A log is judged against what its suite declares: the splats it provokes
//! on purpose, the tests it runs and the reviewed snapshot of their results;
//! and against the base kernel's known splats (selftests/known-splats.toml).
//! Without a suite (`parse` of any log, `bench`) nothing is declared: every
//! splat counts and failed tests fail. The checks run in the order of how
//! much they explain: a kernel report explains a timeout after it, which
//! explains missing results, which explain a snapshot difference.

use std::{fmt::Write as _, path::Path, time::Duration};

use anyhow::{Context, Result};
use serde::Serialize;

use crate::{
    guest::{
        snapshot,
        splat::{self, Splat},
        suite::{known_splats, ExpectedSplat, Suite},
    },
    outcome::Failure,
    progress::fmt_duration,
    project::Kernel,
};

/// The last line of every console log says how the guest ended, so that
/// the log alone gives the verdict a test run gave (`cargo xtask parse`).
const KILLED_MARKER: &str = "xtask: guest killed: ";
const INTERRUPTED_MARKER: &str = "xtask: guest interrupted: ";
const EXITED_MARKER: &str = "xtask: guest exited: vng exit ";

/// How a guest ended, as its console log records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GuestEnd {
    /// vng returned this code, `None` when a signal ended it.
    Exited(Option<i32>),
    /// The harness killed it at a timeout, for this reason.
    Killed(String),
    /// A signal stopped it, or xtask, from outside.
    Interrupted(String),
}

impl GuestEnd {
    /// The line that records it.
    pub fn marker(&self) -> String {
        match self {
            GuestEnd::Exited(code) => {
                format!("{EXITED_MARKER}{}", code.map_or("by signal".to_owned(), |c| c.to_string()))
            }
            GuestEnd::Killed(why) => format!("{KILLED_MARKER}{why}"),
            GuestEnd::Interrupted(why) => format!("{INTERRUPTED_MARKER}{why}"),
        }
    }

    /// The ending recorded last in `log`; `None` for a log the harness did
    /// not finish (cut off, or not a harness log at all).
    pub fn from_log(log: &str) -> Option<GuestEnd> {
        log.lines().rev().take(64).find_map(|line| {
            if let Some(why) = line.strip_prefix(KILLED_MARKER) {
                return Some(GuestEnd::Killed(why.to_owned()));
            }
            if let Some(why) = line.strip_prefix(INTERRUPTED_MARKER) {
                return Some(GuestEnd::Interrupted(why.to_owned()));
            }
            let code = line.strip_prefix(EXITED_MARKER)?;
            Some(GuestEnd::Exited(code.parse().ok()))
        })
    }
}

/// What a suite declares about its log.
#[derive(Debug, Default)]
pub struct Expectations {
    /// Where the declarations come from, for messages.
    pub source: Option<String>,
    pub splats: Vec<ExpectedSplat>,
    /// Top-level result names the log must hold: `selftests: SUITE: TEST`.
    pub tests: Vec<String>,
    /// The reviewed results, `None` when the suite has none yet.
    pub snapshot: Option<String>,
    /// Where they are, for messages: `selftests/SUITE/results[.ARCH].snap`.
    pub snapshot_file: Option<String>,
    /// Whether results are compared with a snapshot at all.
    pub compare: bool,
}

impl Expectations {
    /// Nothing declared: any splat fails, failed tests fail.
    pub fn none() -> Expectations {
        Expectations::default()
    }

    /// A suite's declarations, and the known splats of the base kernel
    /// (selftests/known-splats.toml beside it).
    pub fn of_suite(suite: &Suite) -> Result<Expectations> {
        let known = suite.dir.parent().map(known_splats).transpose()?.unwrap_or_default();
        let path = suite.snapshot_path();
        let snapshot = match std::fs::read_to_string(&path) {
            Ok(text) => Some(snapshot::body(&text).to_owned()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        Ok(Expectations {
            source: Some(format!("selftests/{}/suite.toml", suite.name)),
            splats: suite.spec.expected_splat.iter().cloned().chain(known).collect(),
            tests: suite.spec.test.iter().map(|t| format!("selftests: {}: {}", suite.name, t.name)).collect(),
            snapshot,
            snapshot_file: path.file_name().map(|f| format!("selftests/{}/{}", suite.name, f.to_string_lossy())),
            compare: true,
        })
    }

    /// What a suite's run on `kernel` is judged against: on the base
    /// kernel, not the series' reviewed snapshot.
    pub fn of_run(suite: &Suite, kernel: Kernel) -> Result<Expectations> {
        let expect = Expectations::of_suite(suite)?;
        Ok(match kernel {
            Kernel::Series => expect,
            Kernel::Base => expect.without_snapshot(),
        })
    }

    /// The same but the snapshot: for a run of the base kernel, whose
    /// results legitimately differ from the series' reviewed ones and are
    /// judged by what happened alone.
    pub fn without_snapshot(self) -> Expectations {
        Expectations { snapshot: None, compare: false, ..self }
    }
}

/// Leaf results by outcome, as kunit.py counts them: a test with subtests
/// is not a test itself.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
    /// Tests that never reported: the kernel died, the guest was stopped,
    /// or the output was cut.
    pub crashed: usize,
}

impl Counts {
    pub fn total(&self) -> usize {
        self.passed + self.failed + self.skipped + self.crashed
    }

    pub fn add(self, other: Counts) -> Counts {
        Counts {
            passed: self.passed + other.passed,
            failed: self.failed + other.failed,
            skipped: self.skipped + other.skipped,
            crashed: self.crashed + other.crashed,
        }
    }
}

/// How the results compare with the reviewed snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SnapshotStatus {
    Matches,
    Differs,
    /// `cargo xtask test --accept` wrote the results as the snapshot.
    Accepted,
    /// The run failed before its results could be compared, or nothing
    /// was to be compared.
    NotCompared,
}

/// A splat the suite declared, with the declaration's reason.
#[derive(Debug, Clone, Serialize)]
pub struct Tolerated {
    pub fingerprint: String,
    pub reason: String,
    pub count: usize,
}

pub struct Verdict {
    pub report: ktap::Report,
    /// Splats nobody declared: each fails the run.
    pub splats: Vec<Splat>,
    pub tolerated: Vec<Tolerated>,
    /// How the guest ended, as the harness recorded it in the log.
    pub end: Option<GuestEnd>,
    /// Declared tests without a result in the log.
    pub missing: Vec<String>,
    pub counts: Counts,
    /// The results as compared with snapshots: rendered, addresses
    /// normalised.
    pub results: String,
    pub snapshot: SnapshotStatus,
    /// The snapshot's diff when it differs.
    pub diff: Option<String>,
    pub failure: Option<Failure>,
    /// Why, in one sentence, when it failed.
    pub why: Option<String>,
    /// Lines in the log.
    pub lines: usize,
}

impl Verdict {
    pub fn judge(log: &str, expect: &Expectations) -> Verdict {
        let report = ktap::parse(log);
        let (splats, tolerated) = partition_splats(splat::find(log), &expect.splats);
        let end = GuestEnd::from_log(log);
        let present: Vec<&str> = report.documents.iter().flat_map(|d| &d.tests).map(|t| t.name.as_str()).collect();
        let missing: Vec<String> = expect.tests.iter().filter(|t| !present.contains(&t.as_str())).cloned().collect();
        let mut counts = Counts::from(report.counts());
        // The runner plans the declared tests: once its document started,
        // the missing ones are its planned results that never came.
        let planned = report
            .documents
            .iter()
            .any(|d| d.plan == Some(expect.tests.len()) && d.tests.iter().all(|t| expect.tests.contains(&t.name)));
        if !planned {
            counts.crashed += missing.len();
        }
        let results = normalise(&report.render());
        let mut verdict = Verdict {
            report,
            splats,
            tolerated,
            end,
            missing,
            counts,
            results,
            snapshot: SnapshotStatus::NotCompared,
            diff: None,
            failure: None,
            why: None,
            lines: log.lines().count(),
        };
        if let Some((failure, why)) = verdict.kernel_failure().or_else(|| verdict.results_failure(expect)) {
            verdict.failure = Some(failure);
            verdict.why = Some(why);
        }
        verdict
    }

    /// What the kernel and the guest's ending say, whatever the results:
    /// all a run without KTAP output (`bench`) is judged by.
    pub fn kernel_failure(&self) -> Option<(Failure, String)> {
        if !self.splats.is_empty() {
            let total: usize = self.splats.iter().map(|s| s.count).sum();
            let distinct = match self.splats.len() {
                n if n < total => format!(" ({n} distinct)"),
                _ => String::new(),
            };
            return Some((Failure::KernelCrashed, format!("the kernel reported {total} problem(s){distinct}")));
        }
        match &self.end {
            Some(GuestEnd::Interrupted(why)) => {
                Some((Failure::Interrupted, format!("the guest was interrupted ({why}); its results are incomplete")))
            }
            Some(GuestEnd::Killed(why)) => Some((Failure::Timeout, format!("the guest was killed: {why}"))),
            _ => None,
        }
    }

    fn results_failure(&mut self, expect: &Expectations) -> Option<(Failure, String)> {
        let died = match &self.end {
            Some(GuestEnd::Exited(code)) if *code != Some(0) => {
                Some(format!("the guest ended (vng exit {})", code.map_or("by signal".to_owned(), |c| c.to_string())))
            }
            _ => None,
        };
        if self.report.documents.is_empty() {
            return Some(match died {
                Some(died) => (Failure::KernelCrashed, format!("{died} without test results")),
                None if self.results.is_empty() && self.lines == 0 => {
                    (Failure::NoResults, "the log is empty: no output at all".to_owned())
                }
                None => {
                    (Failure::NoResults, format!("none of the log's {} line(s) is KTAP or TAP test output", self.lines))
                }
            });
        }
        if !self.missing.is_empty() {
            let why = format!(
                "{} of the {} tests {} declares did not report: {}",
                self.missing.len(),
                expect.tests.len(),
                expect.source.as_deref().unwrap_or("the suite"),
                self.missing.join(", ")
            );
            return Some(match died {
                Some(died) => (Failure::KernelCrashed, format!("{died}; {why}")),
                None => (Failure::TestsFailed, why),
            });
        }
        if self.counts.total() == 0 {
            return Some((Failure::NoResults, "the test output reports no tests (a plan of 0, or none run)".into()));
        }
        if expect.compare {
            return self.compare(expect);
        }
        let failed: Vec<String> = self
            .report
            .walk()
            .iter()
            .filter(|(_, t)| t.status.is_failure())
            .map(|(path, t)| format!("{} ({})", path.join(" / "), t.status))
            .collect();
        if !failed.is_empty() {
            return Some((Failure::TestsFailed, format!("{} result(s) not ok: {}", failed.len(), failed.join(", "))));
        }
        if self.counts.crashed > 0 {
            let broken =
                self.report.documents.iter().flat_map(|d| d.errors.iter().map(move |e| format!("{}: {e}", d.version)));
            return Some((
                Failure::TestsFailed,
                format!(
                    "{} planned result(s) never came: {}",
                    self.counts.crashed,
                    broken.collect::<Vec<_>>().join("; ")
                ),
            ));
        }
        // As kunit.py: a run in which every test skipped tested nothing.
        (self.counts.passed == 0).then(|| (Failure::NoResults, format!("all {} test(s) skipped", self.counts.skipped)))
    }

    /// The reviewed snapshot is the expectation, known failures included.
    fn compare(&mut self, expect: &Expectations) -> Option<(Failure, String)> {
        let source = expect.source.as_deref().unwrap_or("the suite");
        let snapshot_file =
            expect.snapshot_file.clone().unwrap_or_else(|| source.replace("suite.toml", "results.snap"));
        match &expect.snapshot {
            Some(old) if *old == self.results => {
                self.snapshot = SnapshotStatus::Matches;
                None
            }
            Some(old) => {
                self.snapshot = SnapshotStatus::Differs;
                self.diff = Some(format!("(- expected, + got):\n{}", snapshot::unified(old, &self.results)));
                Some((Failure::SnapshotDiffers, format!("the results differ from {snapshot_file}")))
            }
            None => {
                self.snapshot = SnapshotStatus::Differs;
                self.diff = Some(format!("its results:\n{}", self.results));
                Some((Failure::SnapshotDiffers, format!("there is no reviewed snapshot yet ({snapshot_file})")))
            }
        }
    }

    /// After `--accept` wrote the results as the snapshot.
    pub fn accepted(self) -> Verdict {
        Verdict { snapshot: SnapshotStatus::Accepted, diff: None, failure: None, why: None, ..self }
    }

    /// The problems behind a failed verdict: why, failed tests, the
    /// snapshot's diff and each distinct splat; each list cut after
    /// [`SHOWN`] entries, whatever the size of the log.
    pub fn details(&self, name: &str) -> String {
        let mut out = String::new();
        if let Some(why) = &self.why {
            writeln!(out, "{name}: {why}").unwrap();
        }
        let doc_errors = self.report.documents.iter().flat_map(|d| d.errors.iter().map(move |e| (d, e)));
        let doc_errors: Vec<String> = doc_errors.map(|(d, e)| format!("{name}: {}: {e}\n", d.version)).collect();
        out.push_str(&capped(&doc_errors, "problems with the test output"));
        let tests: Vec<String> = self
            .report
            .walk()
            .into_iter()
            .filter(|(_, t)| t.status.is_failure() || !t.errors.is_empty())
            .map(|(path, t)| {
                let reason = t.reason.as_deref().map(|r| format!(" # {r}")).unwrap_or_default();
                let mut text = format!("{name}: {} {}{reason}\n", t.status, path.join(" / "));
                for e in &t.errors {
                    writeln!(text, "    ! {e}").unwrap();
                }
                text
            })
            .collect();
        out.push_str(&capped(&tests, "failed or broken tests"));
        if let Some(diff) = &self.diff {
            let lines: Vec<String> = diff.lines().map(|l| format!("{l}\n")).collect();
            out.push_str(&format!("{name}: snapshot "));
            out.push_str(&capped(&lines, "lines of the diff"));
        }
        for t in &self.tolerated {
            writeln!(out, "{name}: declared kernel report seen {}x: {} ({})", t.count, t.fingerprint, t.reason)
                .unwrap();
        }
        out.push_str(&splat_details(&self.splats));
        out
    }
}

/// Entries shown of each list in [`Verdict::details`].
const SHOWN: usize = 40;

fn capped(entries: &[String], what: &str) -> String {
    let mut out: String = entries.iter().take(SHOWN).map(String::as_str).collect();
    if entries.len() > SHOWN {
        writeln!(out, "... and {} more {what}", entries.len() - SHOWN).unwrap();
    }
    out
}

fn partition_splats(found: Vec<Splat>, declared: &[ExpectedSplat]) -> (Vec<Splat>, Vec<Tolerated>) {
    let mut splats = Vec::new();
    let mut tolerated: Vec<Tolerated> = Vec::new();
    for s in found {
        match declared.iter().find(|e| e.matches(&s.fingerprint)) {
            Some(e) => match tolerated.iter_mut().find(|t| t.fingerprint == e.fingerprint) {
                Some(t) => t.count += 1,
                None => {
                    tolerated.push(Tolerated { fingerprint: e.fingerprint.clone(), reason: e.reason.clone(), count: 1 })
                }
            },
            None => splats.push(s),
        }
    }
    (splats, tolerated)
}

impl From<ktap::Counts> for Counts {
    fn from(c: ktap::Counts) -> Counts {
        Counts { passed: c.passed, failed: c.failed, skipped: c.skipped, crashed: c.crashed }
    }
}

/// The rendered results without what changes from run to run although
/// nothing changed: kernel and user addresses in names and reasons.
pub fn normalise(rendered: &str) -> String {
    let is_address =
        |w: &str| w.strip_prefix("0x").is_some_and(|hex| hex.len() >= 8 && hex.bytes().all(|b| b.is_ascii_hexdigit()));
    rendered
        .lines()
        .map(|line| {
            let indent = &line[..line.len() - line.trim_start().len()];
            let words: Vec<&str> = line
                .split(' ')
                .skip_while(|w| w.is_empty())
                .map(|w| if is_address(w) { "0xADDR" } else { w })
                .collect();
            format!("{indent}{}\n", words.join(" "))
        })
        .collect()
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

/// Each distinct splat with its first lines; after [`SHOWN`] of them, only
/// their fingerprints.
pub fn splat_details(splats: &[Splat]) -> String {
    let mut out = String::new();
    for (i, s) in splats.iter().enumerate() {
        let repeats = if s.count > 1 { format!(", {} times in all", s.count) } else { String::new() };
        writeln!(out, "kernel report: {} (console line {}{repeats})", s.fingerprint, s.line).unwrap();
        if i < SHOWN {
            for line in &s.excerpt {
                writeln!(out, "      {line}").unwrap();
            }
        }
    }
    out
}

/// The suite a console log belongs to when nobody says: results/PROFILE/
/// SUITE/console.log is named after it.
pub fn suite_of_log(log: &Path, selftests: &Path) -> Option<String> {
    let name = log.file_name()?.to_str()?;
    let dir = log.parent()?.file_name()?.to_str()?;
    (name == "console.log" && selftests.join(dir).join("suite.toml").is_file()).then(|| dir.to_owned())
}

#[cfg(test)]
mod tests;
