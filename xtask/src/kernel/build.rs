//! `cargo xtask build`, and the kernel build every command starts from:
//! the profile's kconfig fragments become `.config` in an out-of-tree build
//! directory, from the Kconfig defaults (olddefconfig) or from allnoconfig,
//! and every requested option is checked to be there (alone, that is
//! `cargo xtask config`); then the boot image (bzImage, or arm64's Image)
//! and modules are built with clang, Debian's rustc and bindgen, for the
//! profile's architecture: LLVM cross-compiles, C and Rust alike, with the
//! same toolchain.
//!
//! Either kernel: the series (`work/linux`, built in `work/build/PROFILE`)
//! or the base alone (`work/base/linux`, built in `work/build/PROFILE-base`),
//! which lacks the options the series adds. Every object includes the
//! build's autoconf.h, which those options change, so ccache cannot share
//! objects between the two builds; it shares each with the same build in
//! other clones, since `CCACHE_BASEDIR` makes the paths relative and the
//! layout under `work/` is the same in every clone.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::{bail, Context, Result};
use xshell::Shell;

use crate::{
    kernel::{
        apply::{self, Mode},
        base::BaseFlags,
        kconfig::{self, Request},
        worktree,
    },
    outcome::{Categorize, Failure},
    process,
    progress::{self, fmt_duration, Stage},
    project::{Kernel, Project},
    setup::{self, Need},
    toolchain::{jobs, libclang_dir, toolchain_vars},
    xtask_toml::{Arch, KconfigStart, Profile},
};

/// Kept in the build directory: the request its `.config` was made from.
const REQUEST_FILE: &str = "xtask-request.config";
/// The request as `make allnoconfig` reads it (KCONFIG_ALLCONFIG).
const ALLCONFIG_FILE: &str = "xtask-allconfig.config";

#[derive(clap::Args, Debug)]
pub struct Build {
    /// Profile from xtask.toml.
    #[arg(long, short, default_value = "default")]
    pub profile: String,
    /// Which kernel: the series applied to the base, or the base alone.
    #[arg(long, value_enum, default_value_t)]
    pub kernel: Kernel,
    #[command(flatten)]
    pub base: BaseFlags,
}

impl Build {
    pub fn run(self, sh: &Shell, project: &Project) -> Result<()> {
        let profile = project.config.profile(&self.profile)?;
        setup::ensure(sh, project, Need::Build, profile.arch)?;
        let image = Kbuild::new(project, &profile, self.kernel)?.apply_and_build(sh, &self.base)?;
        progress::print(&format!("{}\n", image.display()))?;
        Ok(())
    }
}

/// One profile's out-of-tree kernel build.
pub struct Kbuild<'a> {
    project: &'a Project,
    profile: &'a Profile,
    /// Names the build in stages and log files: the profile, `-base` for
    /// the base kernel.
    label: String,
    source: Source,
    tree: PathBuf,
    out: PathBuf,
    /// The merged fragments of the profile.
    request: Request,
    /// Whether the C compiler goes through ccache (toolchain.ccache).
    ccache: bool,
}

/// What a build compiles, which decides the options its `.config` may lack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    /// The series: its Kconfig defines every option a profile asks for, so
    /// an option it does not know is a mistake in a fragment.
    Series,
    /// The base kernel, upstream: it lacks the options the series adds.
    /// Those are left out of its `.config`, and said so; every other one
    /// must be there as for the series.
    Base,
    /// A commit inside the series (the prefixes check-series builds): it
    /// lacks the options later patches add, left out as for the base.
    Prefix,
}

impl Source {
    /// How the output names a tree that lacks options, or `None` when it
    /// must have them all.
    fn lacking(self) -> Option<&'static str> {
        match self {
            Source::Series => None,
            Source::Base => Some("the base kernel"),
            Source::Prefix => Some("this commit of the series"),
        }
    }
}

impl<'a> Kbuild<'a> {
    /// The profile's build of `kernel`, in its own directory.
    pub fn new(project: &'a Project, profile: &'a Profile, kernel: Kernel) -> Result<Kbuild<'a>> {
        let label = kernel.label(&profile.name);
        let kbuild = Kbuild::in_dir(project, profile, project.build_dir(&label))?;
        Ok(match kernel {
            Kernel::Series => kbuild,
            Kernel::Base => Kbuild { label, source: Source::Base, tree: project.base_tree_dir(), ..kbuild },
        })
    }

    /// The profile built in another directory than its own.
    pub fn in_dir(project: &'a Project, profile: &'a Profile, out: PathBuf) -> Result<Kbuild<'a>> {
        let request =
            Request::from_files(&project.kconfigs_dir(), &profile.fragments).categorize(Failure::Configuration)?;
        let ccache = project.config.toolchain.ccache;
        let label = profile.name.clone();
        Ok(Kbuild { project, profile, label, source: Source::Series, tree: project.tree_dir(), out, request, ccache })
    }

    /// The same build compiling every object: what a build from scratch
    /// costs on a machine without a warm cache.
    pub fn without_ccache(self) -> Kbuild<'a> {
        Kbuild { ccache: false, ..self }
    }

    /// The profile in another kernel tree, a prefix of the series, which
    /// may lack options the series adds.
    pub fn of_prefix(project: &'a Project, profile: &'a Profile, tree: PathBuf, out: PathBuf) -> Result<Kbuild<'a>> {
        Ok(Kbuild { tree, source: Source::Prefix, ..Kbuild::in_dir(project, profile, out)? })
    }

    /// The series applied (local work kept), the tree of the kernel made
    /// ready, the profile configured and built: what build, test and bench
    /// start from, for either kernel. Returns the boot image.
    pub fn apply_and_build(&self, sh: &Shell, base: &BaseFlags) -> Result<PathBuf> {
        apply::run(sh, self.project, base, Mode::KeepLocalWork)?;
        self.prepare_tree(sh)?;
        self.configure()?;
        self.build()
    }

    /// For the base kernel, its worktree at the base commit the apply stage
    /// tagged in the work tree (made, or checked to be unchanged). The
    /// series' work tree is the apply stage's.
    pub fn prepare_tree(&self, sh: &Shell) -> Result<()> {
        if self.source == Source::Base {
            worktree::base(sh, self.project)?;
        }
        Ok(())
    }

    /// Writes `.config` from the profile's fragments with olddefconfig or
    /// allnoconfig (the profile's kconfig-start), unless the build
    /// directory already has a checked `.config` for the same request
    /// and start; fails listing every requested option that did not
    /// survive. A tree that predates options of the series is asked only
    /// for those its Kconfig defines, and the stage names the others.
    pub fn configure(&self) -> Result<Duration> {
        let name = &self.profile.name;
        let mut stage = Stage::start(format!("config [{}]", self.label));
        if !self.tree.join("Makefile").exists() {
            bail!("{} has no kernel tree yet: run `cargo xtask apply` first", self.tree.display());
        }
        let (request, lacking) = self.request()?;
        let start = self.profile.kconfig_start;
        let target = start.make_target();
        let wanted = request.to_config();
        // Also a change of start makes a new .config.
        let stamped = format!("# {target}\n{wanted}");
        let dot_config = self.out.join(".config");
        let stamp = self.out.join(REQUEST_FILE);
        let unchanged = std::fs::read_to_string(&stamp).is_ok_and(|old| old == stamped)
            && std::fs::read_to_string(&dot_config).is_ok_and(|c| request.dropped(&c).is_empty());
        if unchanged {
            return Ok(stage.finish(&format!("unchanged{lacking}")));
        }
        std::fs::create_dir_all(&self.out)?;
        std::fs::remove_file(&stamp).ok();
        let log = self.log_path(match self.source {
            Source::Series | Source::Base => "config",
            Source::Prefix => "config-bisect",
        });
        let make = match start {
            KconfigStart::Defaults => {
                std::fs::write(&dot_config, &wanted)?;
                self.make(&[target])
            }
            KconfigStart::Allnoconfig => {
                let allconfig = self.out.join(ALLCONFIG_FILE);
                std::fs::write(&allconfig, &wanted)?;
                self.make(&[&format!("KCONFIG_ALLCONFIG={}", allconfig.display()), target])
            }
        };
        let ok = process::run_logged(make, &log, &mut stage, |l| Some(l.to_owned()))?;
        if !ok {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            return Err(anyhow::anyhow!(
                "make {target} failed for profile {name} in {}:\n{}\nfull log: {}",
                self.project.rel(&self.tree).display(),
                process::first_errors(&text, 20).join("\n"),
                log.display()
            ))
            .categorize(Failure::BuildFailed);
        }
        self.check_config(&request).categorize(Failure::Configuration)?;
        std::fs::write(&stamp, &stamped)?;
        Ok(stage.finish(&format!("{} options requested, all present (from {target}){lacking}", wanted.lines().count())))
    }

    /// The options this build asks for, and for a tree that lacks some of
    /// the requested ones, the note that names them (empty otherwise).
    fn request(&self) -> Result<(Request, String)> {
        let Some(tree_name) = self.source.lacking() else {
            return Ok((self.request.clone(), String::new()));
        };
        let (defined, absent) = self.request.defined_in(&self.tree)?;
        Ok((defined, lacking_note(tree_name, &absent)))
    }

    /// Fails naming each option of `request` that `.config` lacks, as
    /// unknown (no Kconfig defines it) or with unmet dependencies.
    fn check_config(&self, request: &Request) -> Result<()> {
        let dot_config = self.out.join(".config");
        let text =
            std::fs::read_to_string(&dot_config).with_context(|| format!("cannot read {}", dot_config.display()))?;
        let dropped = request.dropped(&text);
        if dropped.is_empty() {
            return Ok(());
        }
        let names: Vec<&str> = dropped.iter().map(|d| d.name.as_str()).collect();
        let unknown = kconfig::unknown_symbols(&self.tree, &names)?;
        let (unknown, unmet): (Vec<_>, Vec<_>) = dropped.iter().partition(|d| unknown.contains(&d.name.as_str()));
        let mut msg = format!(
            "profile {}: {} requested option(s) did not survive {} in {}:",
            self.profile.name,
            dropped.len(),
            self.profile.kconfig_start.make_target(),
            dot_config.display()
        );
        if !unknown.is_empty() {
            let list: Vec<String> =
                unknown.iter().map(|d| format!("  {}={} ({})", d.name, d.wanted, d.origin)).collect();
            msg.push_str(&format!(
                "\n{}\nThese options are unknown: no Kconfig file of {} defines them. Check the spelling, or drop the request.",
                list.join("\n"),
                self.tree.display()
            ));
        }
        if !unmet.is_empty() {
            let list: Vec<String> = unmet.iter().map(|d| format!("  {d}")).collect();
            msg.push_str(&format!(
                "\n{}\nTheir dependencies are not met: enable those in the fragment too (see `depends on` in the \
                 option's Kconfig), or drop the request.",
                list.join("\n")
            ));
        }
        bail!(msg)
    }

    /// Builds the boot image and modules; returns the image's path.
    pub fn build(&self) -> Result<PathBuf> {
        self.build_with(&[], "build")
    }

    /// Builds the boot image and modules with extra make variables; `what`
    /// names the stage and its log. Returns the image's path.
    pub fn build_with(&self, vars: &[String], what: &str) -> Result<PathBuf> {
        let name = &self.profile.name;
        let mut stage = Stage::start(format!("{what} [{}]", self.label));
        let log = self.log_path(what);
        let mut objects = 0usize;
        let mut targets: Vec<&str> = vars.iter().map(String::as_str).collect();
        targets.extend([self.profile.arch.image_target(), "modules"]);
        let ok = process::run_logged(self.make(&targets), &log, &mut stage, |line| {
            let (kind, target) = line.trim_start().split_once(char::is_whitespace)?;
            let known = ["CC", "AS", "LD", "AR", "RUSTC", "BINDGEN", "HOSTCC", "MODPOST", "OBJCOPY"];
            let kind = kind.trim_end_matches(['[', 'M', ']']);
            known.iter().any(|k| kind.starts_with(k)).then(|| {
                objects += 1;
                format!("{objects} steps, {} {}", kind, target.trim())
            })
        })?;
        if !ok {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            return Err(anyhow::anyhow!(
                "the kernel build of profile {name} in {} failed after {}:\n{}\nfull log: {}",
                self.project.rel(&self.tree).display(),
                fmt_duration(stage.elapsed()),
                process::first_errors(&text, 25).join("\n"),
                log.display()
            ))
            .categorize(Failure::BuildFailed);
        }
        // make runs syncconfig itself when a Kconfig file changed since.
        let (request, _) = self.request()?;
        self.check_config(&request).categorize(Failure::Configuration)?;
        let image = self.out.join(self.profile.arch.image_path());
        if !image.is_file() {
            bail!("make succeeded but {} is missing; see {}", image.display(), log.display());
        }
        stage.finish(&format!("{} build steps, log {}", objects, self.project.rel(&log).display()));
        Ok(image)
    }

    pub fn log_path(&self, what: &str) -> PathBuf {
        self.project.log_dir().join(format!("{what}-{}.log", self.label))
    }

    pub fn arch(&self) -> Arch {
        self.profile.arch
    }

    pub fn out_dir(&self) -> &Path {
        &self.out
    }

    pub fn tree(&self) -> &Path {
        &self.tree
    }

    /// Names the build: the profile, `-base` for the base kernel.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// `make` in the work tree for this build directory, with the toolchain
    /// of xtask.toml.
    pub fn make(&self, targets: &[&str]) -> duct::Expression {
        let toolchain = &self.project.config.toolchain;
        let mut args: Vec<String> = vec![
            "-C".into(),
            self.tree.display().to_string(),
            format!("O={}", self.out.display()),
            format!("-j{}", jobs(toolchain)),
            format!("ARCH={}", self.profile.arch.kernel_name()),
        ];
        args.extend(toolchain_vars(toolchain, self.ccache));
        args.extend(self.profile.make_args.iter().cloned());
        args.extend(targets.iter().map(|t| t.to_string()));
        let mut cmd = duct::cmd("make", args);
        if let Some(dir) = libclang_dir(&toolchain.llvm) {
            cmd = cmd.env("LIBCLANG_PATH", dir);
        }
        // ccache keys on paths below the work directory relative to it, so
        // clones of the project at other places share cached objects.
        cmd.env("CCACHE_BASEDIR", self.project.work_dir()).env("CCACHE_NOHASHDIR", "true")
    }
}

/// `; not in WHERE: CONFIG_A, CONFIG_B` for the options a tree does not
/// define, which its `.config` goes without; empty when there are none.
fn lacking_note(tree_name: &str, absent: &[String]) -> String {
    match absent {
        [] => String::new(),
        names => format!("; not in {tree_name}: {}", names.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names of the options of `request`, in order.
    fn names(request: &Request) -> Vec<String> {
        request.to_config().lines().filter_map(crate::kernel::kconfig::tests::name_of).collect()
    }

    /// The default profile against a small tree whose Kconfig defines every
    /// option the profile asks for but the two the series adds, as a
    /// commit before them does.
    #[test]
    fn a_tree_before_the_series_goes_without_the_options_it_lacks() {
        let project = Project::load().unwrap();
        let profile = project.config.profile("default").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let (tree, out) = (dir.path().join("linux"), dir.path().join("build"));
        let series = Kbuild::new(&project, &profile, Kernel::Series).unwrap();
        let added = ["CONFIG_SAMPLE_RUST_DRIVER_PFNMAP", "CONFIG_TEST_VMF_INSERT_RANGE"];
        let defined: Vec<String> =
            names(&series.request).into_iter().filter(|n| !added.contains(&n.as_str())).collect();
        assert!(defined.len() > 20, "the profile asks for more than that: {defined:?}");
        std::fs::create_dir_all(tree.join("lib")).unwrap();
        let kconfig: String = defined.iter().map(|n| format!("config {}\n\tbool\n", &n["CONFIG_".len()..])).collect();
        std::fs::write(tree.join("lib/Kconfig.debug"), kconfig).unwrap();
        std::fs::create_dir_all(&out).unwrap();

        let prefix = Kbuild::of_prefix(&project, &profile, tree.clone(), out.clone()).unwrap();
        let (request, note) = prefix.request().unwrap();
        assert_eq!(note, format!("; not in this commit of the series: {}", added.join(", ")));
        assert_eq!(names(&request), defined);

        // The base kernel is such a tree, built in its own places.
        let base = Kbuild::new(&project, &profile, Kernel::Base).unwrap();
        assert_eq!(
            (base.label(), base.tree.as_path()),
            ("default-base", project.root.join("work/base/linux").as_path())
        );
        assert_eq!(base.out_dir(), project.root.join("work/build/default-base"));
        assert_eq!(base.log_path("build"), project.root.join("results/log/build-default-base.log"));
        let base = Kbuild { tree: tree.clone(), out: out.clone(), ..base };
        assert_eq!(
            base.request().unwrap(),
            (request.clone(), format!("; not in the base kernel: {}", added.join(", ")))
        );

        // What allnoconfig keeps of the request survives the check; an
        // option the tree defines but allnoconfig dropped does not.
        std::fs::write(out.join(".config"), request.to_config()).unwrap();
        prefix.check_config(&request).unwrap();
        std::fs::write(out.join(".config"), request.to_config().replace("CONFIG_GUP_TEST=y\n", "")).unwrap();
        let err = prefix.check_config(&request).unwrap_err();
        insta::assert_snapshot!(format!("{err:#}").replace(&dir.path().display().to_string(), "TMP"), @r"
        profile default: 1 requested option(s) did not survive allnoconfig in TMP/build/.config:
          CONFIG_GUP_TEST=y (kconfigs/mm-tests.config:5) ended up not set
        Their dependencies are not met: enable those in the fragment too (see `depends on` in the option's Kconfig), or drop the request.
        ");

        // The series' tree must define them all: there, they are unknown.
        let series = Kbuild { tree: tree.clone(), out: out.clone(), ..series };
        let (request, note) = series.request().unwrap();
        assert_eq!((names(&request).len(), note.as_str()), (defined.len() + 2, ""));
        let err = series.check_config(&request).unwrap_err();
        insta::assert_snapshot!(format!("{err:#}").replace(&dir.path().display().to_string(), "TMP"), @r"
        profile default: 3 requested option(s) did not survive allnoconfig in TMP/build/.config:
          CONFIG_SAMPLE_RUST_DRIVER_PFNMAP=y (kconfigs/rust.config:9)
          CONFIG_TEST_VMF_INSERT_RANGE=y (kconfigs/mm-tests.config:21)
        These options are unknown: no Kconfig file of TMP/linux defines them. Check the spelling, or drop the request.
          CONFIG_GUP_TEST=y (kconfigs/mm-tests.config:5) ended up not set
        Their dependencies are not met: enable those in the fragment too (see `depends on` in the option's Kconfig), or drop the request.
        ");
    }
}
