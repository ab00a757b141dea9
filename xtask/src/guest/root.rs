//! The user space of guests of another architecture than the host's.
//!
//! A guest of the host's architecture boots into the host's own root over
//! 9p, as vng does by default: its programs run there as they are. An
//! arm64 guest on an x86_64 host cannot run them, so it gets a Debian 12
//! root of its own architecture, made once into the user cache and shared
//! by every clone: Debian's packages (the same release as the host, so the
//! cross-compiled selftests link the same C library), nothing built by
//! hand.
//!
//! `debootstrap --foreign` downloads the packages and unpacks the required
//! ones; its second stage, which unpacks the rest and runs the maintainer
//! scripts, needs the root's own binaries to run (binfmt_misc, which a
//! container may not have, or a first boot). The guests need neither the
//! scripts nor a configured system, only the programs: xtask unpacks every
//! downloaded package itself (`dpkg-deb -x`) and writes the two files a
//! script would have (`/etc/passwd`, `/etc/group`, from base-passwd's
//! masters). vng's init then finds bash, udevd (for its
//! /dev/virtio-ports/) and `poweroff` (busybox's) as in any root.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use xshell::{cmd, Shell};

use crate::{
    guest::boot::ForeignRoot, kernel::base::machine_archive_uri, progress::Stage, project::Project, xtask_toml::Arch,
};

/// Debian release of the root: the host's, whose cross C library the
/// selftests are linked against.
const SUITE: &str = "bookworm";
/// What the root holds besides the minimal base: udevd, which vng's init
/// starts to create /dev/virtio-ports/, and busybox for `poweroff`, with
/// which it ends the guest (systemd's would bring systemd).
const INCLUDE: &str = "udev,busybox";
/// Written last into a finished root; a root made by another recipe is
/// made again.
const STAMP: &str = ".xtask-root";
/// Changes with what [`GuestRoot::make`] does after debootstrap.
const RECIPE_VERSION: u32 = 2;

pub struct GuestRoot {
    arch: Arch,
    dir: PathBuf,
}

impl GuestRoot {
    pub fn of(project: &Project, arch: Arch) -> GuestRoot {
        let dir = project.cache_dir().join("roots").join(format!("debian-{SUITE}-{}", arch.debian_name()));
        GuestRoot { arch, dir }
    }

    /// The root guests of `arch` need: none for the host's architecture.
    pub fn for_guests(project: &Project, arch: Arch) -> Option<GuestRoot> {
        arch.is_foreign().then(|| GuestRoot::of(project, arch))
    }

    /// The guest's view: this root, and `shared` (the project, which holds
    /// the programs the guest runs) at the same path as on the host.
    pub fn foreign<'a>(&'a self, shared: &'a Path) -> Result<ForeignRoot<'a>> {
        mount_point(&self.dir, shared)?;
        Ok(ForeignRoot { arch: self.arch, root: &self.dir, shared })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn recipe(&self) -> String {
        format!(
            "debootstrap --foreign --variant=minbase --include={INCLUDE} --arch={} {SUITE}; unpacked by xtask v{RECIPE_VERSION}\n",
            self.arch.debian_name()
        )
    }

    /// Whether the root is there, made by this recipe; if not, why.
    pub fn ready(&self) -> std::result::Result<(), String> {
        match std::fs::read_to_string(self.dir.join(STAMP)) {
            Ok(stamp) if stamp == self.recipe() => Ok(()),
            Ok(_) => Err(format!("{} was made by another recipe than this xtask's", self.dir.display())),
            Err(_) => Err(format!("no {} root in {} yet", self.arch, self.dir.display())),
        }
    }

    /// debootstraps the root from the machine's own Debian archive (~30 s,
    /// 224 MB), replacing one made by another recipe.
    pub fn make(&self, sh: &Shell) -> Result<()> {
        let stage = Stage::start(format!("guest root [{}]", self.arch));
        let Some(mirror) = machine_archive_uri() else {
            bail!(
                "no Debian archive in /etc/apt/sources.list(.d): debootstrap needs one to make the {} root",
                self.arch
            );
        };
        let partial = self.dir.with_extension("partial");
        for old in [&partial, &self.dir] {
            if old.exists() {
                std::fs::remove_dir_all(old).with_context(|| format!("cannot remove {}", old.display()))?;
            }
        }
        std::fs::create_dir_all(&partial)?;
        let arch = self.arch.debian_name();
        let include = format!("--include={INCLUDE}");
        let log = partial.with_extension("log");
        let output =
            cmd!(sh, "debootstrap --foreign --variant=minbase {include} --arch={arch} {SUITE} {partial} {mirror}")
                .quiet()
                .ignore_status()
                .output()?;
        std::fs::write(&log, [output.stdout.as_slice(), output.stderr.as_slice()].concat())?;
        if !output.status.success() {
            bail!("debootstrap of the {} guest root failed; see {}", self.arch, log.display());
        }
        unpack(sh, &partial)?;
        std::fs::write(partial.join(STAMP), self.recipe())?;
        std::fs::rename(&partial, &self.dir)?;
        stage.finish(&self.dir.display().to_string());
        Ok(())
    }
}

/// What the second stage of debootstrap would have left that the guests
/// need: every downloaded package unpacked, the users and groups, and
/// `poweroff`.
fn unpack(sh: &Shell, root: &Path) -> Result<()> {
    let archives = root.join("var/cache/apt/archives");
    let mut debs: Vec<PathBuf> = std::fs::read_dir(&archives)
        .with_context(|| format!("debootstrap left no {}", archives.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "deb"))
        .collect();
    debs.sort();
    for deb in &debs {
        cmd!(sh, "dpkg-deb -x {deb} {root}")
            .quiet()
            .run()
            .with_context(|| format!("cannot unpack {}", deb.display()))?;
    }
    for file in ["passwd", "group"] {
        let master = root.join(format!("usr/share/base-passwd/{file}.master"));
        std::fs::copy(&master, root.join("etc").join(file))
            .with_context(|| format!("cannot copy {}", master.display()))?;
    }
    // debootstrap links /proc to the host's where it cannot mount it; the
    // guest mounts its own there.
    let proc = root.join("proc");
    if proc.is_symlink() {
        std::fs::remove_file(&proc)?;
        std::fs::create_dir(&proc)?;
    }
    let poweroff = root.join("sbin/poweroff");
    if !poweroff.exists() {
        std::os::unix::fs::symlink("/bin/busybox", &poweroff)?;
    }
    Ok(())
}

/// The directory the guest mounts `shared` on: it must exist in the root,
/// which the guest sees read-only.
fn mount_point(root: &Path, shared: &Path) -> Result<()> {
    let dir = root.join(shared.strip_prefix("/").unwrap_or(shared));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))
}
