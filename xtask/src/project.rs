//! Where things are: the repository, its configuration, and the directories
//! xtask writes to.

use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::xtask_toml::{Config, BASE_SUFFIX};

/// Which kernel a build or a test run is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Kernel {
    /// The base with the series applied: the work tree, work/linux, with
    /// your edits.
    #[default]
    Series,
    /// The base alone, upstream without the series: work/base/linux.
    Base,
}

impl Kernel {
    /// What names a profile's build of this kernel: its build directory,
    /// its logs and its results (`default`, `default-base`).
    pub fn label(self, profile: &str) -> String {
        match self {
            Kernel::Series => profile.to_owned(),
            Kernel::Base => format!("{profile}{BASE_SUFFIX}"),
        }
    }

    /// The kernel of the build a label names: the name of a results
    /// directory, say.
    pub fn of_label(label: &str) -> Kernel {
        if label.ends_with(BASE_SUFFIX) {
            Kernel::Base
        } else {
            Kernel::Series
        }
    }
}

pub struct Project {
    pub root: PathBuf,
    pub config: Config,
}

/// The repository this xtask belongs to.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in a directory of the repository").to_path_buf()
}

impl Project {
    pub fn load() -> Result<Project> {
        let root = root();
        let config = Config::load(&root)?;
        Ok(Project { root, config })
    }

    pub fn patches_dir(&self) -> PathBuf {
        self.root.join("patches")
    }

    pub fn kconfigs_dir(&self) -> PathBuf {
        self.root.join("kconfigs")
    }

    /// Kernel work tree and build directories; outside target/ so that
    /// `cargo clean` never destroys kernel edits.
    pub fn work_dir(&self) -> PathBuf {
        self.root.join("work")
    }

    pub fn tree_dir(&self) -> PathBuf {
        self.work_dir().join("linux")
    }

    /// The base kernel without the series: xtask's worktree of the work
    /// tree's repository, at the base commit.
    pub fn base_tree_dir(&self) -> PathBuf {
        self.work_dir().join("base").join("linux")
    }

    pub fn build_dir(&self, profile: &str) -> PathBuf {
        self.work_dir().join("build").join(profile)
    }

    pub fn results_dir(&self) -> PathBuf {
        self.root.join("results")
    }

    pub fn log_dir(&self) -> PathBuf {
        self.root.join("results").join("log")
    }

    /// Downloads and imported base trees, shared by every clone of the
    /// project: `$XTASK_CACHE_DIR`, else `$XDG_CACHE_HOME/kernel-series-xtask`,
    /// else `~/.cache/kernel-series-xtask`.
    pub fn cache_dir(&self) -> PathBuf {
        if let Some(dir) = std::env::var_os("XTASK_CACHE_DIR") {
            return PathBuf::from(dir);
        }
        let xdg = std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .unwrap_or_else(|| home().join(".cache"));
        xdg.join("kernel-series-xtask")
    }

    /// Path relative to the repository root, for messages.
    pub fn rel<'a>(&self, path: &'a Path) -> &'a Path {
        path.strip_prefix(&self.root).unwrap_or(path)
    }
}

pub fn home() -> PathBuf {
    std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/root"))
}
