//! The reviewed results of a suite, `selftests/SUITE/results.snap`, in
//! insta's snapshot format (`results.ARCH.snap` for an architecture whose
//! results differ), and the results a run leaves for review next to it,
//! `results.snap.new` (`results.ARCH.snap.new`).

use std::{fmt::Write as _, path::PathBuf};

use crate::guest::suite::Suite;

/// `selftests/SUITE/results[.ARCH].snap.new`: results waiting for review.
pub fn pending_path(suite: &Suite) -> PathBuf {
    suite.own_snapshot_path().with_extension("snap.new")
}

/// The results in insta's snapshot format.
pub fn file(suite: &Suite, results: &str) -> String {
    format!(
        "---\nsource: selftests/{}/suite.toml\nexpression: results of suite {}\n---\n{results}",
        suite.name, suite.name
    )
}

/// The body of a snapshot file: what follows insta's header.
pub fn body(text: &str) -> &str {
    text.splitn(3, "---\n").nth(2).unwrap_or("")
}

/// Line diff, each changed line marked with - or +.
pub fn unified(old: &str, new: &str) -> String {
    let diff = similar::TextDiff::from_lines(old, new);
    let mut out = String::new();
    for group in diff.grouped_ops(2) {
        for op in group {
            for change in diff.iter_changes(&op) {
                let sign = match change.tag() {
                    similar::ChangeTag::Delete => '-',
                    similar::ChangeTag::Insert => '+',
                    similar::ChangeTag::Equal => ' ',
                };
                write!(out, "  {sign} {}", change).unwrap();
                if change.missing_newline() {
                    out.push('\n');
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_marks_changed_lines() {
        let old = "TAP version 13 (1..2)\n  pass    a\n  pass    b\n";
        let new = "TAP version 13 (1..2)\n  pass    a\n  fail    b\n";
        assert_eq!(unified(old, new), "    TAP version 13 (1..2)\n      pass    a\n  -   pass    b\n  +   fail    b\n");
    }
}
