//! `cargo xtask check-series`: what reviewers and patch CI will say about
//! each patch, before it is sent. Per patch: `checkpatch.pl --strict`
//! (errors fail, warnings are listed), whether the kernel builds with the
//! series up to and including it (bisectability), new compiler warnings and
//! new kernel-doc warnings in the files it touches.
//!
//! Warnings are compared the way netdev's patch CI does it: with W=1, the
//! files a patch touches are rebuilt once without the patch and once with
//! it, and the warnings of the two builds are compared. The builds happen in a
//! separate git worktree, work/bisect/linux, with its build directory in
//! work/bisect/build/PROFILE: the developer's tree and build stay as they
//! are, and the layout mirrors work/ so that ccache reuses their objects.

use std::{fmt::Write as _, path::Path};

use anyhow::{Context, Result};
use xshell::{cmd, Shell};

use crate::{
    kernel::{
        apply::{self, Mode},
        base::{self, Base, BaseFlags},
        build::Kbuild,
        repo,
        series::Series,
        worktree,
    },
    outcome::{Categorize, Failure},
    progress,
    project::Project,
    setup::{self, Need},
};

#[derive(clap::Args, Debug)]
pub struct CheckSeries {
    /// Profile whose configuration each prefix of the series is built with.
    #[arg(long, short, default_value = "check")]
    pub profile: String,
    #[command(flatten)]
    pub base: BaseFlags,
}

/// What check-series found for one patch.
#[derive(Debug, Default)]
struct Verdict {
    name: String,
    checkpatch: Checkpatch,
    /// None: not built, because an earlier patch broke the build.
    builds: Option<bool>,
    new_warnings: Vec<String>,
    new_kernel_doc: Vec<String>,
}

#[derive(Debug, Default, PartialEq, Eq)]
struct Checkpatch {
    errors: usize,
    warnings: usize,
    checks: usize,
    /// The ERROR/WARNING/CHECK lines with their location line.
    messages: Vec<String>,
}

impl CheckSeries {
    pub fn run(self, sh: &Shell, project: &Project) -> Result<()> {
        setup::ensure(sh, project, Need::Build, project.config.profile(&self.profile)?.arch)?;
        let base = base::resolve(sh, project, &self.base)?;
        apply::run(sh, project, &self.base, Mode::Safe)?;
        check(sh, project, &self.profile, &base)
    }
}

/// check-series on a work tree that apply just made the series.
pub fn check(sh: &Shell, project: &Project, profile: &str, base: &Base) -> Result<()> {
    let profile = project.config.profile(profile)?;
    let series = Series::load(&project.patches_dir())?;
    let tree = project.tree_dir();
    let commits = repo::commits_above(&tree, &base.commit)?;

    // Without upstream history, checkpatch cannot look up the commits
    // that Fixes: tags name and would warn about each of them.
    let ignore: &[&str] = if base.has_history() { &[] } else { &["--ignore", "UNKNOWN_COMMIT_ID"] };
    if !base.has_history() {
        progress::say(format_args!(
            "note: {} has no git history: commit ids in Fixes: tags are not checked",
            base.describe
        ));
    }
    let mut verdicts: Vec<Verdict> = series
        .patches
        .iter()
        .map(|p| {
            let checkpatch = checkpatch(sh, &tree, &p.path, ignore)?;
            Ok(Verdict { name: p.name.clone(), checkpatch, ..Verdict::default() })
        })
        .collect::<Result<_>>()?;

    let bisect = project.work_dir().join("bisect");
    let bisect_tree = bisect.join("linux");
    prepare_worktree(sh, &tree, &bisect_tree, &base.commit)?;
    let kbuild = Kbuild::of_prefix(project, &profile, bisect_tree.clone(), bisect.join("build").join(&profile.name))?;
    let mut configured: Option<String> = None;

    // The base, built once: later builds are incremental, so that their
    // warnings are those of the files a patch touches.
    checkout(sh, &bisect_tree, &base.commit)?;
    reconfigure(sh, &kbuild, &bisect_tree, &mut configured, &base.commit)?;
    build_warnings(&kbuild, "bisect-00-base").context("the base does not build with this profile")?;

    // Each patch starts from the tree its predecessor left built.
    for (k, (commit, verdict)) in commits.iter().zip(verdicts.iter_mut()).enumerate() {
        let touched = touched_files(sh, &tree, commit)?;
        let existing: Vec<&String> = touched.iter().filter(|f| bisect_tree.join(f).is_file()).collect();
        // Without the patch: the files it touches, rebuilt, and their
        // warnings. Files it only creates have none.
        let (before, doc_before) = if existing.is_empty() {
            (Vec::new(), Vec::new())
        } else {
            for file in &existing {
                touch(&bisect_tree.join(file))?;
            }
            let before = build_warnings(&kbuild, &format!("bisect-{:02}-before", k + 1))
                .with_context(|| format!("the build without patches/{} failed", verdict.name))?;
            (before, kernel_doc(sh, &bisect_tree, &existing)?)
        };
        checkout(sh, &bisect_tree, commit)?;
        reconfigure(sh, &kbuild, &bisect_tree, &mut configured, commit)?;
        match build_warnings(&kbuild, &format!("bisect-{:02}", k + 1)) {
            Ok(after) => {
                verdict.builds = Some(true);
                verdict.new_warnings = new_lines(&before, &after);
            }
            Err(err) => {
                verdict.builds = Some(false);
                verdict.new_warnings = vec![format!("{err:#}")];
                break;
            }
        }
        let now: Vec<&String> = touched.iter().filter(|f| bisect_tree.join(f).is_file()).collect();
        verdict.new_kernel_doc = new_lines(&doc_before, &kernel_doc(sh, &bisect_tree, &now)?);
    }

    progress::print(&verdicts_table(&verdicts))?;
    let failed: Vec<&str> = verdicts
        .iter()
        .filter(|v| v.checkpatch.errors > 0 || v.builds != Some(true) || !v.new_warnings.is_empty())
        .map(|v| v.name.as_str())
        .collect();
    if failed.is_empty() {
        return Ok(());
    }
    Err(anyhow::anyhow!(
        "check-series: {} of {} patches need work: {}",
        failed.len(),
        verdicts.len(),
        failed.join(", ")
    ))
    .categorize(Failure::TestsFailed)
}

/// work/bisect/linux: a worktree of the work tree's repository, detached.
fn prepare_worktree(sh: &Shell, tree: &Path, bisect_tree: &Path, base: &str) -> Result<()> {
    if !bisect_tree.join(".git").exists() {
        worktree::create(sh, tree, bisect_tree, base)?;
    }
    // The worktree is xtask's own: whatever is in it is thrown away.
    cmd!(sh, "git -C {bisect_tree} reset -q --hard").quiet().run()?;
    Ok(())
}

/// Makes .config from the profile's fragments for the Kconfig files of
/// `commit` (without the options they do not define yet), unless the tree
/// was configured at a commit with the same ones.
fn reconfigure(sh: &Shell, kbuild: &Kbuild, tree: &Path, configured: &mut Option<String>, commit: &str) -> Result<()> {
    if let Some(at) = configured.as_deref() {
        let changed = cmd!(sh, "git -C {tree} diff --name-only {at} {commit}").quiet().read()?;
        if !changed.lines().any(|f| f.rsplit('/').next().is_some_and(|name| name.starts_with("Kconfig"))) {
            return Ok(());
        }
    }
    kbuild.configure()?;
    *configured = Some(commit.to_owned());
    Ok(())
}

fn checkout(sh: &Shell, tree: &Path, commit: &str) -> Result<()> {
    cmd!(sh, "git -C {tree} checkout -q --detach {commit}").quiet().run()?;
    Ok(())
}

fn touched_files(sh: &Shell, tree: &Path, commit: &str) -> Result<Vec<String>> {
    let out = cmd!(sh, "git -C {tree} diff-tree --no-commit-id --name-only -r {commit}").quiet().read()?;
    Ok(out.lines().map(str::to_owned).collect())
}

fn touch(path: &Path) -> Result<()> {
    let file = std::fs::OpenOptions::new().append(true).open(path)?;
    file.set_modified(std::time::SystemTime::now())?;
    Ok(())
}

/// Builds with W=1, as netdev's patch CI does, and returns the compiler
/// warnings the build printed.
fn build_warnings(kbuild: &Kbuild, what: &str) -> Result<Vec<String>> {
    kbuild.build_with(&["W=1".to_owned()], what)?;
    let log = std::fs::read_to_string(kbuild.log_path(what))?;
    Ok(warning_lines(&log))
}

/// C compiler warnings (`FILE:LINE:COL: warning: ...`) and rustc ones
/// (`warning: ...` then ` --> FILE:LINE:COL`), without line and column, so
/// that a patch moving code does not turn old warnings into new ones.
fn warning_lines(log: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rust: Option<&str> = None;
    for line in log.lines() {
        if let Some((at, message)) = line.split_once(": warning: ") {
            let file = at.split(':').next().unwrap_or(at);
            found.push(format!("{file}: warning: {message}"));
        } else if let Some(message) = line.strip_prefix("warning: ") {
            rust = (!message.contains(" emitted")).then_some(message);
        } else if let (Some(message), Some(at)) = (rust, line.trim_start().strip_prefix("--> ")) {
            let file = at.split(':').next().unwrap_or(at);
            found.push(format!("{file}: warning: {message}"));
            rust = None;
        }
    }
    found
}

/// `scripts/kernel-doc -none -Wall` on the C files among `files`.
fn kernel_doc(sh: &Shell, tree: &Path, files: &[&String]) -> Result<Vec<String>> {
    let sources: Vec<&str> =
        files.iter().map(|f| f.as_str()).filter(|f| f.ends_with(".c") || f.ends_with(".h")).collect();
    if sources.is_empty() {
        return Ok(Vec::new());
    }
    let _dir = sh.push_dir(tree);
    let out = cmd!(sh, "scripts/kernel-doc -none -Wall {sources...}").quiet().ignore_status().output()?;
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    // Line numbers move with every edit above a comment: compare without.
    Ok(text
        .lines()
        .filter(|l| l.to_ascii_lowercase().starts_with("warning"))
        .map(|l| {
            let mut words = l.splitn(3, ' ');
            let (kind, at, rest) = (words.next().unwrap_or(""), words.next().unwrap_or(""), words.next().unwrap_or(""));
            format!("{kind} {}: {rest}", at.split(':').next().unwrap_or(at))
        })
        .collect())
}

/// The lines of `after` not in `before`, counting repeats.
fn new_lines(before: &[String], after: &[String]) -> Vec<String> {
    let mut left: Vec<&String> = before.iter().collect();
    let mut new = Vec::new();
    for line in after {
        match left.iter().position(|l| *l == line) {
            Some(i) => {
                left.swap_remove(i);
            }
            None => new.push(line.clone()),
        }
    }
    new
}

/// `checkpatch.pl --strict` on a patch file.
fn checkpatch(sh: &Shell, tree: &Path, patch: &Path, ignore: &[&str]) -> Result<Checkpatch> {
    let _dir = sh.push_dir(tree);
    let path = std::env::var("PATH").unwrap_or_default();
    let out = cmd!(sh, "perl scripts/checkpatch.pl --strict --no-signoff --color=never {ignore...} {patch}")
        // spdxcheck.py runs `env python3`: let that be the one setup checked.
        .env("PATH", format!("{}:{path}", crate::toolchain::SPDX_PYTHON_DIR))
        .quiet()
        .ignore_status()
        .output()
        .with_context(|| format!("cannot run scripts/checkpatch.pl in {}", tree.display()))?;
    let text = String::from_utf8_lossy(&out.stdout);
    parse_checkpatch(&text)
        .with_context(|| format!("checkpatch.pl printed no summary for {}:\n{text}", patch.display()))
}

fn parse_checkpatch(text: &str) -> Option<Checkpatch> {
    let total = text.lines().find_map(|l| l.strip_prefix("total: "))?;
    let count = |what: &str| {
        total.split(", ").find_map(|part| part.strip_suffix(what)).and_then(|n| n.trim().parse().ok()).unwrap_or(0)
    };
    let lines: Vec<&str> = text.lines().collect();
    let messages = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.starts_with("ERROR:") || l.starts_with("WARNING:") || l.starts_with("CHECK:"))
        .map(|(i, l)| match lines.get(i + 1).and_then(|n| n.split_once("FILE: ")) {
            Some((_, at)) => format!("{l} ({})", at.trim_end_matches(':')),
            None => (*l).to_owned(),
        })
        .collect();
    Some(Checkpatch { errors: count(" errors"), warnings: count(" warnings"), checks: count(" checks"), messages })
}

/// The table of verdicts, then the messages behind them, per patch.
fn verdicts_table(verdicts: &[Verdict]) -> String {
    let mut out = String::new();
    writeln!(out, "{:<4} {:<58} {:>11} {:>7} {:>9} {:>6}", "#", "patch", "checkpatch", "builds", "warnings", "kdoc")
        .unwrap();
    for (i, v) in verdicts.iter().enumerate() {
        let cp = format!("{}/{}/{}", v.checkpatch.errors, v.checkpatch.warnings, v.checkpatch.checks);
        let builds = match v.builds {
            Some(true) => "yes",
            Some(false) => "NO",
            None => "-",
        };
        let name: String = v.name.chars().take(58).collect();
        writeln!(
            out,
            "{:<4} {:<58} {:>11} {:>7} {:>9} {:>6}",
            i + 1,
            name,
            cp,
            builds,
            if v.builds == Some(true) { format!("+{}", v.new_warnings.len()) } else { "-".into() },
            format!("+{}", v.new_kernel_doc.len())
        )
        .unwrap();
    }
    writeln!(out, "(checkpatch: errors/warnings/checks; warnings and kdoc: new ones in the files the patch touches)")
        .unwrap();
    for v in verdicts {
        let lines: Vec<&String> =
            v.checkpatch.messages.iter().chain(&v.new_warnings).chain(&v.new_kernel_doc).collect();
        if !lines.is_empty() {
            writeln!(out, "patches/{}:", v.name).unwrap();
            for line in lines {
                writeln!(out, "    {line}").unwrap();
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpatch_summary_and_messages() {
        let out = "WARNING: Unknown commit id '75182022a043', maybe rebased or not pulled?\n\
                   #12: \n\
                   CHECK: Macro argument reuse 'addr' - possible side-effects?\n\
                   #241: FILE: tools/testing/selftests/mm/x.c:151:\n\
                   total: 0 errors, 1 warnings, 1 checks, 452 lines checked\n";
        let cp = parse_checkpatch(out).unwrap();
        assert_eq!((cp.errors, cp.warnings, cp.checks), (0, 1, 1));
        assert_eq!(
            cp.messages,
            [
                "WARNING: Unknown commit id '75182022a043', maybe rebased or not pulled?",
                "CHECK: Macro argument reuse 'addr' - possible side-effects? (tools/testing/selftests/mm/x.c:151)"
            ]
        );
        assert_eq!(parse_checkpatch("no summary\n"), None);
    }

    #[test]
    fn warnings_compare_without_line_numbers() {
        let before = warning_lines("mm/memory.c:10:5: warning: unused variable 'x' [-Wunused-variable]\n");
        let after = warning_lines(
            "  CC      mm/memory.c\nmm/memory.c:12:5: warning: unused variable 'x' [-Wunused-variable]\n\
             mm/memory.c:40:9: warning: unused variable 'y' [-Wunused-variable]\n\
             warning: unused import: `Foo`\n  --> rust/kernel/mm/virt.rs:3:5\nwarning: 1 warning emitted\n",
        );
        assert_eq!(
            new_lines(&before, &after),
            [
                "mm/memory.c: warning: unused variable 'y' [-Wunused-variable]",
                "rust/kernel/mm/virt.rs: warning: unused import: `Foo`"
            ]
        );
    }
}
