//! format-patch and send against a small real kernel-shaped repository:
//! the real scripts/get_maintainer.pl of Linux 7.3 reads a MAINTAINERS file
//! made here, and the mails are captured through send-email's
//! --sendmail-cmd and applied with `git am` onto a fresh copy of the base.

use std::path::{Path, PathBuf};

use super::*;
use crate::{
    kernel::{
        apply::{self, tests::git},
        base::CloneKind,
    },
    mail::send::{self, SendOptions},
};

const SOB: &str = "Signed-off-by: A U Thor <author@example.org>";

const MAINTAINERS: &str = "\
LIB
M:\tLib Maintainer <lib@example.org>
R:\tLib Reviewer <review@example.org>
L:\tlib-list@example.org
S:\tMaintained
F:\tlib.c

NEW THINGS
M:\tNé Wthing <new@example.org>
L:\tnew-list@example.org
S:\tMaintained
F:\tnew.c
";

struct Kernel {
    dir: tempfile::TempDir,
    base: Base,
    patches: PathBuf,
    tree: PathBuf,
    sh: Shell,
}

/// A base with the files get_maintainer.pl looks for, two patches (lib.c
/// edited, new.c added), and the work tree with the series applied.
fn kernel() -> Kernel {
    let dir = tempfile::tempdir().unwrap();
    let upstream = dir.path().join("upstream");
    for d in ["Documentation", "arch", "include", "drivers", "fs", "init", "ipc", "kernel", "lib", "scripts"] {
        std::fs::create_dir_all(upstream.join(d)).unwrap();
        // git keeps no empty directories.
        std::fs::write(upstream.join(d).join("Kconfig"), "\n").unwrap();
    }
    for f in ["COPYING", "CREDITS", "Kbuild", "Makefile", "README"] {
        std::fs::write(upstream.join(f), "\n").unwrap();
    }
    std::fs::write(upstream.join("MAINTAINERS"), MAINTAINERS).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/get_maintainer.pl");
    std::fs::copy(script, upstream.join("scripts/get_maintainer.pl")).unwrap();
    std::fs::write(upstream.join("lib.c"), "one\ntwo\nthree\n").unwrap();
    git(&upstream, &["init", "-q", "-b", "master"]);
    git(&upstream, &["add", "-A"]);
    git(&upstream, &["commit", "-q", "-m", "base"]);
    let commit = git(&upstream, &["rev-parse", "HEAD"]).trim().to_owned();

    let dev = dir.path().join("dev");
    git(dir.path(), &["clone", "-q", upstream.to_str().unwrap(), "dev"]);
    std::fs::write(dev.join("lib.c"), "one\nTWO\nthree\n").unwrap();
    git(&dev, &["commit", "-q", "-a", "-m", &format!("lib: shout two\n\nLouder.\n\n{SOB}")]);
    std::fs::write(dev.join("new.c"), "int x;\n").unwrap();
    git(&dev, &["add", "new.c"]);
    git(&dev, &["commit", "-q", "-m", &format!("new: add x\n\nA new thing.\n\n{SOB}")]);
    let patches = dir.path().join("patches");
    git(&dev, &["format-patch", "-q", "-o", patches.to_str().unwrap(), "origin/master"]);
    std::fs::write(patches.join("series"), "0001-lib-shout-two.patch\n0002-new-add-x.patch\n").unwrap();
    std::fs::write(patches.join(COVER_LETTER), "Make things louder\n\nTwo small changes.\n").unwrap();

    let sh = Shell::new().unwrap();
    sh.set_var("GIT_CONFIG_GLOBAL", "/dev/null");
    for (k, v) in [
        ("GIT_AUTHOR_NAME", "A U Thor"),
        ("GIT_AUTHOR_EMAIL", "author@example.org"),
        ("GIT_COMMITTER_NAME", "A U Thor"),
        ("GIT_COMMITTER_EMAIL", "author@example.org"),
    ] {
        sh.set_var(k, v);
    }
    let base = Base {
        repo: upstream,
        commit,
        tag: "base/v1.0".into(),
        describe: "test base".into(),
        clone: CloneKind::Shared,
    };
    let tree = dir.path().join("work/linux");
    let series = Series::load(&patches).unwrap();
    apply::apply(&sh, &base, &series, &tree, apply::Mode::Safe).unwrap();
    Kernel { dir, base, patches, tree, sh }
}

impl Kernel {
    fn format(&self, version: u32) -> Result<Vec<Mail>> {
        let out = self.dir.path().join(format!("results/mail/v{version}"));
        let req =
            Request { base: &self.base, tree: &self.tree, patches: &self.patches, version, rfc: false, out: &out };
        format_series(&self.sh, &req)
    }

    /// Sends the mails of `mails` through a --sendmail-cmd that keeps each
    /// message in its own file; returns the captured messages in order.
    fn send(&self, mails: &[Mail], to_self: bool) -> Vec<String> {
        let captured = self.dir.path().join("captured");
        std::fs::create_dir_all(&captured).unwrap();
        let script = self.dir.path().join("capture.sh");
        std::fs::write(
            &script,
            format!("#!/bin/sh\nn=$(ls {0} | wc -l)\ncat > {0}/$(printf %02d $n).eml\n", captured.display()),
        )
        .unwrap();
        git(self.dir.path(), &["init", "-q", "unused"]);
        std::process::Command::new("chmod").arg("+x").arg(&script).status().unwrap();
        let files: Vec<PathBuf> = mails.iter().map(|m| m.path.clone()).collect();
        let options = SendOptions { to_self, dry_run: false, sendmail_cmd: Some(script.display().to_string()) };
        send::send(&self.sh, &files, &options).unwrap();
        let mut names: Vec<PathBuf> = std::fs::read_dir(&captured).unwrap().map(|e| e.unwrap().path()).collect();
        names.sort();
        names.iter().map(|p| std::fs::read_to_string(p).unwrap()).collect()
    }
}

/// A header of a mail, unfolded.
fn header(mail: &str, name: &str) -> Option<String> {
    let headers = mail.split("\n\n").next().unwrap().replace("\n ", " ").replace("\n\t", " ");
    headers.lines().find_map(|l| l.strip_prefix(&format!("{name}: ")).map(str::to_owned))
}

#[test]
fn mails_carry_numbering_recipients_and_base() {
    let k = kernel();
    let mails = k.format(1).unwrap();
    assert_eq!(mails.len(), 3);
    let cover = std::fs::read_to_string(&mails[0].path).unwrap();
    assert_eq!(header(&cover, "Subject").as_deref(), Some("[PATCH 0/2] Make things louder"));
    assert!(cover.contains("Two small changes.") && cover.contains("Based on test base"));
    assert!(cover.contains("lib: shout two") && cover.contains("2 files changed"), "shortlog and diffstat:\n{cover}");
    assert!(cover.contains(&format!("base-commit: {}", k.base.commit)));

    assert_eq!(mails[1].to, ["Lib Maintainer <lib@example.org>", "Lib Reviewer <review@example.org>"]);
    assert_eq!(mails[1].cc, ["lib-list@example.org"]);
    assert_eq!(mails[2].to, ["\"Né Wthing\" <new@example.org>"]);
    assert_eq!(mails[2].cc, ["new-list@example.org"]);
    assert_eq!(mails[0].to.len(), 3, "the cover letter goes to everyone: {:?}", mails[0].to);
    assert_eq!(mails[0].cc, ["lib-list@example.org", "new-list@example.org"]);
    let second = std::fs::read_to_string(&mails[2].path).unwrap();
    assert_eq!(header(&second, "Subject").as_deref(), Some("[PATCH 2/2] new: add x"));
    assert_eq!(header(&second, "To").as_deref(), Some("=?UTF-8?q?N=C3=A9_Wthing?= <new@example.org>"));

    let kept = k.patches.join("versions/v1");
    assert_eq!(
        std::fs::read_to_string(kept.join("series")).unwrap(),
        "0001-lib-shout-two.patch\n0002-new-add-x.patch\n"
    );
}

#[test]
fn sent_mails_thread_under_the_cover_letter_and_apply_onto_the_base() {
    let k = kernel();
    let mails = k.format(1).unwrap();
    let sent = k.send(&mails, false);
    assert_eq!(sent.len(), 3);
    let cover_id = header(&sent[0], "Message-ID").or_else(|| header(&sent[0], "Message-Id")).unwrap();
    for mail in &sent[1..] {
        assert_eq!(header(mail, "In-Reply-To"), Some(cover_id.clone()), "{mail}");
    }
    assert!(header(&sent[1], "To").unwrap().contains("lib@example.org"));
    assert!(header(&sent[1], "Cc").unwrap().contains("lib-list@example.org"));
    assert!(!sent[1].contains("new-list@example.org"));

    let fresh = k.dir.path().join("fresh");
    git(k.dir.path(), &["clone", "-q", k.base.repo.to_str().unwrap(), "fresh"]);
    for (i, mail) in sent[1..].iter().enumerate() {
        let file = k.dir.path().join(format!("sent-{i}.eml"));
        std::fs::write(&file, mail).unwrap();
        git(&fresh, &["am", "-q", file.to_str().unwrap()]);
    }
    assert_eq!(std::fs::read_to_string(fresh.join("lib.c")).unwrap(), "one\nTWO\nthree\n");
    assert_eq!(std::fs::read_to_string(fresh.join("new.c")).unwrap(), "int x;\n");
    assert_eq!(git(&fresh, &["log", "-1", "--format=%s"]).trim(), "new: add x");
}

#[test]
fn to_self_drops_every_other_recipient() {
    let k = kernel();
    let mails = k.format(1).unwrap();
    for (key, value) in
        [("GIT_CONFIG_COUNT", "1"), ("GIT_CONFIG_KEY_0", "user.email"), ("GIT_CONFIG_VALUE_0", "me@example.org")]
    {
        k.sh.set_var(key, value);
    }
    let sent = k.send(&mails, true);
    assert_eq!(sent.len(), 3);
    for mail in &sent {
        assert_eq!(header(mail, "To").as_deref(), Some("me@example.org"));
        assert_eq!(header(mail, "Cc"), None, "{mail}");
    }
}

#[test]
fn dry_run_shows_recipients_and_sends_nothing() {
    let k = kernel();
    let mails = k.format(1).unwrap();
    let files: Vec<PathBuf> = mails.iter().map(|m| m.path.clone()).collect();
    let report = send::send(&k.sh, &files, &SendOptions { to_self: false, dry_run: true, sendmail_cmd: None }).unwrap();
    assert!(report.contains("Subject: [PATCH 1/2] lib: shout two"), "{report}");
    assert!(report.contains("lib@example.org") && report.contains("lib-list@example.org"), "{report}");
}

#[test]
fn version_two_has_a_range_diff_against_version_one() {
    let k = kernel();
    k.format(1).unwrap();
    std::fs::write(k.tree.join("new.c"), "int x = 2;\n").unwrap();
    git(&k.tree, &["commit", "-q", "-a", "--amend", "--no-edit"]);
    crate::kernel::export::export(&k.sh, &k.base, &k.tree, &k.patches).unwrap();
    let mails = k.format(2).unwrap();
    let cover = std::fs::read_to_string(&mails[0].path).unwrap();
    assert_eq!(header(&cover, "Subject").as_deref(), Some("[PATCH v2 0/2] Make things louder"));
    assert!(cover.contains("Range-diff against v1:"), "{cover}");
    assert!(cover.contains("+int x = 2;"), "{cover}");
}

#[test]
fn unknown_previous_version_is_refused() {
    let k = kernel();
    let err = format!("{:#}", k.format(3).unwrap_err());
    assert!(err.contains("unknown previous version v2"), "{err}");
}

#[test]
fn a_patch_without_signed_off_by_is_named() {
    let k = kernel();
    git(&k.tree, &["commit", "-q", "--amend", "-m", "new: add x\n\nNo sign-off."]);
    crate::kernel::export::export(&k.sh, &k.base, &k.tree, &k.patches).unwrap();
    let err = format!("{:#}", k.format(1).unwrap_err());
    assert!(err.contains("patches/0002-new-add-x.patch: no `Signed-off-by: A U Thor <author@example.org>`"), "{err}");
}

#[test]
fn an_empty_cover_letter_subject_is_refused() {
    let k = kernel();
    std::fs::write(k.patches.join(COVER_LETTER), "\nbody\n").unwrap();
    let err = format!("{:#}", k.format(1).unwrap_err());
    assert!(err.contains("cover-letter: the first line is the cover letter's subject and it is empty"), "{err}");
}

#[test]
fn non_ascii_names_are_encoded() {
    assert_eq!(encode_address("Alice Ryhl <a@example.org>"), "Alice Ryhl <a@example.org>");
    assert_eq!(encode_address("\"Liam R. Howlett\" <l@example.org>"), "\"Liam R. Howlett\" <l@example.org>");
    assert_eq!(
        encode_address("\"Arve Hjønnevåg\" <a@example.org>"),
        "=?UTF-8?q?Arve_Hj=C3=B8nnev=C3=A5g?= <a@example.org>"
    );
    assert_eq!(encode_address("linux-mm@kvack.org"), "linux-mm@kvack.org");
}

#[test]
fn only_a_base_without_history_gets_the_base_commit_warning() {
    let k = kernel();
    assert_eq!(base_commit_warning(&k.base), None);
    let imported =
        Base { clone: CloneKind::Local, describe: "Debian linux-source-7.3 7.3.4-1~bpo13+1".into(), ..k.base };
    let warning = base_commit_warning(&imported).unwrap();
    assert!(
        warning.contains("is Debian linux-source-7.3 7.3.4-1~bpo13+1, imported by xtask: it exists nowhere upstream"),
        "{warning}"
    );
}
