//! The base worktree on small real repositories: apply's fixture (a base
//! tagged `base/v1.0` and two patches) applied to a work tree, and the base
//! kernel's worktree next to it.

use super::*;
use crate::kernel::apply::tests::{fixture, git, Fixture};

const TAG: &str = "base/v1.0";

/// The fixture applied, and where its base worktree goes.
fn applied() -> (Fixture, PathBuf) {
    let f = fixture();
    f.apply(false).unwrap();
    let path = f.tree.parent().unwrap().join("base/linux");
    (f, path)
}

fn prepare(f: &Fixture, path: &Path) -> Result<Prepared> {
    at_tag(&f.sh, &f.tree, TAG, path)
}

/// The error text with the temporary directory made stable.
fn message(f: &Fixture, err: anyhow::Error) -> String {
    let tmp = f.tree.parent().unwrap().parent().unwrap().display().to_string();
    format!("{err:#}").replace(&tmp, "TMP")
}

#[test]
fn the_base_is_checked_out_detached_and_the_work_tree_left_alone() {
    let (f, path) = applied();
    // The developer's edit in the work tree, which must stay.
    std::fs::write(f.tree.join("lib.c"), "my edit\n").unwrap();
    let head = git(&f.tree, &["rev-parse", "HEAD"]);

    assert_eq!(prepare(&f, &path).unwrap(), Prepared::Created);
    assert_eq!(git(&path, &["rev-parse", "HEAD"]).trim(), f.base.commit);
    assert!(std::fs::read_to_string(path.join("lib.c")).unwrap().contains("\ntwo\n"), "the base, not the series");
    assert!(!path.join("new.c").exists());
    assert_eq!(git(&path, &["status", "--porcelain", "--branch"]), "## HEAD (no branch)\n");
    assert_eq!(std::fs::read_to_string(f.tree.join("lib.c")).unwrap(), "my edit\n");
    assert_eq!(git(&f.tree, &["rev-parse", "HEAD"]), head);
    assert_eq!(git(&f.tree, &["status", "--porcelain"]), " M lib.c\n");
}

#[test]
fn a_clean_worktree_at_the_base_is_reused() {
    let (f, path) = applied();
    prepare(&f, &path).unwrap();
    let listed = git(&f.tree, &["worktree", "list", "--porcelain"]);
    assert_eq!(prepare(&f, &path).unwrap(), Prepared::Reused);
    assert_eq!(git(&path, &["rev-parse", "HEAD"]).trim(), f.base.commit);
    assert_eq!(git(&f.tree, &["worktree", "list", "--porcelain"]), listed);
}

#[test]
fn edits_in_the_worktree_are_refused_and_kept() {
    let (f, path) = applied();
    prepare(&f, &path).unwrap();
    std::fs::write(path.join("lib.c"), "a fix tried on the base\n").unwrap();
    std::fs::write(path.join("notes.txt"), "mine\n").unwrap();

    let err = prepare(&f, &path).unwrap_err();
    assert_eq!(crate::outcome::exit_code(&err), std::process::ExitCode::from(7));
    insta::assert_snapshot!(message(&f, err), @r"
    configuration error: TMP/work/base/linux has uncommitted changes:
          lib.c
          notes.txt
    It is xtask's checkout of the base kernel, not a place for work: keep what you need from it, then remove it (`git -C TMP/work/linux worktree remove --force TMP/work/base/linux`, or `rm -rf TMP/work/base/linux` if that fails) and xtask makes it again.
    ");
    assert_eq!(std::fs::read_to_string(path.join("lib.c")).unwrap(), "a fix tried on the base\n");
    assert!(path.join("notes.txt").exists());
}

#[test]
fn commits_made_in_the_worktree_are_refused() {
    let (f, path) = applied();
    prepare(&f, &path).unwrap();
    std::fs::write(path.join("lib.c"), "a fix tried on the base\n").unwrap();
    git(&path, &["commit", "-q", "-a", "-m", "try a fix"]);
    let mine = git(&path, &["rev-parse", "HEAD"]);

    let err = message(&f, prepare(&f, &path).unwrap_err());
    let first = err.lines().next().unwrap();
    assert_eq!(
        first,
        format!(
            "configuration error: TMP/work/base/linux is at {} (try a fix), not at the base commit {} (base/v1.0).",
            &mine[..12],
            &f.base.commit[..12]
        )
    );
    assert_eq!(git(&path, &["rev-parse", "HEAD"]), mine);
}

#[test]
fn a_directory_that_is_not_the_worktree_is_refused() {
    let (f, path) = applied();
    std::fs::create_dir_all(&path).unwrap();
    std::fs::write(path.join("Makefile"), "# someone's tree\n").unwrap();
    let err = message(&f, prepare(&f, &path).unwrap_err());
    assert!(
        err.starts_with("configuration error: TMP/work/base/linux is not a git worktree of TMP/work/linux"),
        "{err}"
    );

    // A clone is a git tree, but not one xtask made or can vouch for.
    std::fs::remove_dir_all(&path).unwrap();
    git(f.tree.parent().unwrap(), &["clone", "-q", f.tree.to_str().unwrap(), path.to_str().unwrap()]);
    let err = message(&f, prepare(&f, &path).unwrap_err());
    assert!(err.contains("is a git tree, but not a worktree of TMP/work/linux's repository"), "{err}");
    assert!(path.join("Makefile").exists() || path.join("lib.c").exists());
}

/// An empty directory, and what a creation killed half-way leaves (a
/// partial checkout aside) or one removed by hand (a stale registration),
/// give way to a new worktree.
#[test]
fn leftovers_of_earlier_runs_give_way() {
    let (f, path) = applied();
    std::fs::create_dir_all(&path).unwrap();
    let partial = path.with_extension("partial");
    git(&f.tree, &["worktree", "add", "-q", "--detach", partial.to_str().unwrap(), &f.base.commit]);
    std::fs::remove_file(partial.join("lib.c")).unwrap();
    assert_eq!(prepare(&f, &path).unwrap(), Prepared::Created);
    assert!(!partial.exists());
    assert_eq!(prepare(&f, &path).unwrap(), Prepared::Reused);

    std::fs::remove_dir_all(&path).unwrap();
    assert_eq!(prepare(&f, &path).unwrap(), Prepared::Created);
    assert_eq!(git(&f.tree, &["worktree", "list", "--porcelain"]).matches("worktree ").count(), 2);
}

#[test]
fn without_the_tag_apply_is_asked_for() {
    let f = fixture();
    let path = f.tree.parent().unwrap().join("base/linux");
    let err = message(&f, prepare(&f, &path).unwrap_err());
    assert_eq!(err, "TMP/work/linux has no tag base/v1.0 naming the base commit: run `cargo xtask apply` first");
    f.apply(false).unwrap();
    git(&f.tree, &["tag", "-d", TAG]);
    let err = message(&f, prepare(&f, &path).unwrap_err());
    assert!(err.starts_with("TMP/work/linux has no tag base/v1.0"), "{err}");
    assert!(!path.exists());
}
