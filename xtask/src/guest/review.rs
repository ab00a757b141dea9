//! `cargo xtask review`: the results a test run left for review in
//! selftests/SUITE/results.snap.new, one suite at a time: the diff against
//! the reviewed results.snap, then accept (it becomes results.snap),
//! reject (it is deleted) or skip (it stays).
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
    let mut paths: Vec<PathBuf> =
        entries.flatten().map(|e| e.path().join("results.snap.new")).filter(|p| p.is_file()).collect();
    paths.sort();
    Ok(paths)
}

/// Asks about each pending snapshot on `input`; returns how many were
/// accepted, rejected and skipped. The end of `input` skips the rest.
fn review(pending: &[PathBuf], input: &mut impl BufRead, out: &mut impl Write) -> Result<[usize; 3]> {
    let mut decided = [0; 3];
    for new in pending {
        let reviewed = new.with_file_name("results.snap");
        let suite = new.parent().and_then(|d| d.file_name()).map_or("?".into(), |n| n.to_string_lossy());
        let new_text = std::fs::read_to_string(new).with_context(|| format!("cannot read {}", new.display()))?;
        match std::fs::read_to_string(&reviewed) {
            Ok(old) => writeln!(
                out,
                "suite {suite}: selftests/{suite}/results.snap (- reviewed, + new):\n{}",
                snapshot::unified(snapshot::body(&old), snapshot::body(&new_text))
            )?,
            Err(_) => {
                writeln!(out, "suite {suite}: no reviewed snapshot yet; new results:\n{}", snapshot::body(&new_text))?
            }
        }
        let choice = loop {
            write!(out, "{suite}: [a]ccept, [r]eject, [s]kip? ")?;
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
}
