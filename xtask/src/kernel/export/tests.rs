//! `export` against the small real git repositories of apply's tests.

use super::*;
use crate::kernel::apply::{
    tests::{fixture, git, Fixture},
    Outcome,
};

fn read(f: &Fixture, name: &str) -> String {
    std::fs::read_to_string(f.patches.join(name)).unwrap()
}

fn export_fixture(f: &Fixture) -> Result<Exported> {
    export(&f.sh, &f.base, &f.tree, &f.patches)
}

const P1: &str = "0001-lib-shout-two.patch";
const P2: &str = "0002-new-add-x.patch";

#[test]
fn round_trip_changes_only_the_edited_patch() {
    let f = fixture();
    f.apply(false).unwrap();
    // The fixture's patches come from a plain `git format-patch`; the first
    // export settles them into the fixed format, the second finds nothing.
    export_fixture(&f).unwrap();
    let first = (read(&f, P1), read(&f, P2));
    assert_eq!(export_fixture(&f).unwrap(), Exported { unchanged: 2, ..Exported::default() });

    std::fs::write(f.tree.join("new.c"), "int x = 1;\n").unwrap();
    git(&f.tree, &["commit", "-q", "-a", "--amend", "--no-edit"]);
    let exported = export_fixture(&f).unwrap();
    assert_eq!(exported, Exported { written: vec![P2.into()], removed: vec![], unchanged: 1 });
    assert_eq!(read(&f, P1), first.0, "the untouched patch kept its bytes");
    assert_ne!(read(&f, P2), first.1);
    assert!(read(&f, P2).contains("+int x = 1;"));
    assert_eq!(read(&f, "series"), format!("{P1}\n{P2}\n"));

    // The tree is what patches/ says: apply has nothing to do.
    assert_eq!(f.apply(false).unwrap(), Outcome::UpToDate);
}

#[test]
fn a_new_commit_is_added_and_a_dropped_one_removed() {
    let f = fixture();
    f.apply(false).unwrap();
    std::fs::write(f.patches.join("series"), format!("# the series\n{P1}\n{P2}\n")).unwrap();
    f.apply(false).unwrap();
    std::fs::write(f.tree.join("third.c"), "int y;\n").unwrap();
    git(&f.tree, &["add", "third.c"]);
    git(&f.tree, &["commit", "-q", "-m", "third: add y\n\nSigned-off-by: A U Thor <author@example.org>"]);
    let exported = export_fixture(&f).unwrap();
    assert!(exported.written.contains(&"0003-third-add-y.patch".to_owned()));
    assert_eq!(read(&f, "series"), format!("# the series\n{P1}\n{P2}\n0003-third-add-y.patch\n"));

    git(&f.tree, &["reset", "-q", "--hard", "HEAD~2"]);
    std::fs::write(f.tree.join("third.c"), "int y;\n").unwrap();
    git(&f.tree, &["add", "third.c"]);
    git(&f.tree, &["commit", "-q", "-m", "third: add y\n\nSigned-off-by: A U Thor <author@example.org>"]);
    let exported = export_fixture(&f).unwrap();
    assert_eq!(exported.removed, [P2.to_owned(), "0003-third-add-y.patch".to_owned()]);
    assert_eq!(exported.written, ["0002-third-add-y.patch".to_owned()]);
    assert!(!f.patches.join(P2).exists());
    assert_eq!(read(&f, "series"), format!("# the series\n{P1}\n0002-third-add-y.patch\n"));
}

#[test]
fn uncommitted_edits_are_refused_and_nothing_is_written() {
    let f = fixture();
    f.apply(false).unwrap();
    let before = read(&f, P1);
    std::fs::write(f.tree.join("lib.c"), "edited\n").unwrap();
    let err = format!("{:#}", export_fixture(&f).unwrap_err());
    assert!(err.contains("uncommitted changes") && err.contains("lib.c"), "{err}");
    assert_eq!(read(&f, P1), before);
    assert_eq!(std::fs::read_to_string(f.tree.join("lib.c")).unwrap(), "edited\n");
}

#[test]
fn an_edit_in_patches_that_was_not_applied_is_not_overwritten() {
    let f = fixture();
    f.apply(false).unwrap();
    let edited = read(&f, P2).replace("int x;", "int x, z;");
    std::fs::write(f.patches.join(P2), &edited).unwrap();
    let err = format!("{:#}", export_fixture(&f).unwrap_err());
    assert!(err.contains("patches/ changed since the last apply") && err.contains(P2), "{err}");
    assert_eq!(read(&f, P2), edited);
}

#[test]
fn a_tree_on_another_base_is_refused() {
    let f = fixture();
    f.apply(false).unwrap();
    git(&f.tree, &["tag", "-f", "base/v1.0", "HEAD"]);
    let err = format!("{:#}", export_fixture(&f).unwrap_err());
    assert!(err.contains("not made from the configured base"), "{err}");
}
