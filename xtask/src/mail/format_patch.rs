//! `cargo xtask format-patch`: the series as mails ready for
//! `git send-email`, in results/mail/vN/: `[PATCH vN k/n]` subjects, a cover
//! letter from patches/cover-letter with the shortlog and diffstat, a
//! `base-commit:` trailer, the range-diff against the previous version, and
//! To/Cc headers from the tree's scripts/get_maintainer.pl: maintainers and
//! reviewers To, lists Cc, per patch, and all of them on the cover letter.
//!
//! Each version sent is kept in patches/versions/vN/ (its series and patch
//! files), so the next version's range-diff works on any clone.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use xshell::{cmd, Shell};

use crate::{
    kernel::{
        apply::{self, Mode},
        base::{self, Base, BaseFlags},
        export, repo,
        series::Series,
    },
    mail::check_series,
    outcome::{Categorize, Failure},
    progress::{self, Stage},
    project::Project,
    setup::{self, Need},
};

/// patches/ file holding the cover letter: the subject on the first line,
/// then a blank line and the body.
pub const COVER_LETTER: &str = "cover-letter";

#[derive(clap::Args, Debug)]
pub struct FormatPatch {
    /// Version of the series: v2 and later carry a range-diff against the
    /// previous version kept in patches/versions/.
    #[arg(long, short, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub version: u32,
    /// Mark the series as a request for comments: [RFC PATCH].
    #[arg(long)]
    pub rfc: bool,
    /// Skip `cargo xtask check-series` (checkpatch, bisectability, warnings).
    #[arg(long)]
    pub no_check: bool,
    /// Profile whose configuration check-series builds each patch with.
    #[arg(long, short, default_value = "check")]
    pub profile: String,
    #[command(flatten)]
    pub base: BaseFlags,
}

impl FormatPatch {
    pub fn run(self, sh: &Shell, project: &Project) -> Result<()> {
        setup::ensure(sh, project, Need::Build, project.config.profile(&self.profile)?.arch)?;
        let base = base::resolve(sh, project, &self.base)?;
        if let Some(warning) = base_commit_warning(&base) {
            progress::say(format_args!("warning: {warning}"));
        }
        // The mails come from patches/, the source of truth: the tree must be
        // exactly the series (work not yet exported is refused by apply).
        apply::run(sh, project, &self.base, Mode::Safe)?;
        if !self.no_check {
            check_series::check(sh, project, &self.profile, &base)?;
        }
        let out = project.results_dir().join("mail").join(format!("v{}", self.version));
        let mails = format_series(
            sh,
            &Request {
                base: &base,
                tree: &project.tree_dir(),
                patches: &project.patches_dir(),
                version: self.version,
                rfc: self.rfc,
                out: &out,
            },
        )?;
        let mut listing = String::new();
        for mail in &mails {
            listing.push_str(&format!("{}\n", project.rel(&mail.path).display()));
            listing.push_str(&format!("    To: {}\n    Cc: {}\n", mail.to.join(", "), mail.cc.join(", ")));
        }
        progress::print(&listing)?;
        progress::say(format_args!(
            "kept this version in patches/versions/v{}: commit it with the project, so that v{} can show a range-diff",
            self.version,
            self.version + 1
        ));
        Ok(())
    }
}

/// The `base-commit:` of a series formatted on the import of Debian's
/// tarball names a commit only this tool makes: b4, patchwork's CI and
/// reviewers cannot fetch it.
fn base_commit_warning(base: &Base) -> Option<String> {
    (!base.has_history()).then(|| {
        format!(
            "the mails' `base-commit: {}` is {}, imported by xtask: it exists nowhere upstream, so b4, \
             patchwork's CI and reviewers cannot find the base. For mails to send, format from a Linux git \
             tree: --base-git PATH --base-ref {}",
            base.commit,
            base.describe,
            base.tag.trim_start_matches("base/")
        )
    })
}

/// What `format_series` makes mails of, and where.
pub struct Request<'a> {
    pub base: &'a Base,
    pub tree: &'a Path,
    pub patches: &'a Path,
    pub version: u32,
    pub rfc: bool,
    pub out: &'a Path,
}

/// One mail file and the recipients written into it.
#[derive(Debug)]
pub struct Mail {
    pub path: PathBuf,
    pub to: Vec<String>,
    pub cc: Vec<String>,
}

pub fn format_series(sh: &Shell, req: &Request) -> Result<Vec<Mail>> {
    let stage = Stage::start(format!("format-patch v{}", req.version));
    let series = Series::load(req.patches)?;
    let cover = CoverLetter::load(&req.patches.join(COVER_LETTER))?;
    let tree = req.tree;
    let commits = repo::commits_above(tree, &req.base.commit)?;
    if commits.len() != series.patches.len() {
        bail!(
            "{} has {} commits above the base but patches/series lists {}: run `cargo xtask apply`",
            tree.display(),
            commits.len(),
            series.patches.len()
        );
    }
    check_signed_off(sh, tree, &commits, &series)?;
    let range_diff = match req.version {
        1 => None,
        v => Some(previous_version(sh, req, v - 1)?),
    };

    if req.out.exists() {
        std::fs::remove_dir_all(req.out)?;
    }
    let mut args: Vec<String> = vec![
        "--cover-letter".into(),
        "--thread=shallow".into(),
        "--numbered".into(),
        format!("--base={}", req.base.commit),
        "-o".into(),
        req.out.display().to_string(),
    ];
    if req.version > 1 {
        args.push(format!("--reroll-count={}", req.version));
    }
    if req.rfc {
        args.push("--rfc".into());
    }
    if let Some(range) = &range_diff {
        args.push(format!("--range-diff={range}"));
    }
    args.push(format!("{}..HEAD", req.base.commit));
    export::git_format_patch(sh, tree, &args, export::GitConfig::Developer)?;

    let mut files: Vec<PathBuf> = std::fs::read_dir(req.out)?.map(|e| Ok(e?.path())).collect::<Result<_>>()?;
    files.sort();
    let (cover_file, patch_files) = files.split_first().context("git format-patch wrote no files")?;
    fill_cover_letter(cover_file, &cover, req.base)?;

    let mut mails = Vec::new();
    let (mut all_to, mut all_cc) = (Vec::new(), Vec::new());
    for file in patch_files {
        let (to, cc) = recipients(sh, tree, file, req.base)?;
        add_headers(file, &to, &cc)?;
        merge(&mut all_to, &to);
        merge(&mut all_cc, &cc);
        mails.push(Mail { path: file.clone(), to, cc });
    }
    add_headers(cover_file, &all_to, &all_cc)?;
    mails.insert(0, Mail { path: cover_file.clone(), to: all_to, cc: all_cc });

    keep_version(&series, req)?;
    stage.finish(&format!("{} mails in {}", mails.len(), req.out.display()));
    Ok(mails)
}

/// patches/cover-letter: subject, blank line, body.
#[derive(Debug)]
pub struct CoverLetter {
    pub subject: String,
    pub body: String,
}

impl CoverLetter {
    pub fn load(path: &Path) -> Result<CoverLetter> {
        let text = std::fs::read_to_string(path).with_context(|| {
            format!("cannot read {}: write the cover letter there (subject line, blank line, body)", path.display())
        })?;
        let (subject, body) = text.split_once('\n').unwrap_or((&text, ""));
        let subject = subject.trim();
        if subject.is_empty() || subject.contains("*** SUBJECT HERE ***") {
            return Err(anyhow::anyhow!(
                "{}: the first line is the cover letter's subject and it is empty: write one",
                path.display()
            ))
            .categorize(Failure::Configuration);
        }
        let body = body.trim();
        if body.is_empty() || body.contains("*** BLURB HERE ***") {
            return Err(anyhow::anyhow!(
                "{}: the cover letter has no body after its subject line: say what the series does and why",
                path.display()
            ))
            .categorize(Failure::Configuration);
        }
        Ok(CoverLetter { subject: subject.to_owned(), body: body.to_owned() })
    }
}

/// Every commit must carry its author's Signed-off-by (the DCO).
fn check_signed_off(sh: &Shell, tree: &Path, commits: &[String], series: &Series) -> Result<()> {
    let mut missing = Vec::new();
    for (commit, patch) in commits.iter().zip(&series.patches) {
        let ident = "--format=%an <%ae>";
        let author = cmd!(sh, "git -C {tree} log -1 {ident} {commit}").quiet().read()?;
        let message = cmd!(sh, "git -C {tree} log -1 --format=%B {commit}").quiet().read()?;
        let line = format!("Signed-off-by: {author}");
        if !message.lines().any(|l| l.trim_end() == line) {
            missing.push(format!("patches/{}: no `{line}`", patch.name));
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    Err(anyhow::anyhow!(
        "patches without their author's Signed-off-by (Documentation/process/submitting-patches.rst):\n  {}\n\
         Add it in the work tree (git commit --amend -s, or git rebase -x 'git commit --amend --no-edit -s'), \
         then `cargo xtask export`.",
        missing.join("\n  ")
    ))
    .categorize(Failure::Configuration)
}

/// The commit range of version `version` from patches/versions/, applied
/// onto the base in the tree's repository without touching its files.
fn previous_version(sh: &Shell, req: &Request, version: u32) -> Result<String> {
    let dir = req.patches.join("versions").join(format!("v{version}"));
    let series = Series::load(&dir).map_err(|e| {
        anyhow::anyhow!(
            "unknown previous version v{version}: {e:#}\nEach `cargo xtask format-patch --version N` keeps the series \
             in patches/versions/vN; format v{version} first, or give the version that follows one that exists."
        )
    })?;
    let tree = req.tree;
    let index = tree.join(".git").join("xtask-range-diff-index");
    let _index = sh.push_env("GIT_INDEX_FILE", &index);
    let mut tip = req.base.commit.clone();
    cmd!(sh, "git -C {tree} read-tree {tip}").quiet().run()?;
    let info_dir = tree.join(".git").join("xtask-mailinfo");
    std::fs::create_dir_all(&info_dir)?;
    let (msg, patch_out) = (info_dir.join("msg"), info_dir.join("patch"));
    for patch in &series.patches {
        let path = &patch.path;
        cmd!(sh, "git -C {tree} apply --cached {path}")
            .quiet()
            .run()
            .with_context(|| format!("{} does not apply onto the base", path.display()))?;
        let headers =
            cmd!(sh, "git -C {tree} mailinfo {msg} {patch_out}").stdin(std::fs::read(path)?).quiet().read()?;
        let subject = headers.lines().find_map(|l| l.strip_prefix("Subject: ")).unwrap_or("").to_owned();
        let message = format!("{subject}\n\n{}", std::fs::read_to_string(&msg)?);
        let written = cmd!(sh, "git -C {tree} write-tree").quiet().read()?;
        tip = cmd!(sh, "git -C {tree} commit-tree {written} -p {tip} -m {message}").quiet().read()?;
    }
    std::fs::remove_file(&index).ok();
    std::fs::remove_dir_all(&info_dir).ok();
    Ok(format!("{}..{tip}", req.base.commit))
}

fn fill_cover_letter(path: &Path, cover: &CoverLetter, base: &Base) -> Result<()> {
    let text = std::fs::read_to_string(path)?;
    let body = format!("{}\n\nBased on {} ({}).", cover.body, base.describe, base.tag.trim_start_matches("base/"));
    let text = text.replace("*** SUBJECT HERE ***", &cover.subject).replace("*** BLURB HERE ***", &body);
    std::fs::write(path, text)?;
    Ok(())
}

/// To (maintainers, reviewers) and Cc (lists) of one patch, from the
/// tree's get_maintainer.pl.
fn recipients(sh: &Shell, tree: &Path, patch: &Path, base: &Base) -> Result<(Vec<String>, Vec<String>)> {
    let _dir = sh.push_dir(tree);
    let mut common = vec!["--no-git", "--no-git-fallback", "--no-rolestats"];
    // It looks up the authors of the commits Fixes: tags name, which a base
    // without history does not have (git prints a fatal error for each).
    if !base.has_history() {
        common.push("--nofixes");
    }
    let run = |which: &[&str]| -> Result<Vec<String>> {
        let common = &common;
        let out = cmd!(sh, "perl scripts/get_maintainer.pl {common...} {which...} {patch}")
            .quiet()
            .read()
            .with_context(|| format!("scripts/get_maintainer.pl failed on {}", patch.display()))?;
        Ok(out.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect())
    };
    Ok((run(&["--m", "--r", "--nol"])?, run(&["--nom", "--nor", "--l"])?))
}

fn merge(into: &mut Vec<String>, from: &[String]) {
    for address in from {
        if !into.contains(address) {
            into.push(address.clone());
        }
    }
}

/// Adds To and Cc headers at the end of a mail's header block, one line
/// each (git send-email reads headers a line at a time).
fn add_headers(path: &Path, to: &[String], cc: &[String]) -> Result<()> {
    let text = std::fs::read_to_string(path)?;
    let end = text.find("\n\n").with_context(|| format!("{} has no header block", path.display()))?;
    let mut headers = String::new();
    for (name, list) in [("To", to), ("Cc", cc)] {
        if !list.is_empty() {
            let encoded: Vec<String> = list.iter().map(|a| encode_address(a)).collect();
            headers.push_str(&format!("\n{name}: {}", encoded.join(", ")));
        }
    }
    std::fs::write(path, format!("{}{headers}{}", &text[..end], &text[end..]))?;
    Ok(())
}

/// `"Näme" <a@b>` with a non-ASCII name as an RFC 2047 encoded word, which
/// mail headers need.
fn encode_address(address: &str) -> String {
    let Some((name, rest)) = address.split_once(" <") else { return address.to_owned() };
    if name.is_ascii() {
        return address.to_owned();
    }
    let name = name.trim_matches('"');
    let mut encoded = String::from("=?UTF-8?q?");
    for byte in name.bytes() {
        match byte {
            b' ' => encoded.push('_'),
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'.' | b'-' => encoded.push(byte as char),
            _ => encoded.push_str(&format!("={byte:02X}")),
        }
    }
    format!("{encoded}?= <{rest}")
}

/// patches/versions/vN: the series as formatted now, for later range-diffs.
fn keep_version(series: &Series, req: &Request) -> Result<()> {
    let dir = req.patches.join("versions").join(format!("v{}", req.version));
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    std::fs::create_dir_all(&dir)?;
    let mut list = String::new();
    for patch in &series.patches {
        std::fs::copy(&patch.path, dir.join(&patch.name))?;
        list.push_str(&patch.name);
        list.push('\n');
    }
    std::fs::write(dir.join("series"), list)?;
    Ok(())
}

#[cfg(test)]
mod tests;
