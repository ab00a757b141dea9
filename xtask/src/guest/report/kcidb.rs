//! results/PROFILE/kcidb.json: the run in KCIDB's I/O format (schema v5.3,
//! the kcidb-io package's), as kernel CI systems submit results to KCIDB:
//! one checkout (the base and the series), one build (the profile), and a
//! test per suite and per counted test, with paths such as
//! `selftests.vmf-insert-range.vmf_insert_range.vmfir.pud_aligned`.

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::{guest::report::SuiteResult, outcome::Failure};

/// The CI system's name in KCIDB ids and origins.
const ORIGIN: &str = "xtask";
/// KCIDB's limit on a log excerpt.
const EXCERPT_CHARS: usize = 16384;

/// What was built: the base commit and the series on it.
pub struct Checkout<'a> {
    pub base_commit: &'a str,
    /// sha256 of each patch file, in order; none for the base kernel.
    pub patches: Vec<&'a str>,
    /// The build's label: the profile, `-base` for the base kernel.
    pub profile: &'a str,
    /// The kernel's name of the architecture (`ARCH=`), which KCIDB uses.
    pub arch: &'a str,
}

impl Checkout<'_> {
    /// KCIDB's patchset hash: sha256 over the newline-terminated sha256 of
    /// each patch (`sha256sum *.patch | cut -c-64 | sha256sum`).
    fn patchset_hash(&self) -> String {
        if self.patches.is_empty() {
            return String::new();
        }
        let list: String = self.patches.iter().map(|p| format!("{p}\n")).collect();
        format!("{:x}", Sha256::digest(list.as_bytes()))
    }
}

pub fn report(checkout: &Checkout, results: &[SuiteResult]) -> Value {
    let patchset_hash = checkout.patchset_hash();
    let checkout_id =
        format!("{ORIGIN}:{}-{}", &checkout.base_commit[..12], &patchset_hash[..patchset_hash.len().min(12)]);
    let build_id = format!("{checkout_id}-{}", checkout.profile);
    let mut tests = Vec::new();
    for r in results {
        let suite_path = format!("selftests.{}", segment(&r.suite));
        let mut add =
            |path: String, status: &str, comment: Option<&str>, excerpt: Option<String>, duration: Option<f64>| {
                let mut test = json!({
                    "id": format!("{build_id}-{}-{}", segment(&r.suite), tests.len()),
                    "build_id": build_id,
                    "origin": ORIGIN,
                    "path": path,
                    "status": status,
                    "environment": { "comment": format!("virtme-ng guest under {} ({})", r.accel.accel, r.accel.why) },
                    "misc": { "suite": r.suite },
                });
                if let Some(comment) = comment {
                    test["comment"] = json!(comment);
                }
                if let Some(excerpt) = excerpt.filter(|e| !e.is_empty()) {
                    test["log_excerpt"] = json!(cut(&excerpt));
                }
                if let Some(duration) = duration {
                    test["duration"] = json!(duration);
                }
                tests.push(test);
            };
        let excerpt = r.failure.as_ref().map(|f| format!("{f}\n{}", crate::guest::verdict::splat_details(&r.splats)));
        add(suite_path.clone(), suite_status(r.failure_kind), Some(&r.verdict), excerpt, Some(r.duration_s));
        for t in r.tests.iter().filter(|t| t.counted) {
            let path = test_path(&r.suite, &t.path);
            let excerpt = (t.status != "pass").then(|| t.diagnostics.join("\n"));
            add(path, test_status(&t.status), t.reason.as_deref(), excerpt, None);
        }
        for missing in &r.missing {
            add(test_path(&r.suite, missing), "MISS", Some("the test never reported"), None, None);
        }
    }
    json!({
        "version": { "major": 5, "minor": 3 },
        "checkouts": [{
            "id": checkout_id,
            "origin": ORIGIN,
            "tree_name": "vmf_insert_range",
            "git_commit_hash": checkout.base_commit,
            "patchset_hash": patchset_hash,
            "valid": true,
        }],
        "builds": [{
            "id": build_id,
            "checkout_id": checkout_id,
            "origin": ORIGIN,
            "architecture": checkout.arch,
            "config_name": checkout.profile,
            "status": "PASS",
        }],
        "tests": tests,
    })
}

/// KCIDB's statuses, in its order of priority: FAIL (the code is faulty),
/// ERROR (the test did not complete), MISS (the harness did not run it),
/// PASS, DONE, SKIP.
fn test_status(status: &str) -> &'static str {
    match status {
        "pass" => "PASS",
        "fail" => "FAIL",
        "skip" | "todo" | "xfail" => "SKIP",
        _ => "ERROR",
    }
}

/// A suite is FAIL when the kernel or its tests are at fault, ERROR when
/// it did not finish in time, MISS when nothing ran or a signal stopped it.
fn suite_status(failure: Option<Failure>) -> &'static str {
    match failure {
        None => "PASS",
        Some(Failure::Timeout) => "ERROR",
        Some(Failure::NoResults | Failure::Interrupted) => "MISS",
        Some(_) => "FAIL",
    }
}

/// `selftests.SUITE.PROGRAM.CASE` for the runner's tests, whose top-level
/// names are "selftests: SUITE: PROGRAM"; `selftests.SUITE.kunit.SUITE.CASE`
/// for the KUnit results of the guest's boot.
fn test_path(suite: &str, path: &str) -> String {
    let mut names = path.split(" / ");
    let top = names.next().unwrap_or("");
    let prefix = format!("selftests: {suite}: ");
    let mut segments = vec!["selftests".to_owned(), segment(suite)];
    match top.strip_prefix(&prefix) {
        Some(program) => segments.push(segment(program)),
        None => segments.extend(["kunit".to_owned(), segment(top)]),
    }
    // kselftest harness names ("vmfir.pud_aligned") are paths already.
    segments.extend(names.flat_map(|n| n.split('.')).map(segment));
    segments.join(".")
}

/// A path segment: letters, digits, `_` and `-`; anything else is `_`.
fn segment(name: &str) -> String {
    let cleaned: String =
        name.trim().chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect();
    if cleaned.is_empty() {
        "_".to_owned()
    } else {
        cleaned
    }
}

fn cut(text: &str) -> String {
    match text.char_indices().nth(EXCERPT_CHARS) {
        Some((end, _)) => text[..end].to_owned(),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests;
