//! `cargo xtask export`: the commits between the base and the work tree's
//! HEAD written back into patches/ (`series` and one `git format-patch`
//! file per commit), the way back of `apply`.
//!
//! The files are byte-stable: every `git format-patch` option and config
//! value that shapes them is fixed here, so the developer's git config and
//! the git version cannot change a patch whose commit did not change.
//! Nothing is lost: export refuses a work tree with uncommitted edits (they
//! would not be in any patch) and a patches/ that was edited after the last
//! apply (export would overwrite the edit).

use std::path::Path;

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};
use xshell::{cmd, Shell};

use crate::{
    kernel::{
        base::{self, Base, BaseFlags},
        repo::{self, Applied, State},
        series::Series,
    },
    outcome::{Categorize, Failure},
    progress::{self, Stage},
    project::Project,
};

#[derive(clap::Args, Debug)]
pub struct Export {
    #[command(flatten)]
    pub base: BaseFlags,
}

impl Export {
    pub fn run(self, sh: &Shell, project: &Project) -> Result<()> {
        let stage = Stage::start("export");
        let base = base::resolve(sh, project, &self.base)?;
        let exported = export(sh, &base, &project.tree_dir(), &project.patches_dir())?;
        stage.finish(&exported.describe());
        for name in &exported.written {
            progress::say(format_args!("    wrote patches/{name}"));
        }
        for name in &exported.removed {
            progress::say(format_args!("    removed patches/{name}"));
        }
        Ok(())
    }
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Exported {
    /// Patch files written because they are new or their commit changed.
    pub written: Vec<String>,
    /// Patch files of the old series that no commit produces any more.
    pub removed: Vec<String>,
    pub unchanged: usize,
}

impl Exported {
    fn describe(&self) -> String {
        if self.written.is_empty() && self.removed.is_empty() {
            return format!("patches/ already holds the {} commits", self.unchanged);
        }
        format!("{} written, {} removed, {} unchanged", self.written.len(), self.removed.len(), self.unchanged)
    }
}

/// `git format-patch` settings that fix the bytes of a patch file, where
/// git's defaults could change or the work tree's config could differ.
const FORMAT_CONFIG: &[&str] = &[
    "core.abbrev=12",
    "diff.algorithm=myers",
    "diff.noprefix=false",
    "diff.mnemonicPrefix=false",
    "diff.relative=false",
    "diff.renames=true",
    "format.signature=",
    "format.numbered=auto",
    "format.coverLetter=false",
    "format.outputDirectory=",
    "format.suffix=.patch",
    "format.encodeEmailHeaders=true",
    "i18n.logOutputEncoding=UTF-8",
];
const FORMAT_OPTIONS: &[&str] = &[
    "--no-numbered",
    "--zero-commit",
    "--full-index",
    "--no-signature",
    "--no-attach",
    "--no-thread",
    "--no-notes",
    "--no-cover-letter",
    "--no-base",
    "--subject-prefix=PATCH",
    // No diff.orderFile: files in path order.
    "-O/dev/null",
    "--stat=72",
    "--summary",
    "--filename-max-length=64",
];

/// The files `git format-patch` makes of `range` in `tree`, in `out`, with
/// the settings that keep them byte-stable.
fn format_patch_files(sh: &Shell, tree: &Path, range: &str, out: &Path) -> Result<()> {
    let mut args: Vec<String> = FORMAT_OPTIONS.iter().map(|o| (*o).to_owned()).collect();
    args.extend(["-o".to_owned(), out.display().to_string(), range.to_owned()]);
    git_format_patch(sh, tree, &args, GitConfig::Fixed)
}

/// Which git config `git_format_patch` sees besides the fixed values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GitConfig {
    /// Only the work tree's, which is xtask's: patches/ files must not
    /// depend on who exports them (format.headers, format.to, ...).
    Fixed,
    /// The developer's as well: mails are sent as them, with their identity.
    Developer,
}

/// `git format-patch ARGS` in `tree` with the fixed config of patch files;
/// later options in `args` override the config.
pub fn git_format_patch(sh: &Shell, tree: &Path, args: &[String], config: GitConfig) -> Result<()> {
    let fixed: Vec<String> = FORMAT_CONFIG.iter().flat_map(|c| ["-c".to_owned(), (*c).to_owned()]).collect();
    let mut cmd = cmd!(sh, "git -C {tree} {fixed...} format-patch --quiet {args...}").quiet();
    if config == GitConfig::Fixed {
        cmd = cmd.env("GIT_CONFIG_GLOBAL", "/dev/null").env("GIT_CONFIG_NOSYSTEM", "1");
    }
    cmd.run().with_context(|| format!("git format-patch {} failed in {}", args.join(" "), tree.display()))?;
    Ok(())
}

pub fn export(sh: &Shell, base: &Base, tree: &Path, patches: &Path) -> Result<Exported> {
    let state = exportable(sh, base, tree, patches)?;
    let commits = repo::commits_above(tree, &base.commit)?;

    let scratch = tree.join(".git").join("xtask-export");
    if scratch.exists() {
        std::fs::remove_dir_all(&scratch)?;
    }
    let range = format!("{}..HEAD", base.commit);
    format_patch_files(sh, tree, &range, &scratch)?;
    let mut names: Vec<String> = std::fs::read_dir(&scratch)?
        .map(|e| Ok(e?.file_name().to_string_lossy().into_owned()))
        .collect::<Result<_>>()?;
    names.sort();
    if names.len() != commits.len() {
        bail!("git format-patch made {} files of {} commits in {}", names.len(), commits.len(), scratch.display());
    }

    let mut exported = Exported::default();
    let mut applied = Vec::new();
    for (name, commit) in names.iter().zip(&commits) {
        let bytes = std::fs::read(scratch.join(name))?;
        let target = patches.join(name);
        if std::fs::read(&target).ok().as_deref() == Some(bytes.as_slice()) {
            exported.unchanged += 1;
        } else {
            std::fs::write(&target, &bytes).with_context(|| format!("cannot write {}", target.display()))?;
            exported.written.push(name.clone());
        }
        applied.push(Applied {
            name: name.clone(),
            sha256: format!("{:x}", Sha256::digest(&bytes)),
            commit: commit.clone(),
        });
    }
    for old in &state.applied {
        if !names.contains(&old.name) {
            std::fs::remove_file(patches.join(&old.name)).ok();
            exported.removed.push(old.name.clone());
        }
    }
    write_series(&patches.join("series"), &names)?;
    std::fs::remove_dir_all(&scratch)?;
    // The tree now is exactly what patches/ describes: the next apply or
    // build finds nothing to do and no local work to warn about.
    State { base: base.commit.clone(), applied }.save(tree)?;
    Ok(exported)
}

/// Refuses what export could lose or get wrong; returns the apply state.
fn exportable(sh: &Shell, base: &Base, tree: &Path, patches: &Path) -> Result<State> {
    let shown = tree.display();
    if !tree.join(".git").exists() {
        bail!("{shown} has no work tree to export from: run `cargo xtask apply` first");
    }
    if repo::am_in_progress(tree) || repo::rebase_in_progress(tree) {
        bail!("a `git am` or rebase is in progress in {shown}: finish or abort it, then export");
    }
    let repo = git2::Repository::open(tree).with_context(|| format!("{shown} is not a git work tree"))?;
    let base_here = repo::commit_of(&repo, &base.tag);
    if base_here.as_deref() != Some(base.commit.as_str()) {
        return Err(anyhow::anyhow!(
            "{shown} was not made from the configured base ({}: {}), its {} is {}: exporting would write \
             patches against another kernel. Recreate the work tree with `cargo xtask apply`.",
            base.describe,
            &base.commit[..12],
            base.tag,
            base_here.as_deref().map_or("missing", |c| &c[..12]),
        ))
        .categorize(Failure::Configuration);
    }
    let dirty = repo::dirty_files(&repo)?;
    if !dirty.is_empty() {
        return Err(anyhow::anyhow!(
            "{shown} has uncommitted changes, which no patch would carry:\n  {}\n\
             Commit them (git commit, or git commit --amend / --fixup into the patch they belong to), then export.",
            dirty.join("\n  ")
        ))
        .categorize(Failure::Configuration);
    }
    let head = repo::head(tree)?;
    let base_commit = &base.commit;
    if cmd!(sh, "git -C {tree} merge-base --is-ancestor {base_commit} {head}").quiet().run().is_err() {
        bail!("HEAD of {shown} ({}) does not descend from the base {}", &head[..12], &base.commit[..12]);
    }
    let not_base = format!("^{base_commit}");
    let merges = cmd!(sh, "git -C {tree} rev-list --merges HEAD {not_base}").quiet().read()?;
    if !merges.trim().is_empty() {
        bail!("{shown} has merge commits above the base, which are not patches: {}", merges.trim().replace('\n', " "));
    }

    let state = State::load(tree)?;
    let series = Series::load(patches)?;
    if !state.applied.is_empty() && !state.matches(&series) {
        let edited: Vec<String> = series
            .patches
            .iter()
            .filter(|p| !state.applied.iter().any(|a| a.name == p.name && a.sha256 == p.sha256))
            .map(|p| format!("patches/{}", p.name))
            .chain(
                state
                    .applied
                    .iter()
                    .filter(|a| !series.patches.iter().any(|p| p.name == a.name))
                    .map(|a| format!("patches/{} (no longer in patches/series)", a.name)),
            )
            .collect();
        return Err(anyhow::anyhow!(
            "patches/ changed since the last apply, and export would overwrite that:\n  {}\n\
             Put the change on the work tree first (`cargo xtask apply`), or undo it in patches/.",
            edited.join("\n  ")
        ))
        .categorize(Failure::Configuration);
    }
    Ok(state)
}

/// `patches/series`: the comment lines it starts with, then the patches.
fn write_series(path: &Path, names: &[String]) -> Result<()> {
    let old = std::fs::read_to_string(path).unwrap_or_default();
    let mut text: String =
        old.lines().take_while(|l| l.starts_with('#') || l.trim().is_empty()).map(|l| format!("{l}\n")).collect();
    for name in names {
        text.push_str(name);
        text.push('\n');
    }
    if old != text {
        std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
