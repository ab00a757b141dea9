//! `cargo xtask bench --harness`: the costs of the loop a kernel developer
//! lives in, measured by running the tool's own commands: a build with
//! nothing changed, a one-line change in mm/memory.c through `build` and
//! through `test --suite vmf-insert-range` (rebuild, boot, the suite), boot
//! to first test, and a cold build with no compiler cache, with where its
//! time went (bench::step_times).

use std::{
    fmt::Write as _,
    path::{Path, PathBuf},
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use anyhow::{anyhow, bail, Context, Result};
use serde::Serialize;
use xshell::{cmd, Shell};

use crate::{
    guest::test::Test,
    kernel::{
        base::BaseFlags,
        build::{Build, Kbuild},
    },
    outcome::{Categorize, Failure},
    progress::{self, fmt_duration},
    project::{Kernel, Project},
    toolchain::{bindgen_path, clang, jobs},
    xtask_toml::{AccelFlag, Toolchain},
};

use super::step_times;

/// The file the one-line change goes into, relative to the work tree.
const EDITED: &str = "mm/memory.c";
/// Names the line the harness appends, so a leftover is recognised.
const EDIT_MARKER: &str = "xtask_bench_edit";
const SUITE: &str = "vmf-insert-range";
/// Aims of the issue that asked for these figures, under TCG on 2 cores.
const AIM_EDIT_LOOP: Duration = Duration::from_secs(60);
const AIM_BOOT: Duration = Duration::from_secs(5);
/// Parts of the tree listed one by one in the cold build's breakdown.
const PARTS_SHOWN: usize = 15;

#[derive(Debug, Serialize)]
struct Figure {
    what: String,
    seconds: f64,
    aim_seconds: Option<f64>,
}

pub fn run(sh: &Shell, project: &Project, profile: &str, accel: Option<AccelFlag>, base: &BaseFlags) -> Result<()> {
    let profile_config = project.config.profile(profile)?;
    let dir = project.results_dir().join("bench").join("harness");
    std::fs::create_dir_all(&dir)?;
    let edit = ScratchEdit::new(sh, &project.tree_dir())?;
    let build = || Build { profile: profile.to_owned(), kernel: Kernel::Series, base: base.clone() }.run(sh, project);
    let mut figures = Vec::new();
    let mut figure = |what: String, took: Duration, aim: Option<Duration>| {
        progress::say(format_args!("==> {what}: {}", fmt_duration(took)));
        figures.push(Figure { what, seconds: took.as_secs_f64(), aim_seconds: aim.map(|a| a.as_secs_f64()) });
    };

    progress::say(format_args!("==> bringing the {profile} build up to date (not measured)"));
    build()?;
    figure(format!("`cargo xtask build -p {profile}`, nothing changed"), timed(build)?, None);

    if let Some(edit) = &edit {
        edit.write(1)?;
        figure(format!("one-line change in {EDITED}: `cargo xtask build`"), timed(build)?, None);
        edit.write(2)?;
        let start = Instant::now();
        let results = Test {
            profile: profile.to_owned(),
            suites: vec![SUITE.to_owned()],
            accel,
            accept: false,
            kernel: Kernel::Series,
            base: base.clone(),
        }
        .run(sh, project)?;
        let took = start.elapsed();
        let suite = results.iter().find(|r| r.suite == SUITE).expect("the test ran only this suite");
        let boot = suite.boot_to_first_test_s.ok_or_else(|| anyhow!("the {SUITE} guest never started its tests"))?;
        figure(
            format!("one-line change in {EDITED}: `cargo xtask test --suite {SUITE}` (rebuild, boot, suite)"),
            took,
            Some(AIM_EDIT_LOOP),
        );
        figure(
            format!("  of which the {SUITE} guest (boot and tests)"),
            Duration::from_secs_f64(suite.duration_s),
            None,
        );
        figure(format!("boot to first test ({SUITE} guest)"), Duration::from_secs_f64(boot), Some(AIM_BOOT));
        edit.restore()?;
        progress::say(format_args!("==> {EDITED} restored; rebuilding so the build matches the tree (not measured)"));
        build()?;
    }

    let cold_dir = project.work_dir().join("bench").join("cold-build");
    std::fs::remove_dir_all(&cold_dir).ok();
    let cold = Kbuild::in_dir(project, &profile_config, cold_dir.clone())?.without_ccache();
    let steps_log = dir.join("cold-build-steps.log");
    std::fs::remove_file(&steps_log).ok();
    let took = timed(|| {
        cold.configure()?;
        let timers = step_timers(&project.config.toolchain, &steps_log, &dir.join("timers"))?;
        cold.build_with(&timers, "cold-build").map(drop)
    })?;
    figure(format!("cold build of {profile} (configure + build, no ccache, empty build directory)"), took, None);
    std::fs::remove_dir_all(&cold_dir).ok();
    let parts = step_times::summarize(&steps_log)?;

    let mut table = String::from("| what | time | aim |\n| --- | ---: | ---: |\n");
    for f in &figures {
        let aim = f
            .aim_seconds
            .map_or(String::new(), |a| format!("< {a:.0} s: {}", if f.seconds < a { "met" } else { "missed" }));
        writeln!(table, "| {} | {} | {aim} |", f.what, fmt_duration(Duration::from_secs_f64(f.seconds))).unwrap();
    }
    write!(
        table,
        "\nWhere the cold build's time went (each compiler, rustc and bindgen process timed; {} jobs):\n\n{}",
        jobs(&project.config.toolchain),
        step_times::table(&parts, PARTS_SHOWN)
    )
    .unwrap();
    let json = serde_json::json!({ "figures": figures, "cold_build_parts": parts });
    std::fs::write(dir.join("harness.json"), serde_json::to_string_pretty(&json)? + "\n")?;
    std::fs::write(dir.join("table.md"), &table)?;
    progress::print(&format!("\n{table}\nresults: {}\n", project.rel(&dir).display()))?;
    if edit.is_none() {
        progress::print(&format!("(the one-line change was not measured: the work tree has no {EDITED})\n"))?;
    }
    Ok(())
}

/// Make variables that put `cargo xtask time-step` before the compiler,
/// rustc and bindgen the toolchain names, each through a script in `dir`.
fn step_timers(toolchain: &Toolchain, log: &Path, dir: &Path) -> Result<Vec<String>> {
    let xtask = std::env::current_exe().context("cannot find the xtask binary to time build steps with")?;
    let programs = [
        ("CC", PathBuf::from(clang(&toolchain.llvm))),
        ("RUSTC", toolchain.rustc.clone()),
        ("BINDGEN", bindgen_path(toolchain)),
    ];
    programs
        .iter()
        .map(|(var, program)| {
            let script = step_times::write_timer(dir, &xtask, log, program)?;
            Ok(format!("{var}={}", script.display()))
        })
        .collect()
}

fn timed(f: impl FnOnce() -> Result<()>) -> Result<Duration> {
    let start = Instant::now();
    f()?;
    Ok(start.elapsed())
}

/// A line appended to mm/memory.c in the work tree and taken out again,
/// also when the measurement fails. The file must have no uncommitted
/// edits: the developer's work is never touched.
struct ScratchEdit {
    path: PathBuf,
    original: Vec<u8>,
}

impl ScratchEdit {
    fn new(sh: &Shell, tree: &Path) -> Result<Option<ScratchEdit>> {
        let path = tree.join(EDITED);
        let Ok(original) = std::fs::read(&path) else { return Ok(None) };
        if String::from_utf8_lossy(&original).contains(EDIT_MARKER) {
            bail!(
                "{} still has the line with `{EDIT_MARKER}` of an interrupted `cargo xtask bench --harness`: \
                 delete that line (the last of the file), then run it again",
                path.display()
            );
        }
        let clean = cmd!(sh, "git -C {tree} diff --quiet HEAD -- {EDITED}").quiet().run().is_ok();
        if !clean {
            return Err(anyhow!(
                "{} has uncommitted edits: the harness measures a one-line change to it and puts the file back \
                 afterwards, so commit or stash your edits first",
                path.display()
            ))
            .categorize(Failure::Configuration);
        }
        Ok(Some(ScratchEdit { path, original }))
    }

    /// The file with one more line; a new text each time, as a real edit
    /// is, so no cache holds its object.
    fn write(&self, n: u32) -> Result<()> {
        let stamp = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let mut text = self.original.clone();
        text.extend(format!("static const char {EDIT_MARKER}{n}[] __used = \"{stamp}\";\n").bytes());
        std::fs::write(&self.path, text).with_context(|| format!("cannot write {}", self.path.display()))
    }

    fn restore(&self) -> Result<()> {
        std::fs::write(&self.path, &self.original).with_context(|| {
            format!("cannot restore {}: delete its last line (`{EDIT_MARKER}`) by hand", self.path.display())
        })
    }
}

impl Drop for ScratchEdit {
    fn drop(&mut self) {
        if let Err(err) = self.restore() {
            progress::say(format_args!("error: {err:#}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree_with_memory_c(sh: &Shell) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path();
        std::fs::create_dir(path.join("mm")).unwrap();
        std::fs::write(path.join(EDITED), "int x;\n").unwrap();
        let _cd = sh.push_dir(path);
        cmd!(sh, "git init -q").run().unwrap();
        cmd!(sh, "git add mm").run().unwrap();
        cmd!(sh, "git -c user.name=t -c user.email=t@example.org commit -q -m base").run().unwrap();
        dir
    }

    #[test]
    fn the_edit_is_put_back_even_when_the_measurement_fails() {
        let sh = Shell::new().unwrap();
        let tree = tree_with_memory_c(&sh);
        let path = tree.path().join(EDITED);
        let failed: Result<()> = (|| {
            let edit = ScratchEdit::new(&sh, tree.path())?.expect("the tree has mm/memory.c");
            edit.write(1)?;
            let edited = std::fs::read_to_string(&path)?;
            assert!(edited.starts_with("int x;\nstatic const char xtask_bench_edit1[] __used = \""), "{edited}");
            edit.write(2)?;
            assert_eq!(std::fs::read_to_string(&path)?.lines().count(), 2, "one line each time, not two");
            bail!("the build failed")
        })();
        assert!(failed.is_err());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "int x;\n");
    }

    #[test]
    fn uncommitted_edits_and_leftovers_are_refused_untouched() {
        let sh = Shell::new().unwrap();
        let tree = tree_with_memory_c(&sh);
        let path = tree.path().join(EDITED);
        std::fs::write(&path, "int x; /* mine */\n").unwrap();
        let err = ScratchEdit::new(&sh, tree.path()).err().expect("uncommitted edits are refused");
        assert!(format!("{err:#}").contains("has uncommitted edits"), "{err:#}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "int x; /* mine */\n");

        std::fs::write(&path, "int x;\nstatic const char xtask_bench_edit1[] __used = \"1\";\n").unwrap();
        let err = ScratchEdit::new(&sh, tree.path()).err().expect("a leftover line is refused");
        assert!(format!("{err:#}").contains("interrupted `cargo xtask bench --harness`"), "{err:#}");

        std::fs::remove_file(&path).unwrap();
        assert!(ScratchEdit::new(&sh, tree.path()).unwrap().is_none(), "no mm/memory.c: nothing to edit");
    }
}
