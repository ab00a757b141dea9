//! The pristine kernel the series applies to.
//!
//! By default it is Debian's `linux-source-X.Y` package, fetched through the
//! machine's own apt configuration, checked against the sha256 in
//! `xtask.toml`, and imported once into a bare git repository in the user
//! cache whose only commit is the pristine tree, tagged `base/vX.Y.Z`.
//! Kernel developers can instead point `[base.git]` or `--base-git` at a
//! Linux tree they already have.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};
use xshell::{cmd, Shell};

use crate::{
    progress::Stage,
    project::Project,
    xtask_toml::{DebianSource, GitSource},
};

/// Identity and date of the imported base commit: fixed, so that every
/// machine importing the same package gets the same commit id.
const IMPORT_ENV: &[(&str, &str)] = &[
    ("GIT_AUTHOR_NAME", "cargo xtask"),
    ("GIT_AUTHOR_EMAIL", "xtask@localhost"),
    ("GIT_AUTHOR_DATE", "2000-01-01T00:00:00+0000"),
    ("GIT_COMMITTER_NAME", "cargo xtask"),
    ("GIT_COMMITTER_EMAIL", "xtask@localhost"),
    ("GIT_COMMITTER_DATE", "2000-01-01T00:00:00+0000"),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloneKind {
    /// xtask's own cache repository: hard-link its objects.
    Local,
    /// A developer's tree: borrow its objects through alternates.
    Shared,
}

#[derive(Debug, Clone)]
pub struct Base {
    pub repo: PathBuf,
    pub commit: String,
    /// Tag naming the base commit in the work tree.
    pub tag: String,
    /// What the base is, for messages.
    pub describe: String,
    pub clone: CloneKind,
}

impl Base {
    /// Whether the base commit has upstream's history behind it: a git
    /// tree has, the import of Debian's source tarball is a single commit.
    pub fn has_history(&self) -> bool {
        self.clone == CloneKind::Shared
    }
}

#[derive(clap::Args, Debug, Default, Clone)]
pub struct BaseFlags {
    /// Use this Linux git tree as the base instead of the one in xtask.toml.
    #[arg(long, value_name = "PATH")]
    pub base_git: Option<PathBuf>,
    /// Ref of the base in --base-git [default: v<base.version>].
    #[arg(long, value_name = "REF", requires = "base_git")]
    pub base_ref: Option<String>,
}

/// The tag that names the base commit in the work tree: `base/v7.3.4`.
pub fn tag(version: &str) -> String {
    format!("base/v{version}")
}

pub fn resolve(sh: &Shell, project: &Project, flags: &BaseFlags) -> Result<Base> {
    let base = &project.config.base;
    let tag = tag(&base.version);
    if let Some(path) = &flags.base_git {
        let rev = flags.base_ref.clone().unwrap_or_else(|| format!("v{}", base.version));
        return from_git(&GitSource { path: path.clone(), rev }, &base.version, tag, "--base-git/--base-ref");
    }
    match (&base.git, &base.debian) {
        (Some(git), _) => from_git(git, &base.version, tag, "base.git in xtask.toml"),
        (None, Some(deb)) => from_debian(sh, deb, &base.version, tag, &project.cache_dir()),
        (None, None) => unreachable!("Config::validate requires a base source"),
    }
}

/// `where_set` tells the user which setting to change when the tree is wrong.
pub fn from_git(git: &GitSource, version: &str, tag: String, where_set: &str) -> Result<Base> {
    let repo = git2::Repository::open(&git.path).with_context(|| {
        format!("the base tree {} ({where_set}) is not a git repository; point it at a Linux clone", git.path.display())
    })?;
    let commit = repo.revparse_single(&git.rev).and_then(|o| o.peel_to_commit()).with_context(|| {
        format!(
            "`{}` is not a commit in {} ({where_set}); Linux {version} is wanted: fetch it \
                 (git -C {} fetch origin tag v{version}) or name another ref",
            git.rev,
            git.path.display(),
            git.path.display()
        )
    })?;
    let makefile = commit
        .tree()?
        .get_path(Path::new("Makefile"))
        .and_then(|entry| entry.to_object(&repo))
        .ok()
        .and_then(|o| o.as_blob().map(|b| String::from_utf8_lossy(b.content()).into_owned()))
        .with_context(|| {
            format!("{} at `{}` has no top-level Makefile: not a Linux tree", git.path.display(), git.rev)
        })?;
    check_version(&makefile, version, &format!("{} at `{}`", git.path.display(), git.rev), where_set)?;
    Ok(Base {
        repo: git.path.clone(),
        commit: commit.id().to_string(),
        tag,
        describe: format!("{} at {}", git.path.display(), git.rev),
        clone: CloneKind::Shared,
    })
}

fn from_debian(sh: &Shell, deb: &DebianSource, version: &str, tag: String, cache: &Path) -> Result<Base> {
    let describe = format!("Debian {} {}", deb.package, deb.version);
    let name = format!("{}_{}", deb.package, deb.version.replace(':', "%3a"));
    let repo_path = cache.join("base").join(format!("{name}.import{IMPORT_FORMAT}.git"));
    if !repo_path.exists() {
        let deb_file = fetch_deb(sh, deb, &cache.join("debian"), &name, version)?;
        import(sh, deb, &deb_file, version, &tag, &repo_path)?;
    }
    let repo = git2::Repository::open_bare(&repo_path)
        .with_context(|| format!("cannot open the imported base {}; delete it to import again", repo_path.display()))?;
    let commit = repo
        .revparse_single(&tag)
        .and_then(|o| o.peel_to_commit())
        .with_context(|| format!("{} has no tag {tag}; delete it to import again", repo_path.display()))?;
    Ok(Base { repo: repo_path, commit: commit.id().to_string(), tag, describe, clone: CloneKind::Local })
}

fn sha256_file(path: &Path) -> Result<String> {
    let mut file = std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher)?;
    Ok(format!("{:x}", hasher.finalize()))
}

/// The verified .deb in the cache, downloaded when absent.
fn fetch_deb(sh: &Shell, deb: &DebianSource, dir: &Path, name: &str, version: &str) -> Result<PathBuf> {
    let file = dir.join(format!("{name}_all.deb"));
    let wanted = format!("Linux {version} (Debian {} {}, suite {})", deb.package, deb.version, deb.suite);
    let override_hint =
        "or use a Linux git tree instead: set [base.git] path/ref in xtask.toml or pass --base-git PATH --base-ref REF";
    if !file.exists() {
        let stage = Stage::start(format!("fetch {} {}", deb.package, deb.version));
        let mirror = match &deb.mirror {
            Some(m) => m.clone(),
            None => machine_archive_uri().with_context(|| {
                format!(
                    "cannot fetch {wanted}: no Debian archive found in this machine's apt sources \
                     (/etc/apt/sources.list, /etc/apt/sources.list.d/); set base.debian.mirror in xtask.toml, {override_hint}"
                )
            })?,
        };
        let apt_dir = dir.join("apt");
        for sub in ["sources", "lists/partial", "cache/archives/partial"] {
            std::fs::create_dir_all(apt_dir.join(sub))?;
        }
        std::fs::write(
            apt_dir.join("sources/base.sources"),
            format!(
                "Types: deb\nURIs: {mirror}\nSuites: {}\nComponents: {}\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n",
                deb.suite, deb.component
            ),
        )?;
        // A private apt configuration: the machine's own sources and state
        // stay untouched, and only this one suite is consulted.
        let apt_opts = [
            "-o".to_owned(),
            "Dir::Etc::sourcelist=/dev/null".to_owned(),
            "-o".to_owned(),
            format!("Dir::Etc::sourceparts={}", apt_dir.join("sources").display()),
            "-o".to_owned(),
            format!("Dir::State::Lists={}", apt_dir.join("lists").display()),
            "-o".to_owned(),
            format!("Dir::Cache={}", apt_dir.join("cache").display()),
            "-o".to_owned(),
            "APT::Sandbox::User=root".to_owned(),
        ];
        let opts = &apt_opts;
        // apt-get writes where it runs; a download killed half-way must
        // not be taken for the package next time.
        let partial = fresh_dir(&dir.join("partial"))?;
        let _dir = sh.push_dir(&partial);
        let update = cmd!(sh, "apt-get -q {opts...} update").quiet().ignore_status().output()?;
        if !update.status.success() {
            bail!(
                "cannot fetch {wanted}: `apt-get update` for suite {} at {mirror} failed:\n{}\n{override_hint}",
                deb.suite,
                String::from_utf8_lossy(&update.stderr).trim()
            );
        }
        let spec = format!("{}={}", deb.package, deb.version);
        let download = cmd!(sh, "apt-get -q {opts...} download {spec}").quiet().ignore_status().output()?;
        if !download.status.success() {
            bail!(
                "cannot fetch {wanted}: `apt-get download {spec}` failed:\n{}\n\
                 If the archive no longer has this version, change base.debian in xtask.toml, {override_hint}",
                String::from_utf8_lossy(&download.stderr).trim()
            );
        }
        let downloaded = partial.join(format!("{}_{}_all.deb", deb.package, deb.version.replace(':', "%3a")));
        std::fs::rename(&downloaded, &file)
            .with_context(|| format!("apt-get download did not write {}", downloaded.display()))?;
        stage.finish("downloaded");
    }
    let sha256 = sha256_file(&file)?;
    if sha256 != deb.sha256 {
        bail!(
            "{} has sha256 {sha256}, but base.debian.sha256 in xtask.toml says {} for {wanted}.\n\
             The file was changed or the archive serves a different build. Delete the file to fetch it again; \
             if the new package is intended, update base.debian.sha256; {override_hint}",
            file.display(),
            deb.sha256
        );
    }
    Ok(file)
}

/// The URI of the machine's main Debian archive: the first apt source of
/// type `deb` that is not a security suite.
pub fn machine_archive_uri() -> Option<String> {
    let mut texts = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/etc/apt/sources.list.d") {
        let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        paths.sort();
        for path in paths {
            let deb822 = path.extension().is_some_and(|e| e == "sources");
            if let Ok(text) = std::fs::read_to_string(&path) {
                texts.push((deb822, text));
            }
        }
    }
    if let Ok(text) = std::fs::read_to_string("/etc/apt/sources.list") {
        texts.push((false, text));
    }
    texts.iter().find_map(|(deb822, text)| archive_uri(text, *deb822))
}

fn archive_uri(text: &str, deb822: bool) -> Option<String> {
    let is_main = |suite: &str| !suite.ends_with("-security");
    if !deb822 {
        return text.lines().find_map(|line| {
            let mut words = line.split_whitespace().filter(|w| !w.starts_with('['));
            if words.next()? != "deb" {
                return None;
            }
            let (uri, suite) = (words.next()?, words.next()?);
            is_main(suite).then(|| uri.to_owned())
        });
    }
    text.split("\n\n").find_map(|stanza| {
        let field = |name: &str| {
            stanza.lines().find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(':')).map(str::trim))
        };
        let types = field("Types")?;
        let suites = field("Suites")?;
        let uri = field("URIs")?.split_whitespace().next()?;
        (types.split_whitespace().any(|t| t == "deb") && suites.split_whitespace().all(is_main)).then(|| uri.to_owned())
    })
}

/// Bumped when `import()` changes what the base commit holds, so that caches
/// made by an older import are not used (they stay on disk, unused).
/// 2: dot-files (.rustfmt.toml, .clippy.toml, .gitignore, ...) are kept.
const IMPORT_FORMAT: u32 = 2;

fn import(sh: &Shell, deb: &DebianSource, deb_file: &Path, version: &str, tag: &str, repo: &Path) -> Result<()> {
    let stage = Stage::start(format!("import Linux {version} into {}", repo.display()));
    let scratch = repo.with_extension("import");
    if scratch.exists() {
        std::fs::remove_dir_all(&scratch)?;
    }
    let (unpacked, src, git_dir) = (scratch.join("deb"), scratch.join("src"), scratch.join("repo.git"));
    std::fs::create_dir_all(&src)?;
    cmd!(sh, "dpkg-deb -x {deb_file} {unpacked}").quiet().run()?;
    let tarball = unpacked.join(&deb.tarball);
    if !tarball.is_file() {
        bail!("{} does not contain {} (base.debian.tarball in xtask.toml)", deb_file.display(), deb.tarball);
    }
    cmd!(sh, "tar -C {src} -xf {tarball}").quiet().run()?;
    std::fs::remove_dir_all(&unpacked)?;
    let tree = single_subdir(&src)?;
    let makefile = std::fs::read_to_string(tree.join("Makefile"))
        .with_context(|| format!("{} has no top-level Makefile: not a Linux tree", deb.tarball))?;
    check_version(&makefile, version, &format!("Debian {} {}", deb.package, deb.version), "base.debian in xtask.toml")?;
    drop_debian_ignore_block(&tree.join(".gitignore"))?;

    let _env: Vec<_> = IMPORT_ENV.iter().map(|(k, v)| sh.push_env(k, v)).collect();
    let git = ["-c", "core.autocrlf=false", "-c", "commit.gpgsign=false", "-c", "gc.auto=0"];
    let work_tree = format!("--work-tree={}", tree.display());
    let git_dir_arg = format!("--git-dir={}", git_dir.display());
    cmd!(sh, "git init -q --bare {git_dir}").quiet().run()?;
    // Forced: Debian's .gitignore ignores every dot-file (`.*`) without
    // upstream's exceptions, which would lose .rustfmt.toml and .clippy.toml;
    // the tarball holds nothing but sources.
    cmd!(sh, "git {git...} {git_dir_arg} {work_tree} add -A --force").quiet().run()?;
    let message = format!(
        "Linux {version}\n\nImported by cargo xtask from Debian's {} {} ({}).\n\
         The Debian packaging block at the end of .gitignore was dropped: it\nignores the whole tree.",
        deb.package, deb.version, deb.tarball
    );
    cmd!(sh, "git {git...} {git_dir_arg} {work_tree} commit -q -m {message}").quiet().run()?;
    let files = cmd!(sh, "git {git_dir_arg} ls-tree -r --name-only HEAD").quiet().read()?.lines().count();
    if files < 1000 {
        bail!("importing {} committed only {files} files; is a .gitignore hiding the tree?", deb.tarball);
    }
    cmd!(sh, "git {git_dir_arg} tag {tag}").quiet().run()?;
    std::fs::remove_file(git_dir.join("index")).ok();
    if let Some(parent) = repo.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::rename(&git_dir, repo)?;
    std::fs::remove_dir_all(&scratch)?;
    stage.finish(&format!("{files} files, tagged {tag}"));
    Ok(())
}

/// `dir`, emptied of what an interrupted run left there.
pub fn fresh_dir(dir: &Path) -> Result<PathBuf> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("cannot remove {}", dir.display()))?;
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(dir.to_path_buf())
}

fn single_subdir(dir: &Path) -> Result<PathBuf> {
    let entries: Vec<PathBuf> = std::fs::read_dir(dir)?.flatten().map(|e| e.path()).collect();
    match entries.as_slice() {
        [only] if only.is_dir() => Ok(only.clone()),
        _ => bail!("the source tarball does not unpack into a single directory"),
    }
}

/// Debian's tarball appends a block to the top-level .gitignore that
/// ignores everything but debian/; with it `git add -A` would commit
/// nothing and new files would silently stay out of patches.
fn drop_debian_ignore_block(path: &Path) -> Result<()> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    if let Some(kept) = without_debian_block(&text) {
        std::fs::write(path, kept)?;
    }
    Ok(())
}

fn without_debian_block(text: &str) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    let marker = lines.iter().position(|l| l.starts_with("# Debian packaging"))?;
    // The block opens with a lone "#" line and blank lines may precede it.
    let mut start = marker;
    while start > 0 && (lines[start - 1] == "#" || lines[start - 1].trim().is_empty()) {
        start -= 1;
    }
    let mut kept = lines[..start].join("\n");
    kept.push('\n');
    Some(kept)
}

fn check_version(makefile: &str, wanted: &str, what: &str, where_set: &str) -> Result<()> {
    let var = |name: &str| {
        makefile.lines().find_map(|l| {
            let (k, v) = l.split_once('=')?;
            (k.trim() == name).then(|| v.trim().to_owned())
        })
    };
    let found = match (var("VERSION"), var("PATCHLEVEL"), var("SUBLEVEL")) {
        (Some(v), Some(p), Some(s)) if s == "0" || s.is_empty() => format!("{v}.{p}"),
        (Some(v), Some(p), Some(s)) => format!("{v}.{p}.{s}"),
        _ => bail!("{what}: the Makefile has no VERSION/PATCHLEVEL/SUBLEVEL: not a Linux tree"),
    };
    let wanted_norm = wanted.strip_suffix(".0").unwrap_or(wanted);
    if found != wanted_norm {
        bail!(
            "{what} is Linux {found}, but base.version in xtask.toml is {wanted}: \
             choose the Linux {wanted} base in {where_set}, or change base.version if the series moved"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debian_block_is_dropped_and_the_rest_kept() {
        let text = "*.o\n# rustc error message long types\n*.long-type-*.txt\n\n# bc\n!kernel/time/timeconst.bc\n\n#\n# Debian packaging: ignore everything at the top level, since it isn't\n# included in our repository\n#\n/*\n!/debian/\n";
        assert_eq!(
            without_debian_block(text).unwrap(),
            "*.o\n# rustc error message long types\n*.long-type-*.txt\n\n# bc\n!kernel/time/timeconst.bc\n"
        );
        assert_eq!(without_debian_block("*.o\n"), None);
    }

    #[test]
    fn archive_uri_skips_security_suites() {
        let deb822 = "Types: deb\nURIs: http://security.example/debian-security\nSuites: bookworm-security\nComponents: main\n\n\
                      Types: deb\n# comment\nURIs: http://archive.example/debian\nSuites: bookworm bookworm-updates\nComponents: main\n";
        assert_eq!(archive_uri(deb822, true).as_deref(), Some("http://archive.example/debian"));
        let one_line = "deb http://security.example/ bookworm-security main\ndeb [arch=amd64] http://archive.example/debian bookworm main\n";
        assert_eq!(archive_uri(one_line, false).as_deref(), Some("http://archive.example/debian"));
        assert_eq!(archive_uri("# nothing\n", false), None);
    }

    #[test]
    fn a_cached_package_with_another_checksum_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let deb = DebianSource {
            package: "linux-source-7.3".into(),
            version: "7.3.4-1~bpo13+1".into(),
            suite: "trixie-backports".into(),
            component: "main".into(),
            sha256: "703e369ddd4cce971452f5a593ee55df3a5c10c83caf0fa0df039633ed181ee3".into(),
            tarball: "usr/src/linux-source-7.3.tar.xz".into(),
            mirror: None,
        };
        let name = "linux-source-7.3_7.3.4-1~bpo13+1";
        std::fs::write(dir.path().join(format!("{name}_all.deb")), "not the package\n").unwrap();
        let sh = Shell::new().unwrap();
        let err = fetch_deb(&sh, &deb, dir.path(), name, "7.3.4").unwrap_err();
        insta::assert_snapshot!(err.to_string().replace(&dir.path().display().to_string(), "CACHE"));
    }

    #[test]
    fn version_mismatch_names_both_versions() {
        let makefile = "VERSION = 7\nPATCHLEVEL = 2\nSUBLEVEL = 0\nEXTRAVERSION =\n";
        check_version(makefile, "7.2", "tree", "base.git").unwrap();
        let err = check_version(makefile, "7.3.4", "/src/linux at `v7.2`", "--base-git/--base-ref").unwrap_err();
        insta::assert_snapshot!(err.to_string());
    }
}
