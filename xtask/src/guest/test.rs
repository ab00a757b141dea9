//! `cargo xtask test`: apply, build, build the selftests, boot each suite in
//! virtme-ng, parse what the guest printed, and compare the results with
//! the reviewed snapshots in selftests/.
//!
//! `--kernel base` boots the base kernel instead, to show what the series
//! fixes: the suites' programs are still the series' (the reproducers are
//! in it), and the results, which legitimately differ from the series'
//! snapshots, are judged by what happened alone: the exit code is the
//! verdict, 3 for a crash.

use std::{fmt::Write as _, path::Path, time::Duration};

use anyhow::{Context, Result};
use xshell::Shell;

use crate::{
    guest::{
        boot::{self, AccelChoice, ForeignRoot, Guest, GuestLogs},
        report::{self, kcidb, SuiteResult},
        root::GuestRoot,
        selftests, snapshot,
        suite::Suite,
        verdict::{Expectations, SnapshotStatus, Verdict},
    },
    kernel::{base::BaseFlags, build::Kbuild, repo},
    outcome::{Categorize, Failure},
    progress::{self, Stage},
    project::{Kernel, Project},
    setup::{self, Need},
    signals, toolchain,
    xtask_toml::AccelFlag,
};

const RUNNER: &str = "selftests/runner.sh";

/// What every suite's guest boots: the kernel, the root of a guest of
/// another architecture, the accelerator.
#[derive(Clone, Copy)]
struct Machine<'a> {
    image: &'a Path,
    foreign: Option<ForeignRoot<'a>>,
    accel: &'a AccelChoice,
}

#[derive(clap::Args, Debug)]
pub struct Test {
    /// Profile from xtask.toml; its suites are run.
    #[arg(long, short, default_value = "default")]
    pub profile: String,
    /// Run only this suite (repeatable).
    #[arg(long = "suite", value_name = "SUITE")]
    pub suites: Vec<String>,
    /// Accelerator of the guests [default: boot.accel of xtask.toml, else auto].
    #[arg(long, value_enum)]
    pub accel: Option<AccelFlag>,
    /// Write the results as the new reviewed snapshots (review them with git diff).
    #[arg(long)]
    pub accept: bool,
    /// Which kernel the suites run on: the series applied to the base, or
    /// the base alone (its results are not compared with the snapshots).
    #[arg(long, value_enum, default_value_t)]
    pub kernel: Kernel,
    #[command(flatten)]
    pub base: BaseFlags,
}

impl Test {
    /// Why the flags make no sense together, if they do not.
    pub fn refusal(&self) -> Option<&'static str> {
        (self.accept && self.kernel == Kernel::Base).then_some(
            "--accept cannot be used with --kernel base: a run of the base kernel is not compared with the \
             series' snapshots, so it has no results to accept as them",
        )
    }

    /// Returns the results of the suites; any failure among them is the
    /// error.
    pub fn run(&self, sh: &Shell, project: &Project) -> Result<Vec<SuiteResult>> {
        if self.accept && std::env::var_os("CI").is_some() {
            return Err(anyhow::anyhow!("--accept in CI: snapshots are accepted by people, in review, not by CI"))
                .categorize(Failure::Configuration);
        }
        let profile = project.config.profile(&self.profile)?;
        setup::ensure_installed(sh, project, Need::Boot, profile.arch)?;
        let names = if self.suites.is_empty() { profile.suites.clone() } else { self.suites.clone() };
        if names.is_empty() {
            return Err(anyhow::anyhow!("profile {} has no suites (suites = [...] in xtask.toml)", profile.name))
                .categorize(Failure::Configuration);
        }
        let selftests = project.root.join("selftests");
        let suites = names
            .iter()
            .map(|n| Suite::load(&selftests, n).map(|s| s.with_results(profile.results_variant())))
            .collect::<Result<Vec<_>>>()?;

        let kbuild = Kbuild::new(project, &profile, self.kernel)?;
        let image = kbuild.apply_and_build(sh, &self.base)?;
        // The programs are the series' whichever kernel runs them: the
        // reproducers of what it fixes are in it, and both kernels must run
        // the same ones.
        let series = Kbuild::new(project, &profile, Kernel::Series)?;
        let staging = project.work_dir().join("selftests").join(&profile.name);
        selftests::build(project, &series, &suites, &staging)?;

        let results_dir = project.results_dir().join(kbuild.label());
        std::fs::create_dir_all(&results_dir)?;
        // The reports of an earlier run must not sit next to this run's
        // console logs, whether or not this one gets to write its own.
        report::remove(&results_dir)?;
        let vng = toolchain::vng_path(project);
        let guest_root = GuestRoot::for_guests(project, profile.arch);
        let foreign = guest_root.as_ref().map(|r| r.foreign(&project.root)).transpose()?;
        let flag = self.accel.unwrap_or(project.config.boot.accel);
        let accel = boot::choose_accel(flag, &vng, &image, foreign, &results_dir)?;
        let machine = Machine { image: &image, foreign, accel: &accel };
        let mut results = Vec::new();
        for suite in &suites {
            results.push(self.run_suite(project, suite, &machine, &staging, &results_dir)?);
            if signals::received().is_some() {
                // The interrupted suite is reported; the rest did not run.
                break;
            }
        }
        let applied = repo::State::load(&project.tree_dir())?;
        let checkout = kcidb::Checkout {
            base_commit: &applied.base,
            patches: match self.kernel {
                Kernel::Series => applied.applied.iter().map(|a| a.sha256.as_str()).collect(),
                Kernel::Base => Vec::new(),
            },
            profile: kbuild.label(),
            arch: profile.arch.kernel_name(),
        };
        report::write(&results_dir, &results, &checkout)?;
        report::write_reproducer(sh, project, &kbuild, &image, &results_dir)?;
        progress::print(&report::summary(&results, &accel, &results_dir, self.kernel))?;
        let what = match self.kernel {
            Kernel::Series => format!("profile {}", profile.name),
            Kernel::Base => format!("profile {}, base kernel", profile.name),
        };
        match results.iter().filter_map(|r| r.failure_kind).max() {
            Some(failure) => Err(anyhow::Error::new(failure).context(what)),
            None => Ok(results),
        }
    }

    fn run_suite(
        &self,
        project: &Project,
        suite: &Suite,
        machine: &Machine,
        staging: &Path,
        results_dir: &Path,
    ) -> Result<SuiteResult> {
        let Machine { image, foreign, accel } = *machine;
        let dir = results_dir.join(&suite.name);
        std::fs::create_dir_all(&dir)?;
        let plan = staging.join(format!("{}.plan", suite.name));
        std::fs::write(&plan, suite.plan())?;
        let runner = project.root.join(RUNNER);
        let vng = toolchain::vng_path(project);
        let guest = Guest {
            vng: &vng,
            image,
            foreign,
            accel: accel.accel,
            memory: &suite.spec.memory,
            cpus: suite.spec.cpus,
            cmdline: &suite.spec.cmdline,
            qemu_opts: &suite.spec.qemu_opts,
            command: format!(
                "cd {} && exec bash {} {} {}",
                staging.display(),
                runner.display(),
                suite.name,
                plan.display()
            ),
        };
        std::fs::write(dir.join("command.txt"), guest.argv().join("\n") + "\n")?;
        let logs = GuestLogs { console: dir.join("console.log"), output: dir.join("output.log") };
        let mut stage = Stage::start(format!("suite {} [{}]", suite.name, accel.accel));
        let run_timeout = Duration::from_secs(suite.spec.timeout);
        let boot_timeout = Duration::from_secs(project.config.boot.boot_timeout);
        let run = boot::run(&guest.argv(), &logs, &mut stage, boot_timeout, run_timeout, |l| {
            l.starts_with("TAP version") || l.starts_with("KTAP version")
        })?;
        let log = std::fs::read(&logs.console).map(|b| String::from_utf8_lossy(&b).into_owned())?;
        let mut verdict = Verdict::judge(&log, &Expectations::of_run(suite, self.kernel)?);
        if verdict.failure == Some(Failure::SnapshotDiffers) {
            if self.accept {
                std::fs::write(suite.own_snapshot_path(), snapshot::file(suite, &verdict.results))?;
                verdict = verdict.accepted();
            } else if std::env::var_os("CI").is_none() {
                let new_path = snapshot::pending_path(suite);
                std::fs::write(&new_path, snapshot::file(suite, &verdict.results))
                    .with_context(|| format!("cannot write {}", new_path.display()))?;
            }
        }
        if matches!(verdict.snapshot, SnapshotStatus::Matches | SnapshotStatus::Accepted) {
            // A pending result from an earlier run is settled either way.
            std::fs::remove_file(snapshot::pending_path(suite)).ok();
        }
        if verdict.snapshot == SnapshotStatus::Accepted && verdict.counts.failed > 0 {
            // Known failures may be recorded, but never silently.
            progress::say(format_args!(
                "warning: {} now expects {} failing test(s); review it in git diff",
                project.rel(&suite.own_snapshot_path()).display(),
                verdict.counts.failed
            ));
        }
        let failure = verdict.why.as_ref().map(|why| {
            let mut text = why.clone();
            if let Some(diff) = &verdict.diff {
                write!(text, " {diff}").unwrap();
                if std::env::var_os("CI").is_none() {
                    write!(
                        text,
                        "\nThe new results are in {}; review them with `cargo xtask review` (or rerun with --accept) and the change in git diff.",
                        snapshot::pending_path(suite).display()
                    )
                    .unwrap();
                }
            }
            if matches!(verdict.failure, Some(Failure::Timeout | Failure::KernelCrashed)) && verdict.splats.is_empty() {
                write!(text, "\nLast console lines:\n      {}", run.tail.join("\n      ")).unwrap();
            }
            text
        });
        stage.finish(failure.as_deref().map_or("ok", |f| f.lines().next().unwrap_or(f)));
        Ok(SuiteResult::new(suite, accel, &run, logs.console, verdict, failure))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real run of the gup suite, which its snapshot holds.
    const GUP_RUN: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/real_runs/gup.console.log"));

    /// A run of the base kernel is judged by what happened, not against
    /// the series' snapshot: results that differ from it but pass are ok,
    /// failed tests and crashes are not.
    #[test]
    fn a_run_of_the_base_kernel_is_not_compared_with_the_snapshot() {
        let gup = Suite::load(&crate::project::root().join("selftests"), "gup").unwrap();
        let judge = |log: &str, kernel| Verdict::judge(log, &Expectations::of_run(&gup, kernel).unwrap());
        assert_eq!(judge(GUP_RUN, Kernel::Series).snapshot, SnapshotStatus::Matches);

        let skipped = GUP_RUN.replace("ok 5 selftests: gup: gup_basic", "ok 5 selftests: gup: gup_basic # SKIP");
        let series = judge(&skipped, Kernel::Series);
        assert_eq!(series.failure, Some(Failure::SnapshotDiffers));
        assert!(series.diff.unwrap().contains("+   skip    selftests: gup: gup_basic"));
        let base = judge(&skipped, Kernel::Base);
        assert_eq!((base.failure, base.snapshot, base.diff), (None, SnapshotStatus::NotCompared, None));

        let failed = GUP_RUN.replace("ok 5 selftests: gup: gup_basic", "not ok 5 selftests: gup: gup_basic # exit=1");
        let base = judge(&failed, Kernel::Base);
        assert_eq!(base.failure, Some(Failure::TestsFailed));
        assert_eq!(base.why.as_deref(), Some("1 result(s) not ok: selftests: gup: gup_basic (fail)"));

        let crashed = format!(
            "{GUP_RUN}{}",
            include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/real_sysrq_panic.log"))
        );
        assert_eq!(judge(&crashed, Kernel::Base).failure, Some(Failure::KernelCrashed));
    }
}
