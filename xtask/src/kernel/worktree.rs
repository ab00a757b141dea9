//! xtask's own git worktrees of the work tree's repository: other commits
//! checked out next to the developer's `work/linux`, which they never
//! touch. They share its objects, so one costs a checkout, not a clone.
//!
//! - `work/base/linux`: the base kernel, detached at the commit the apply
//!   stage tags `base/v<version>`. Later runs reuse it as it is, after
//!   checking that it is still at that commit and has no edits; one that
//!   is not is refused, naming the path, since what is in it may be
//!   someone's work.
//! - `work/bisect/linux`: check-series moves it from commit to commit and
//!   throws away whatever is in it.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use xshell::{cmd, Shell};

use crate::{
    kernel::{base, repo},
    outcome::{Categorize, Failure},
    progress::Stage,
    project::Project,
};

/// How a worktree was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prepared {
    Created,
    /// It was there, at the right commit and clean.
    Reused,
}

/// `work/base/linux`, ready to build: the base kernel, as the apply stage
/// tagged it in the work tree.
pub fn base(sh: &Shell, project: &Project) -> Result<PathBuf> {
    let path = project.base_tree_dir();
    at_tag(sh, &project.tree_dir(), &base::tag(&project.config.base.version), &path)?;
    Ok(path)
}

/// `path`: a worktree of `tree`'s repository detached at the commit of
/// `tag` there. Made when missing; reused when it is at that commit without
/// edits; refused otherwise.
fn at_tag(sh: &Shell, tree: &Path, tag: &str, path: &Path) -> Result<Prepared> {
    let commit = tagged_commit(tree, tag)?;
    let empty_dir = std::fs::read_dir(path).is_ok_and(|mut entries| entries.next().is_none());
    if !path.exists() || empty_dir {
        create(sh, tree, path, &commit)?;
        return Ok(Prepared::Created);
    }
    check_unchanged(tree, path, &commit, tag).categorize(Failure::Configuration)?;
    Ok(Prepared::Reused)
}

fn tagged_commit(tree: &Path, tag: &str) -> Result<String> {
    let commit = git2::Repository::open(tree).ok().and_then(|repo| repo::commit_of(&repo, tag));
    commit.with_context(|| {
        format!("{} has no tag {tag} naming the base commit: run `cargo xtask apply` first", tree.display())
    })
}

/// A new worktree of `tree`'s repository at `path`, detached at `commit`.
/// It is checked out aside and moved into place, so that a checkout
/// killed half-way never leaves something that looks like the worktree.
pub fn create(sh: &Shell, tree: &Path, path: &Path, commit: &str) -> Result<()> {
    let stage = Stage::start(format!("create {}", path.display()));
    if path.exists() {
        // git would move the worktree into an existing directory.
        std::fs::remove_dir(path).with_context(|| {
            format!("{} is in the way of the worktree: it is not an empty directory; move it away", path.display())
        })?;
    }
    let partial = path.with_extension("partial");
    if partial.exists() {
        std::fs::remove_dir_all(&partial).with_context(|| format!("cannot remove {}", partial.display()))?;
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
    }
    // Forgets worktrees whose directory is gone: a partial one, or one
    // removed by hand, which git would not let be added again.
    cmd!(sh, "git -C {tree} worktree prune").quiet().run()?;
    cmd!(sh, "git -C {tree} worktree add -q --detach {partial} {commit}").quiet().run()?;
    cmd!(sh, "git -C {tree} worktree move {partial} {path}").quiet().run()?;
    stage.finish("checked out");
    Ok(())
}

/// Fails, naming `path` and the way out, unless it is a worktree of
/// `tree`'s repository at `commit` without edits.
fn check_unchanged(tree: &Path, path: &Path, commit: &str, tag: &str) -> Result<()> {
    let shown = path.display();
    let way_out = format!(
        "It is xtask's checkout of the base kernel, not a place for work: keep what you need from it, then remove \
         it (`git -C {} worktree remove --force {shown}`, or `rm -rf {shown}` if that fails) and xtask makes it \
         again.",
        tree.display()
    );
    let Ok(repo) = git2::Repository::open(path) else {
        bail!("{shown} is not a git worktree of {} (or its repository is gone).\n{way_out}", tree.display());
    };
    let ours = git2::Repository::open(tree).with_context(|| format!("{} is not a git work tree", tree.display()))?;
    if common_dir(&repo) != common_dir(&ours) {
        bail!("{shown} is a git tree, but not a worktree of {}'s repository.\n{way_out}", tree.display());
    }
    let dirty = repo::dirty_files(&repo)?;
    if !dirty.is_empty() {
        bail!("{shown} has uncommitted changes:\n      {}\n{way_out}", dirty.join("\n      "));
    }
    let head = repo.head().and_then(|h| h.peel_to_commit()).with_context(|| format!("{shown} has no HEAD commit"))?;
    if head.id().to_string() != commit {
        bail!(
            "{shown} is at {} ({}), not at the base commit {} ({tag}).\n{way_out}",
            &head.id().to_string()[..12],
            head.summary().unwrap_or(""),
            &commit[..12]
        );
    }
    Ok(())
}

/// The git directory a repository shares with its worktrees, as `git
/// rev-parse --git-common-dir` says: a worktree's own git directory names
/// it in its `commondir` file (gitrepository-layout(5)).
fn common_dir(repo: &git2::Repository) -> Option<PathBuf> {
    let own = repo.path();
    let common = match std::fs::read_to_string(own.join("commondir")) {
        Ok(relative) => own.join(relative.trim()),
        Err(_) => own.to_path_buf(),
    };
    common.canonicalize().ok()
}

#[cfg(test)]
mod tests;
