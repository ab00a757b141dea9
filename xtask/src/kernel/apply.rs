//! `cargo xtask apply`: the work tree at the base plus one commit per patch
//! of `patches/series`, made with `git am -3` so authorship and messages are
//! kept.
//!
//! What xtask applied is recorded in the work tree's git directory. Anything
//! else found there (uncommitted edits, commits of the developer's own, a
//! stopped `git am`) is never thrown away silently: apply refuses, and with
//! `--force` it keeps them in a stash or a backup ref before going on.

use std::{
    path::Path,
    time::{SystemTime, UNIX_EPOCH},
};

use anyhow::{bail, Context, Result};
use xshell::{cmd, Shell};

use crate::{
    kernel::{
        base::{self, Base, BaseFlags, CloneKind},
        repo::{self, commits_not_in, current_branch, dirty_files, head, Applied, State},
        series::Series,
    },
    outcome::{Categorize, Failure},
    progress::{self, Stage},
    project::Project,
};

/// Branch of the work tree that carries the series.
const BRANCH: &str = "series";
/// Committer of the applied commits: fixed, with the author's date, so
/// that the same patches on the same base give the same commit ids.
const COMMITTER_ENV: &[(&str, &str)] =
    &[("GIT_COMMITTER_NAME", "cargo xtask apply"), ("GIT_COMMITTER_EMAIL", "xtask@localhost")];

#[derive(clap::Args, Debug)]
pub struct Apply {
    /// Go on even if the work tree has edits or commits that are not in the
    /// series: edits are stashed, commits kept under refs/xtask/backup/.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub base: BaseFlags,
}

impl Apply {
    pub fn run(&self, sh: &Shell, project: &Project) -> Result<()> {
        run(sh, project, &self.base, if self.force { Mode::Force } else { Mode::Safe })
    }
}

/// The apply stage of a command: the project's series onto its work tree.
pub fn run(sh: &Shell, project: &Project, base_flags: &BaseFlags, mode: Mode) -> Result<()> {
    let stage = Stage::start("apply");
    let series = Series::load(&project.patches_dir())?;
    let base = base::resolve(sh, project, base_flags)?;
    let outcome = apply(sh, &base, &series, &project.tree_dir(), mode)?;
    stage.finish(&outcome.describe(&series, &base));
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Refuse to touch anything that is not the result of an earlier apply.
    Safe,
    /// Set local work aside (stash, backup ref), then apply.
    Force,
    /// What a build wants: while patches/ is what was applied last, leave
    /// the developer's edits and commits in the tree, to be built as they
    /// are; otherwise as `Safe`.
    KeepLocalWork,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    UpToDate,
    /// `kept` patches were already applied, `applied` were applied now.
    Applied {
        kept: usize,
        applied: usize,
    },
    /// The series is applied and the developer's work is on top of it.
    LocalWork(String),
}

impl Outcome {
    pub fn describe(&self, series: &Series, base: &Base) -> String {
        let n = series.patches.len();
        match self {
            Outcome::UpToDate => format!("up to date: {} + {n} patches", base.describe),
            Outcome::Applied { kept, applied } => {
                format!("{} + {n} patches ({kept} unchanged, {applied} applied)", base.describe)
            }
            Outcome::LocalWork(work) => {
                format!("{} + {n} patches, plus your work in the tree: {work}", base.describe)
            }
        }
    }
}

pub fn apply(sh: &Shell, base: &Base, series: &Series, tree: &Path, mode: Mode) -> Result<Outcome> {
    let _env: Vec<_> = COMMITTER_ENV.iter().map(|(k, v)| sh.push_env(k, v)).collect();
    let mut state = if tree.join(".git").exists() {
        let mut state = State::load(tree)?;
        if state.base.is_empty() {
            // No record of an apply: the tree is expected at the base.
            state.base = base.commit.clone();
        }
        if mode == Mode::KeepLocalWork && state.base == base.commit && state.matches(series) {
            if let Some(work) = local_work(tree, &state)? {
                return Ok(Outcome::LocalWork(work));
            }
        }
        make_safe(sh, base, tree, &state, mode == Mode::Force)?;
        state
    } else if tree.exists() && std::fs::read_dir(tree)?.next().is_some() {
        bail!(
            "{} exists but is not a git work tree; move it away so apply can create the work tree there",
            tree.display()
        );
    } else {
        create(sh, base, tree)?;
        let state = State { base: base.commit.clone(), applied: Vec::new() };
        state.save(tree)?;
        state
    };
    if state.base != base.commit {
        state = State { base: base.commit.clone(), applied: Vec::new() };
    }

    let kept =
        state.applied.iter().zip(&series.patches).take_while(|(a, p)| a.name == p.name && a.sha256 == p.sha256).count();
    let head_now = head(tree)?;
    if kept == series.patches.len() && kept == state.applied.len() && head_now == state.tip() {
        return Ok(Outcome::UpToDate);
    }
    state.applied.truncate(kept);
    let target = state.tip().to_owned();
    if head_now != target || current_branch(tree)?.as_deref() != Some(BRANCH) {
        cmd!(sh, "git -C {tree} checkout -q -f -B {BRANCH} {target}").quiet().run()?;
    }
    state.save(tree)?;

    let total = series.patches.len();
    for (i, patch) in series.patches.iter().enumerate().skip(kept) {
        let path = &patch.path;
        let out =
            cmd!(sh, "git -C {tree} am -3 --committer-date-is-author-date {path}").quiet().ignore_status().output()?;
        if !out.status.success() {
            let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
            let unmerged =
                cmd!(sh, "git -C {tree} diff --name-only --diff-filter=U").quiet().read().unwrap_or_default();
            // The series is configuration: fixing it is the developer's job.
            return Err(anyhow::anyhow!(am_failure(&patch.name, i + 1, total, &text, &unmerged, tree)))
                .categorize(Failure::Configuration);
        }
        state.applied.push(Applied { name: patch.name.clone(), sha256: patch.sha256.clone(), commit: head(tree)? });
        state.save(tree)?;
    }
    Ok(Outcome::Applied { kept, applied: total - kept })
}

fn create(sh: &Shell, base: &Base, tree: &Path) -> Result<()> {
    let stage = Stage::start(format!("create work tree {}", tree.display()));
    let repo = &base.repo;
    let mode = match base.clone {
        CloneKind::Local => "--local",
        CloneKind::Shared => "--shared",
    };
    // Made aside and moved into place: a clone or checkout killed
    // half-way leaves no work tree that looks like one.
    let partial = tree.with_extension("partial");
    base::fresh_dir(&partial)?;
    cmd!(sh, "git clone -q --no-checkout {mode} {repo} {partial}").quiet().run()?;
    let (commit, tag) = (&base.commit, &base.tag);
    cmd!(sh, "git -C {partial} tag -f {tag} {commit}").quiet().ignore_stdout().run()?;
    cmd!(sh, "git -C {partial} checkout -q -b {BRANCH} {commit}").quiet().run()?;
    if tree.exists() {
        // An empty directory, which apply allows.
        std::fs::remove_dir(tree).with_context(|| format!("cannot replace {}", tree.display()))?;
    }
    std::fs::rename(&partial, tree).with_context(|| format!("cannot move the new work tree to {}", tree.display()))?;
    stage.finish("checked out");
    Ok(())
}

/// Refuses, or with `force` sets aside, whatever in the work tree is not
/// the recorded result of an earlier apply.
fn make_safe(sh: &Shell, base: &Base, tree: &Path, state: &State, force: bool) -> Result<()> {
    let shown = tree.display();
    let mut problems = Vec::new();
    if repo::am_in_progress(tree) {
        problems.push(format!(
            "a `git am` stopped in {shown} and is still in progress: finish it (git am --continue) \
             or drop it (git am --abort)"
        ));
    }
    let repo = git2::Repository::open(tree).with_context(|| format!("{shown} is not a git work tree"))?;
    let base_here = repo::commit_of(&repo, &base.tag);
    if base_here.as_deref() != Some(base.commit.as_str()) {
        problems.push(format!(
            "{shown} was not made from the configured base ({}: {}), its {} is {}",
            base.describe,
            &base.commit[..12],
            base.tag,
            base_here.as_deref().map_or("missing", |c| &c[..12]),
        ));
    }
    let dirty = dirty_files(&repo)?;
    if !dirty.is_empty() {
        problems.push(format!("{shown} has uncommitted changes:\n      {}", dirty.join("\n      ")));
    }
    let head = head(tree)?;
    let foreign = if head != state.tip() { commits_not_in(&repo, &head, state.tip()) } else { Vec::new() };
    if head != state.tip() {
        problems.push(if foreign.is_empty() {
            format!("{shown} is at {}, not at the series xtask applied", &head[..12])
        } else {
            format!("{shown} has commits that are not in patches/series:\n      {}", foreign.join("\n      "))
        });
    }
    if problems.is_empty() {
        return Ok(());
    }
    if !force {
        return Err(anyhow::anyhow!(
            "refusing to touch the work tree:\n  - {}\nWrite your commits to patches/ first (`cargo xtask export`), or run \
             `cargo xtask apply --force`, which stashes edits and keeps commits under refs/xtask/backup/.",
            problems.join("\n  - ")
        ))
        .categorize(Failure::Configuration);
    }
    if repo::am_in_progress(tree) {
        cmd!(sh, "git -C {tree} am --abort").quiet().run()?;
    }
    if !dirty.is_empty() {
        let msg = "cargo xtask apply --force";
        cmd!(sh, "git -C {tree} stash push -q --include-untracked -m {msg}").quiet().run()?;
        progress::say(format_args!("    kept your uncommitted changes in `git -C {shown} stash list` ({msg})"));
    }
    if head != state.tip() {
        let secs = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        let backup = format!("refs/xtask/backup/{secs}");
        cmd!(sh, "git -C {tree} update-ref {backup} {head}").quiet().run()?;
        progress::say(format_args!("    kept the previous HEAD {} as {backup}", &head[..12]));
    }
    if base_here.as_deref() != Some(base.commit.as_str()) {
        let (repo_path, commit, tag) = (&base.repo, &base.commit, &base.tag);
        let have = repo.find_commit(git2::Oid::from_str(commit)?).is_ok();
        if !have {
            cmd!(sh, "git -C {tree} fetch -q --no-tags {repo_path} {tag}").quiet().run()?;
        }
        cmd!(sh, "git -C {tree} tag -f {tag} {commit}").quiet().ignore_stdout().run()?;
    }
    Ok(())
}

/// What the developer has in the tree beyond the applied series, if
/// anything.
fn local_work(tree: &Path, state: &State) -> Result<Option<String>> {
    if repo::am_in_progress(tree) {
        bail!(
            "a `git am` stopped in {} and is still in progress: finish it (git am --continue) \
             or drop it (git am --abort) before building",
            tree.display()
        );
    }
    let repo = git2::Repository::open(tree)?;
    let mut work = Vec::new();
    let dirty = dirty_files(&repo)?.len();
    if dirty > 0 {
        work.push(format!("{dirty} uncommitted file(s)"));
    }
    let head = head(tree)?;
    if head != state.tip() {
        match commits_not_in(&repo, &head, state.tip()).len() {
            0 => work.push(format!("HEAD moved to {}", &head[..12])),
            n => work.push(format!("{n} commit(s) not yet in patches/")),
        }
    }
    Ok((!work.is_empty()).then(|| work.join(", ")))
}

/// The message for a patch `git am -3` could not apply: the patch, the
/// files and hunks at fault, and the two ways out.
fn am_failure(name: &str, index: usize, total: usize, output: &str, unmerged: &str, tree: &Path) -> String {
    let mut reasons: Vec<String> = Vec::new();
    for line in output.lines() {
        let reason = if let Some(rest) = line.strip_prefix("error: patch failed: ") {
            rest.rsplit_once(':').map(|(file, at)| format!("{file}: the hunk at line {at} does not apply"))
        } else if let Some(file) = line.strip_prefix("CONFLICT (content): Merge conflict in ") {
            Some(format!("{file}: merge conflict (conflict markers are in the file)"))
        } else if let Some(rest) = line.strip_prefix("error: ") {
            rest.strip_suffix(": does not exist in index")
                .map(|file| format!("{file}: the patch changes it, but the tree does not have it"))
                .or_else(|| {
                    rest.strip_suffix(": already exists in index")
                        .map(|f| format!("{f}: the patch creates it, but it already exists"))
                })
        } else {
            None
        };
        if let Some(reason) = reason {
            if !reasons.contains(&reason) {
                reasons.push(reason);
            }
        }
    }
    for file in unmerged.lines() {
        if !reasons.iter().any(|r| r.starts_with(&format!("{file}:"))) {
            reasons.push(format!("{file}: unmerged"));
        }
    }
    if reasons.is_empty() {
        reasons.push(format!("git am said:\n      {}", output.trim().replace('\n', "\n      ")));
    }
    let shown = tree.display();
    format!(
        "patches/{name} (patch {index} of {total}) does not apply:\n  {}\n\
         The `git am` is left stopped in {shown} with {}. Either:\n  \
         - fix patches/{name} and run `cargo xtask apply --force` (it aborts the stopped am), or\n  \
         - resolve it in the tree: cd {shown}; fix the files; git add FILE...; git am --continue;\n    \
         then write the series back: cargo xtask export",
        reasons.join("\n  "),
        match index {
            1 => "none of the series applied".to_owned(),
            2 => "patch 1 applied".to_owned(),
            _ => format!("patches 1-{} applied", index - 1),
        },
    )
}

#[cfg(test)]
pub(crate) mod tests;
