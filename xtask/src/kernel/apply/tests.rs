//! `apply` against small real git repositories made here: a base tree with
//! a tag, patches made with `git format-patch`, and a work tree to apply to.

use std::path::{Path, PathBuf};

use super::*;

const AUTHOR: &[(&str, &str)] = &[
    ("GIT_AUTHOR_NAME", "A U Thor"),
    ("GIT_AUTHOR_EMAIL", "author@example.org"),
    ("GIT_AUTHOR_DATE", "2024-01-01T00:00:00+0000"),
    ("GIT_COMMITTER_NAME", "A U Thor"),
    ("GIT_COMMITTER_EMAIL", "author@example.org"),
    ("GIT_COMMITTER_DATE", "2024-01-01T00:00:00+0000"),
];

pub(crate) struct Fixture {
    _dir: tempfile::TempDir,
    pub(crate) base: Base,
    pub(crate) patches: PathBuf,
    pub(crate) tree: PathBuf,
    pub(crate) sh: Shell,
}

pub(crate) fn git(dir: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .envs(AUTHOR.iter().copied())
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

const LINES: &str = "one\ntwo\nthree\nfour\nfive\nsix\nseven\neight\nnine\nten\n";

/// A base repository tagged `base/v1.0`, and two patches on top of it in
/// patches/: 0001 edits line two of lib.c, 0002 adds new.c.
pub(crate) fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let upstream = dir.path().join("upstream");
    std::fs::create_dir_all(&upstream).unwrap();
    git(&upstream, &["init", "-q", "-b", "master"]);
    std::fs::write(upstream.join("lib.c"), LINES).unwrap();
    git(&upstream, &["add", "-A"]);
    git(&upstream, &["commit", "-q", "-m", "base"]);
    let commit = git(&upstream, &["rev-parse", "HEAD"]).trim().to_owned();

    let dev = dir.path().join("dev");
    git(dir.path(), &["clone", "-q", upstream.to_str().unwrap(), "dev"]);
    std::fs::write(dev.join("lib.c"), LINES.replace("two", "TWO")).unwrap();
    git(&dev, &["commit", "-q", "-a", "-m", "lib: shout two\n\nSigned-off-by: A U Thor <author@example.org>"]);
    std::fs::write(dev.join("new.c"), "int x;\n").unwrap();
    git(&dev, &["add", "new.c"]);
    git(&dev, &["commit", "-q", "-m", "new: add x\n\nSigned-off-by: A U Thor <author@example.org>"]);
    let patches = dir.path().join("patches");
    git(&dev, &["format-patch", "-q", "-o", patches.to_str().unwrap(), "origin/master"]);
    std::fs::write(patches.join("series"), "0001-lib-shout-two.patch\n0002-new-add-x.patch\n").unwrap();

    let sh = Shell::new().unwrap();
    // The developer's own git configuration must not leak into the tests.
    sh.set_var("GIT_CONFIG_GLOBAL", "/dev/null");
    let base = Base {
        repo: upstream,
        commit,
        tag: "base/v1.0".into(),
        describe: "test base".into(),
        clone: CloneKind::Shared,
    };
    let tree = dir.path().join("work/linux");
    Fixture { _dir: dir, base, patches, tree, sh }
}

impl Fixture {
    pub(crate) fn apply(&self, force: bool) -> Result<Outcome> {
        self.apply_mode(if force { Mode::Force } else { Mode::Safe })
    }

    fn apply_mode(&self, mode: Mode) -> Result<Outcome> {
        let series = Series::load(&self.patches)?;
        apply(&self.sh, &self.base, &series, &self.tree, mode)
    }

    fn log(&self) -> String {
        git(&self.tree, &["log", "--format=%an <%ae> | %s", "base/v1.0..HEAD"])
    }

    /// The error text with the temporary directory made stable.
    fn err(&self, err: anyhow::Error) -> String {
        format!("{err:#}").replace(&self._dir.path().display().to_string(), "TMP")
    }
}

#[test]
fn clean_apply_keeps_authorship_and_a_rerun_does_nothing() {
    let f = fixture();
    assert_eq!(f.apply(false).unwrap(), Outcome::Applied { kept: 0, applied: 2 });
    assert_eq!(f.log(), "A U Thor <author@example.org> | new: add x\nA U Thor <author@example.org> | lib: shout two\n");
    assert_eq!(std::fs::read_to_string(f.tree.join("lib.c")).unwrap(), LINES.replace("two", "TWO"));
    let head = git(&f.tree, &["rev-parse", "HEAD"]);

    assert_eq!(f.apply(false).unwrap(), Outcome::UpToDate);
    assert_eq!(git(&f.tree, &["rev-parse", "HEAD"]), head);
}

#[test]
fn same_patches_give_the_same_commits_in_another_work_tree() {
    let f = fixture();
    f.apply(false).unwrap();
    let head = git(&f.tree, &["rev-parse", "HEAD"]);
    std::fs::remove_dir_all(&f.tree).unwrap();
    f.apply(false).unwrap();
    assert_eq!(git(&f.tree, &["rev-parse", "HEAD"]), head);
}

#[test]
fn an_edited_patch_is_reapplied_from_where_the_series_changed() {
    let f = fixture();
    f.apply(false).unwrap();
    let first = git(&f.tree, &["rev-parse", "HEAD~1"]);
    let path = f.patches.join("0002-new-add-x.patch");
    let text = std::fs::read_to_string(&path).unwrap().replace("int x;", "int y;");
    std::fs::write(&path, text).unwrap();

    assert_eq!(f.apply(false).unwrap(), Outcome::Applied { kept: 1, applied: 1 });
    assert_eq!(git(&f.tree, &["rev-parse", "HEAD~1"]), first);
    assert_eq!(std::fs::read_to_string(f.tree.join("new.c")).unwrap(), "int y;\n");
}

#[test]
fn a_conflicting_patch_names_the_patch_and_the_file() {
    let f = fixture();
    // A third patch whose context no longer matches: it edits line "TWO"
    // as it was before 0001 made it so.
    let dev = f._dir.path().join("dev");
    git(&dev, &["checkout", "-q", "-b", "stale", "origin/master"]);
    std::fs::write(dev.join("lib.c"), LINES.replace("two", "deux")).unwrap();
    git(&dev, &["commit", "-q", "-a", "-m", "lib: say two in French"]);
    let patch = git(&dev, &["format-patch", "-1", "--stdout", "HEAD"]);
    std::fs::write(f.patches.join("0003-lib-french.patch"), patch).unwrap();
    let series = f.patches.join("series");
    let text = std::fs::read_to_string(&series).unwrap();
    std::fs::write(&series, text + "0003-lib-french.patch\n").unwrap();

    let failed = f.apply(false).unwrap_err();
    assert_eq!(crate::outcome::exit_code(&failed), std::process::ExitCode::from(7));
    let err = f.err(failed);
    insta::assert_snapshot!(err);
    assert!(f.tree.join(".git/rebase-apply").exists(), "the am is left for the developer to resolve");

    // The stopped am is not thrown away by a plain re-run...
    let err = f.err(f.apply(false).unwrap_err());
    assert!(err.contains("a `git am` stopped"), "{err}");
    // ...and --force aborts it once the patch is fixed.
    std::fs::write(&series, "0001-lib-shout-two.patch\n0002-new-add-x.patch\n").unwrap();
    assert_eq!(f.apply(true).unwrap(), Outcome::UpToDate);
    assert!(!f.tree.join(".git/rebase-apply").exists());
}

#[test]
fn uncommitted_edits_are_refused_and_kept_with_force() {
    let f = fixture();
    f.apply(false).unwrap();
    std::fs::write(f.tree.join("lib.c"), "my edit\n").unwrap();
    std::fs::write(f.tree.join("untracked.c"), "my new file\n").unwrap();

    let err = f.err(f.apply(false).unwrap_err());
    insta::assert_snapshot!(err);
    assert_eq!(std::fs::read_to_string(f.tree.join("lib.c")).unwrap(), "my edit\n");

    f.apply(true).unwrap();
    assert_eq!(std::fs::read_to_string(f.tree.join("lib.c")).unwrap(), LINES.replace("two", "TWO"));
    let stash = git(&f.tree, &["stash", "show", "--include-untracked", "--name-only", "stash@{0}"]);
    assert_eq!(stash, "lib.c\nuntracked.c\n");
}

#[test]
fn commits_not_in_the_series_are_refused_and_backed_up_with_force() {
    let f = fixture();
    f.apply(false).unwrap();
    std::fs::write(f.tree.join("lib.c"), "work in progress\n").unwrap();
    git(&f.tree, &["commit", "-q", "-a", "-m", "wip: my work"]);
    let mine = git(&f.tree, &["rev-parse", "HEAD"]);

    let err = f.err(f.apply(false).unwrap_err());
    assert!(err.contains("has commits that are not in patches/series"), "{err}");
    assert!(err.contains("wip: my work"), "{err}");

    f.apply(true).unwrap();
    let backups = git(&f.tree, &["for-each-ref", "--format=%(objectname)", "refs/xtask/backup/"]);
    assert_eq!(backups, mine);
    assert_eq!(f.apply(false).unwrap(), Outcome::UpToDate);
}

#[test]
fn a_work_tree_from_another_base_is_refused() {
    let f = fixture();
    f.apply(false).unwrap();
    let other = Base { commit: git(&f.tree, &["rev-parse", "HEAD"]).trim().to_owned(), ..f.base.clone() };
    let series = Series::load(&f.patches).unwrap();
    let err = f.err(apply(&f.sh, &other, &series, &f.tree, Mode::Safe).unwrap_err());
    assert!(err.contains("was not made from the configured base (test base"), "{err}");
}

#[test]
fn a_build_keeps_local_work_until_the_series_changes() {
    let f = fixture();
    f.apply(false).unwrap();
    std::fs::write(f.tree.join("lib.c"), "my edit\n").unwrap();
    assert_eq!(f.apply_mode(Mode::KeepLocalWork).unwrap(), Outcome::LocalWork("1 uncommitted file(s)".into()));
    git(&f.tree, &["commit", "-q", "-a", "-m", "wip"]);
    assert_eq!(
        f.apply_mode(Mode::KeepLocalWork).unwrap(),
        Outcome::LocalWork("1 commit(s) not yet in patches/".into())
    );
    assert_eq!(std::fs::read_to_string(f.tree.join("lib.c")).unwrap(), "my edit\n");

    // Once patches/ changes, the tree has to be re-applied, and local work
    // is refused as by apply.
    let path = f.patches.join("0002-new-add-x.patch");
    let text = std::fs::read_to_string(&path).unwrap().replace("int x;", "int y;");
    std::fs::write(&path, text).unwrap();
    let err = f.err(f.apply_mode(Mode::KeepLocalWork).unwrap_err());
    assert!(err.contains("has commits that are not in patches/series"), "{err}");
}

/// A first apply whose `git clone` was killed (a wrapper in PATH runs the
/// real clone, then SIGKILLs itself before apply can check the tree out)
/// leaves no work tree that looks like one; the next apply starts over.
#[test]
fn a_work_tree_creation_killed_half_way_is_redone() {
    let f = fixture();
    let bin = f.tree.parent().unwrap().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let real_git = String::from_utf8(std::process::Command::new("which").arg("git").output().unwrap().stdout).unwrap();
    std::fs::write(
        bin.join("git"),
        format!("#!/bin/sh\ncase \"$1\" in clone) {0} \"$@\"; kill -9 $$;; esac\nexec {0} \"$@\"\n", real_git.trim()),
    )
    .unwrap();
    std::fs::set_permissions(bin.join("git"), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let path = f.sh.var("PATH").unwrap();
    f.sh.set_var("PATH", format!("{}:{path}", bin.display()));
    f.apply(false).unwrap_err();
    assert!(!f.tree.exists(), "a killed clone must not look like a work tree");

    f.sh.set_var("PATH", path);
    assert_eq!(f.apply(false).unwrap(), Outcome::Applied { kept: 0, applied: 2 });
    assert!(!f.tree.with_extension("partial").exists());
    assert_eq!(std::fs::read_to_string(f.tree.join("lib.c")).unwrap(), LINES.replace("two", "TWO"));
}
