//! `cargo xtask check`: what Rust-for-Linux maintainers run on Rust patches
//! before they take them: `make rustfmtcheck` over the tree and a build with
//! `CLIPPY=1`, which must not print a single warning.
//!
//! Clippy builds in its own directory (`work/build/PROFILE-clippy`), so the
//! objects `cargo xtask build` and `test` use are not rebuilt each time;
//! ccache shares the C objects between the two.

use std::path::Path;

use anyhow::{bail, Result};
use xshell::Shell;

use crate::{
    kernel::{
        apply::{self, Mode},
        base::BaseFlags,
        build::Kbuild,
    },
    outcome::{Categorize, Failure},
    process,
    progress::{self, Stage},
    project::Project,
    setup::{self, Need},
    toolchain::sibling_tool,
};

#[derive(clap::Args, Debug)]
pub struct Check {
    /// Profile from xtask.toml: its configuration decides which Rust code is built.
    #[arg(long, short, default_value = "check")]
    pub profile: String,
    #[command(flatten)]
    pub base: BaseFlags,
}

impl Check {
    pub fn run(self, sh: &Shell, project: &Project) -> Result<()> {
        let profile = project.config.profile(&self.profile)?;
        setup::ensure(sh, project, Need::Build, profile.arch)?;
        let out = project.build_dir(&format!("{}-clippy", profile.name));
        let kbuild = Kbuild::in_dir(project, &profile, out)?;
        apply::run(sh, project, &self.base, Mode::KeepLocalWork)?;

        let rustfmt = sibling_tool(&project.config.toolchain.rustc, "rustfmt");
        let clippy = sibling_tool(&project.config.toolchain.rustc, "clippy-driver");
        kbuild.configure()?;
        let unformatted = rustfmt_check(&kbuild, &rustfmt)?;
        let vars = vec!["CLIPPY=1".to_owned(), format!("CLIPPY_DRIVER={}", clippy.display())];
        kbuild.build_with(&vars, "clippy")?;
        let log = std::fs::read_to_string(kbuild.log_path("clippy"))?;
        let warnings = rust_diagnostics(&log);

        for line in &unformatted {
            progress::say(format_args!("rustfmt: {line}"));
        }
        for warning in &warnings {
            progress::say(format_args!("clippy: {warning}"));
        }
        if unformatted.is_empty() && warnings.is_empty() {
            progress::say("check: rustfmt and clippy are clean");
            return Ok(());
        }
        Err(anyhow::anyhow!(
            "{} file(s) rustfmt would change (run `make LLVM={} rustfmt` in {} to fix them), \
             {} clippy/rustc warning(s) (full log: {})",
            unformatted.len(),
            project.config.toolchain.llvm,
            project.rel(&project.tree_dir()).display(),
            warnings.len(),
            project.rel(&kbuild.log_path("clippy")).display()
        ))
        .categorize(Failure::TestsFailed)
    }
}

/// Runs `make rustfmtcheck`; returns the files rustfmt would change.
fn rustfmt_check(kbuild: &Kbuild, rustfmt: &Path) -> Result<Vec<String>> {
    let mut stage = Stage::start("rustfmtcheck");
    let log = kbuild.log_path("rustfmtcheck");
    let ok = process::run_logged(
        kbuild.make(&[&format!("RUSTFMT={}", rustfmt.display()), "rustfmtcheck"]),
        &log,
        &mut stage,
        |_| None,
    )?;
    let text = std::fs::read_to_string(&log)?;
    let files = unformatted_files(&text);
    if !ok && files.is_empty() {
        bail!("make rustfmtcheck failed without naming a file; see {}", log.display());
    }
    stage.finish(&format!("{} file(s) to reformat", files.len()));
    Ok(files)
}

/// The files of rustfmt's `Diff in FILE:LINE:` lines, each once.
fn unformatted_files(log: &str) -> Vec<String> {
    let mut files: Vec<String> = Vec::new();
    for line in log.lines() {
        let Some(rest) = line.strip_prefix("Diff in ") else { continue };
        let file = rest.trim_end_matches(':').rsplit_once(':').map_or(rest, |(file, _)| file).to_owned();
        if !files.contains(&file) {
            files.push(file);
        }
    }
    files
}

/// rustc and clippy diagnostics in a build log, as `FILE:LINE:COL: message`.
/// They come as `warning: message` (or `error:`) with the location on a
/// later ` --> FILE:LINE:COL` line; C compiler warnings put the location
/// first and are not collected.
fn rust_diagnostics(log: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut pending: Option<&str> = None;
    for line in log.lines() {
        if let Some(message) = line.strip_prefix("warning: ").or_else(|| line.strip_prefix("error: ")) {
            // Summaries ("3 warnings emitted") have no location of their own.
            pending = (!message.contains(" emitted")).then_some(line);
        } else if let (Some(message), Some(location)) = (pending, line.trim_start().strip_prefix("--> ")) {
            found.push(format!("{location}: {message}"));
            pending = None;
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rustfmt_diffs_name_each_file_once() {
        let log =
            "Diff in /k/rust/kernel/mm/virt.rs:351:\n \n-        unsafe {\nDiff in /k/rust/kernel/mm/virt.rs:559:\n\
                   Diff in /k/samples/rust/rust_driver_pfnmap.rs:39:\n";
        assert_eq!(unformatted_files(log), ["/k/rust/kernel/mm/virt.rs", "/k/samples/rust/rust_driver_pfnmap.rs"]);
    }

    #[test]
    fn rust_diagnostics_carry_their_location_and_skip_c_warnings() {
        let log = "  CLIPPY  rust/kernel.o\n\
                   warning: this `if` has identical blocks\n   --> rust/kernel/mm/virt.rs:42:9\n    |\n\
                   warning: 1 warning emitted\n\n\
                   mm/memory.c:10:5: warning: unused variable 'x' [-Wunused-variable]\n\
                   error: unsafe block missing a safety comment\n  --> samples/rust/x.rs:7:5\n";
        assert_eq!(
            rust_diagnostics(log),
            [
                "rust/kernel/mm/virt.rs:42:9: warning: this `if` has identical blocks",
                "samples/rust/x.rs:7:5: error: unsafe block missing a safety comment",
            ]
        );
    }
}
