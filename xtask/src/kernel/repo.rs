//! What xtask knows of the work tree's git repository and of the
//! worktrees beside it: the record of what apply put on the work tree
//! ([`State`]), and the questions asked of a tree (its HEAD and branch, the
//! commit a tag names, the commits above the base, its uncommitted files, a
//! stopped `git am`), each asked one way, read-only, with git2. What
//! changes a tree goes through the git CLI, in the stage that changes it.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::kernel::series::Series;

const STATE_FILE: &str = "xtask-series.json";

/// What the last apply (or export) put on the work tree: the base and, per
/// patch file, its sha256 and the commit it became.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct State {
    pub base: String,
    pub applied: Vec<Applied>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Applied {
    pub name: String,
    pub sha256: String,
    pub commit: String,
}

impl State {
    fn path(tree: &Path) -> PathBuf {
        tree.join(".git").join(STATE_FILE)
    }

    pub fn load(tree: &Path) -> Result<State> {
        let path = State::path(tree);
        match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text).with_context(|| format!("{} is corrupt", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State::default()),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    pub fn save(&self, tree: &Path) -> Result<()> {
        std::fs::write(State::path(tree), serde_json::to_string_pretty(self)? + "\n")?;
        Ok(())
    }

    /// Whether `series` is exactly what was applied.
    pub fn matches(&self, series: &Series) -> bool {
        self.applied.len() == series.patches.len()
            && self.applied.iter().zip(&series.patches).all(|(a, p)| a.name == p.name && a.sha256 == p.sha256)
    }

    pub fn tip(&self) -> &str {
        self.applied.last().map_or(&self.base, |a| &a.commit)
    }
}

pub fn head(tree: &Path) -> Result<String> {
    let repo = git2::Repository::open(tree)?;
    let head = repo.head().and_then(|h| h.peel_to_commit()).context("the work tree has no HEAD commit")?;
    Ok(head.id().to_string())
}

/// HEAD of `tree` and its subject, as `git log -1 --format='%H %s'` says.
pub fn head_line(tree: &Path) -> Result<String> {
    let repo = git2::Repository::open(tree)?;
    let head = repo.head().and_then(|h| h.peel_to_commit()).context("the work tree has no HEAD commit")?;
    Ok(format!("{} {}", head.id(), head.summary().unwrap_or("")))
}

pub fn current_branch(tree: &Path) -> Result<Option<String>> {
    let repo = git2::Repository::open(tree)?;
    let head = repo.head()?;
    Ok(head.is_branch().then(|| head.shorthand().unwrap_or("").to_owned()))
}

/// The commit `rev` (a tag, a branch, an id) names in `repo`.
pub fn commit_of(repo: &git2::Repository, rev: &str) -> Option<String> {
    Some(repo.revparse_single(rev).ok()?.peel_to_commit().ok()?.id().to_string())
}

pub fn dirty_files(repo: &git2::Repository) -> Result<Vec<String>> {
    let mut opts = git2::StatusOptions::new();
    opts.include_untracked(true).recurse_untracked_dirs(false).include_ignored(false).exclude_submodules(true);
    let statuses = repo.statuses(Some(&mut opts))?;
    Ok(statuses.iter().filter_map(|s| s.path().map(str::to_owned)).collect())
}

/// One line per commit reachable from `head` but not from `tip`, newest
/// first, at most 20.
pub fn commits_not_in(repo: &git2::Repository, head: &str, tip: &str) -> Vec<String> {
    let lines = || -> Result<Vec<String>, git2::Error> {
        walk(repo, head, tip)?
            .take(20)
            .map(|oid| {
                let c = repo.find_commit(oid?)?;
                Ok(format!("{} {}", &c.id().to_string()[..12], c.summary().unwrap_or("")))
            })
            .collect()
    };
    lines().unwrap_or_default()
}

/// The commits of `tree` above `base`, oldest first: the series as the
/// tree has it.
pub fn commits_above(tree: &Path, base: &str) -> Result<Vec<String>> {
    let repo = git2::Repository::open(tree).with_context(|| format!("{} is not a git work tree", tree.display()))?;
    let mut walk = walk(&repo, "HEAD", base)?;
    walk.set_sorting(git2::Sort::TOPOLOGICAL | git2::Sort::REVERSE)?;
    let commits: Result<Vec<String>, git2::Error> = walk.map(|oid| Ok(oid?.to_string())).collect();
    Ok(commits?)
}

/// The commits reachable from `from` but not from `hidden` (when it names
/// a commit of the repository), newest first.
fn walk<'r>(repo: &'r git2::Repository, from: &str, hidden: &str) -> Result<git2::Revwalk<'r>, git2::Error> {
    let mut walk = repo.revwalk()?;
    walk.push(repo.revparse_single(from)?.peel_to_commit()?.id())?;
    if let Ok(hidden) = git2::Oid::from_str(hidden) {
        if repo.find_commit(hidden).is_ok() {
            walk.hide(hidden)?;
        }
    }
    Ok(walk)
}

/// Whether a `git am` stopped in `tree` and waits to be continued or
/// aborted.
pub fn am_in_progress(tree: &Path) -> bool {
    tree.join(".git/rebase-apply").exists()
}

/// Whether a `git rebase` is under way in `tree`.
pub fn rebase_in_progress(tree: &Path) -> bool {
    tree.join(".git/rebase-merge").exists()
}

#[cfg(test)]
mod tests {
    use xshell::{cmd, Shell};

    use super::*;

    /// A real repository: git2's answer is the one `git log` gives, which
    /// versions.txt showed before.
    #[test]
    fn head_line_is_what_git_log_says() {
        let dir = tempfile::tempdir().unwrap();
        let sh = Shell::new().unwrap();
        sh.change_dir(dir.path());
        let _env = [
            sh.push_env("GIT_AUTHOR_NAME", "a"),
            sh.push_env("GIT_AUTHOR_EMAIL", "a@b"),
            sh.push_env("GIT_COMMITTER_NAME", "a"),
            sh.push_env("GIT_COMMITTER_EMAIL", "a@b"),
        ];
        cmd!(sh, "git init -q").run().unwrap();
        cmd!(sh, "git commit -q --allow-empty -m 'mm: a subject' -m 'a body'").run().unwrap();
        let format = "--format=%H %s";
        let git_log = cmd!(sh, "git log -1 {format}").read().unwrap();
        assert_eq!(head_line(dir.path()).unwrap(), git_log);
        assert!(git_log.ends_with(" mm: a subject"), "{git_log}");
    }
}
