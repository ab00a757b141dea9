//! `cargo xtask config`: the `.config` of a profile, written from its
//! fragments and checked after olddefconfig, without building; the stage
//! itself is [`Kbuild::configure`], which every build runs first.

use anyhow::Result;
use xshell::Shell;

use crate::{
    kernel::build::Kbuild,
    project::{Kernel, Project},
    setup::{self, Need},
};

#[derive(clap::Args, Debug)]
pub struct Configure {
    /// Profile from xtask.toml.
    #[arg(long, short, default_value = "default")]
    pub profile: String,
    /// Which kernel: the series applied to the base, or the base alone.
    #[arg(long, value_enum, default_value_t)]
    pub kernel: Kernel,
}

impl Configure {
    pub fn run(&self, sh: &Shell, project: &Project) -> Result<()> {
        let profile = project.config.profile(&self.profile)?;
        setup::ensure(sh, project, Need::Build, profile.arch)?;
        let kbuild = Kbuild::new(project, &profile, self.kernel)?;
        kbuild.prepare_tree(sh)?;
        kbuild.configure()?;
        Ok(())
    }
}
