//! `cargo xtask review`: the results a test run left for review in
//! selftests/SUITE/results.snap.new (results.ARCH.snap.new for another
//! architecture than x86_64), one suite at a time: the diff against the
//! reviewed results.snap (results.ARCH.snap, else the shared results.snap),
//! then accept (it becomes results[.ARCH].snap), reject (it is deleted) or
//! skip (it stays).
//!
//! The snapshots are in insta's format, but `cargo insta review` looks for
//! them inside cargo packages only, and selftests/ is none.

use std::{
    io::{BufRead, Write},
    path::{Path, PathBuf},
};

use anyhow::{Context, Result};

use crate::{guest::snapshot, progress};

#[derive(clap::Args, Debug)]
pub struct Review {}

impl Review {
    pub fn run(&self, root: &Path) -> Result<()> {
        let pending = pending(&root.join("selftests"))?;
        if pending.is_empty() {
            progress::say("no results waiting for review (selftests/*/results.snap.new)");
            return Ok(());
        }
        let decided = review(&pending, &mut std::io::stdin().lock(), &mut std::io::stdout().lock())?;
        progress::say(format_args!("{} accepted, {} rejected, {} left for later", decided[0], decided[1], decided[2]));
        Ok(())
    }
}

/// The suites' pending snapshots, by suite name.
fn pending(selftests: &Path) -> Result<Vec<PathBuf>> {
    let entries = std::fs::read_dir(selftests).with_context(|| format!("cannot read {}", selftests.display()))?;
    let mut paths = Vec::new();
    for suite in entries.flatten() {
        let Ok(files) = std::fs::read_dir(suite.path()) else { continue };
        paths.extend(files.flatten().map(|f| f.path()).filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("results.") && n.ends_with(".snap.new"))
        }));
    }
    paths.sort();
    Ok(paths)
}

/// Asks about each pending snapshot on `input`; returns how many were
/// accepted, rejected and skipped. The end of `input` skips the rest.
fn review(pending: &[PathBuf], input: &mut impl BufRead, out: &mut impl Write) -> Result<[usize; 3]> {
    let mut decided = [0; 3];
    for new in pending {
        // results.snap.new or results.ARCH.snap.new, beside what it replaces.
        let reviewed = new.with_extension("");
        let file = reviewed.file_name().map_or("?".into(), |n| n.to_string_lossy());
        let suite = new.parent().and_then(|d| d.file_name()).map_or("?".into(), |n| n.to_string_lossy());
        let new_text = std::fs::read_to_string(new).with_context(|| format!("cannot read {}", new.display()))?;
        // Until an architecture has results of its own, it shares x86_64's.
        let (compared, old) = match std::fs::read_to_string(&reviewed) {
            Ok(old) => (file.clone(), Ok(old)),
            Err(_) => ("results.snap".into(), std::fs::read_to_string(reviewed.with_file_name("results.snap"))),
        };
        match old {
            Ok(old) => writeln!(
                out,
                "suite {suite}: selftests/{suite}/{compared} (- reviewed, + new):\n{}",
                snapshot::unified(snapshot::body(&old), snapshot::body(&new_text))
            )?,
            Err(_) => {
                writeln!(out, "suite {suite}: no reviewed snapshot yet; new results:\n{}", snapshot::body(&new_text))?
            }
        }
        let choice = loop {
            // Which file: a suite may have results of several architectures waiting.
            let pending = new.file_name().map_or("?".into(), |n| n.to_string_lossy());
            write!(out, "{suite}/{pending}: [a]ccept, [r]eject, [s]kip? ")?;
            out.flush()?;
            let mut answer = String::new();
            if input.read_line(&mut answer)? == 0 {
                break 's';
            }
            match answer.trim() {
                "a" | "accept" => break 'a',
                "r" | "reject" => break 'r',
                "s" | "skip" => break 's',
                other => writeln!(out, "`{other}`: answer a, r or s")?,
            }
        };
        match choice {
            'a' => {
                std::fs::rename(new, &reviewed).with_context(|| format!("cannot write {}", reviewed.display()))?;
                writeln!(out, "accepted: review the change with git diff selftests/{suite}")?;
                decided[0] += 1;
            }
            'r' => {
                std::fs::remove_file(new).with_context(|| format!("cannot delete {}", new.display()))?;
                writeln!(out, "rejected")?;
                decided[1] += 1;
            }
            _ => decided[2] += 1,
        }
    }
    Ok(decided)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot(suite: &str, body: &str) -> String {
        format!("---\nsource: selftests/{suite}/suite.toml\nexpression: results of suite {suite}\n---\n{body}")
    }

    #[test]
    fn each_pending_snapshot_is_accepted_rejected_or_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let selftests = dir.path();
        for (suite, old, new) in [("a", "pass x\n", "fail x\n"), ("b", "pass y\n", "pass z\n"), ("c", "", "pass w\n")] {
            std::fs::create_dir(selftests.join(suite)).unwrap();
            if !old.is_empty() {
                std::fs::write(selftests.join(suite).join("results.snap"), snapshot(suite, old)).unwrap();
            }
            std::fs::write(selftests.join(suite).join("results.snap.new"), snapshot(suite, new)).unwrap();
        }
        std::fs::create_dir(selftests.join("settled")).unwrap();
        std::fs::write(selftests.join("settled/results.snap"), snapshot("settled", "pass v\n")).unwrap();

        let pending = pending(selftests).unwrap();
        assert_eq!(pending.len(), 3);
        let mut out = Vec::new();
        let decided = review(&pending, &mut "what\na\nr\n".as_bytes(), &mut out).unwrap();
        assert_eq!(decided, [1, 1, 1]);
        let read = |p: &str| std::fs::read_to_string(selftests.join(p)).ok();
        assert_eq!(read("a/results.snap"), Some(snapshot("a", "fail x\n")));
        assert_eq!(read("a/results.snap.new"), None);
        assert_eq!((read("b/results.snap"), read("b/results.snap.new")), (Some(snapshot("b", "pass y\n")), None));
        assert_eq!(read("c/results.snap.new"), Some(snapshot("c", "pass w\n")));
        insta::assert_snapshot!(String::from_utf8(out).unwrap());
    }

    /// arm64's first own results are shown against the shared snapshot and
    /// accepted beside it, which stays x86_64's.
    #[test]
    fn an_architecture_gets_its_own_snapshot() {
        let dir = tempfile::tempdir().unwrap();
        let suite = dir.path().join("s");
        std::fs::create_dir(&suite).unwrap();
        std::fs::write(suite.join("results.snap"), snapshot("s", "pass pud\n")).unwrap();
        std::fs::write(suite.join("results.arm64.snap.new"), snapshot("s", "skip pud\n")).unwrap();
        let pending = pending(dir.path()).unwrap();
        assert_eq!(pending, [suite.join("results.arm64.snap.new")]);
        let mut out = Vec::new();
        assert_eq!(review(&pending, &mut "a\n".as_bytes(), &mut out).unwrap(), [1, 0, 0]);
        let out = String::from_utf8(out).unwrap();
        assert!(
            out.starts_with("suite s: selftests/s/results.snap (- reviewed, + new):\n  - pass pud\n  + skip pud\n"),
            "{out}"
        );
        let read = |p: &str| std::fs::read_to_string(suite.join(p)).ok();
        assert_eq!(read("results.arm64.snap"), Some(snapshot("s", "skip pud\n")));
        assert_eq!(read("results.snap"), Some(snapshot("s", "pass pud\n")));
        assert_eq!(read("results.arm64.snap.new"), None);
    }
}
