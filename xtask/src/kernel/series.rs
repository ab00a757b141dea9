//! `patches/series`: the patch files of the series, in order, quilt style.
//!
//! One file name a line; blank lines and `#` comments are ignored. Each
//! patch must be in `git format-patch` form so that `git am` keeps its
//! author and message.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};

use crate::outcome::{Categorize, Failure};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Patch {
    /// File name relative to the patches directory.
    pub name: String,
    pub path: PathBuf,
    /// sha256 of the file, which tells an applied patch from an edited one.
    pub sha256: String,
}

#[derive(Debug)]
pub struct Series {
    pub patches: Vec<Patch>,
}

impl Series {
    pub fn load(dir: &Path) -> Result<Series> {
        let file = dir.join("series");
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("cannot read {}; it lists the patches of the series", file.display()))?;
        Series::parse(dir, &text).categorize(Failure::Configuration)
    }

    pub fn parse(dir: &Path, text: &str) -> Result<Series> {
        let mut patches: Vec<Patch> = Vec::new();
        let mut problems = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let at = format!("patches/series:{}", i + 1);
            let entry = line.split_once('#').map_or(line, |(before, _)| before).trim();
            if entry.is_empty() {
                continue;
            }
            if entry.split_whitespace().count() > 1 {
                problems
                    .push(format!("{at}: `{entry}`: quilt options are not supported; one patch file name per line"));
                continue;
            }
            if entry.starts_with('/') || entry.split('/').any(|c| c == "..") {
                problems.push(format!("{at}: `{entry}` must be a file inside patches/"));
                continue;
            }
            if patches.iter().any(|p| p.name == entry) {
                problems.push(format!("{at}: `{entry}` is listed twice"));
                continue;
            }
            let path = dir.join(entry);
            let bytes = match std::fs::read(&path) {
                Ok(bytes) => bytes,
                Err(e) => {
                    problems.push(format!("{at}: names patches/{entry}, which cannot be read: {e}"));
                    continue;
                }
            };
            if let Err(e) = check_format_patch(&bytes) {
                problems.push(format!("patches/{entry}: {e}"));
                continue;
            }
            patches.push(Patch { name: entry.to_owned(), path, sha256: format!("{:x}", Sha256::digest(&bytes)) });
        }
        if !problems.is_empty() {
            bail!("the series in patches/ is not usable:\n  {}", problems.join("\n  "));
        }
        Ok(Series { patches })
    }
}

/// A `git format-patch` file starts with the mbox separator line carrying
/// the original commit, and has the author and subject headers `git am`
/// needs.
fn check_format_patch(bytes: &[u8]) -> std::result::Result<(), String> {
    let text = String::from_utf8_lossy(bytes);
    let first = text.lines().next().unwrap_or("");
    let commit = first.strip_prefix("From ").and_then(|rest| rest.strip_suffix(" Mon Sep 17 00:00:00 2001"));
    if !commit.is_some_and(|c| c.len() == 40 && c.bytes().all(|b| b.is_ascii_hexdigit())) {
        return Err("not in `git format-patch` form: the first line must be \
                    `From <commit> Mon Sep 17 00:00:00 2001`; regenerate it with git format-patch"
            .to_owned());
    }
    let headers = text.split("\n\n").next().unwrap_or("");
    for header in ["From:", "Subject:"] {
        if !headers.lines().any(|l| l.starts_with(header)) {
            return Err(format!("has no `{header}` header; regenerate it with git format-patch"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PATCH: &str = "From 0123456789abcdef0123456789abcdef01234567 Mon Sep 17 00:00:00 2001\n\
        From: A U Thor <author@example.org>\nDate: Mon, 1 Jan 2024 00:00:00 +0000\n\
        Subject: [PATCH] lib: a change\n\nBody.\n\nSigned-off-by: A U Thor <author@example.org>\n---\n";

    fn dir_with(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        dir
    }

    #[test]
    fn comments_and_blank_lines_are_skipped() {
        let dir = dir_with(&[("0001-a.patch", PATCH), ("0002-b.patch", PATCH)]);
        let series = Series::parse(dir.path(), "# the series\n\n0001-a.patch\n0002-b.patch  # the second\n").unwrap();
        let names: Vec<&str> = series.patches.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["0001-a.patch", "0002-b.patch"]);
        assert_eq!(series.patches[0].sha256, series.patches[1].sha256);
    }

    #[test]
    fn every_problem_is_named_with_its_line() {
        let dir = dir_with(&[("0001-a.patch", PATCH), ("notes.txt", "just some notes\n")]);
        let err = Series::parse(
            dir.path(),
            "0001-a.patch\n0001-a.patch\n0002-missing.patch\nnotes.txt\n0003-c.patch -p0\n../outside.patch\n",
        )
        .unwrap_err();
        insta::assert_snapshot!(format!("{err:#}").replace(&dir.path().display().to_string(), "DIR"));
    }

    #[test]
    fn project_series_parses() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        Series::load(&root.join("patches")).unwrap();
    }
}
