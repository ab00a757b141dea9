//! `cargo xtask`: carry the kernel series in patches/ and prove it works.
//!
//! main parses the flags once, makes the one `Shell` and runs the command
//! in one match; each command is a module with `impl Cmd { fn run }`. The
//! folders are the stages: `kernel/` (base, series, apply, export, the
//! repository, config, build, check), `guest/` (suites, boot, verdict,
//! snapshots, reports; test, parse, review), `mail/` (check-series,
//! format-patch, send) and `bench/`. Below them, and importing none of them:
//! `project` (where things are), `xtask_toml` (its configuration),
//! `toolchain`, `process` (how programs are run), `progress` (what the
//! terminal shows), `signals`, `lock` and `outcome` (exit codes).

mod bench;
mod guest;
mod kernel;
mod lock;
mod mail;
mod outcome;
mod process;
mod progress;
mod project;
mod setup;
mod signals;
#[cfg(test)]
mod tidy;
mod toolchain;
mod xtask_toml;

use std::process::ExitCode;

use anyhow::Result;
use clap::{error::ErrorKind, CommandFactory, Parser, Subcommand};
use xshell::Shell;

use crate::{
    guest::{parse, review, test},
    kernel::{apply, build, check, config, export},
    mail::{check_series, format_patch, send},
};

#[derive(Parser, Debug)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    about = "Carry the kernel series in patches/ and prove it works",
    arg_required_else_help = true
)]
struct Flags {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Check the prerequisites and install what is missing.
    Setup(setup::Setup),
    /// Fetch the base kernel and apply patches/series to work/linux.
    Apply(apply::Apply),
    /// Write the work tree's commits above the base back into patches/.
    Export(export::Export),
    /// Write and check the .config of a profile (no build).
    Config(config::Configure),
    /// Apply, configure and build bzImage and modules; prints the bzImage path.
    Build(build::Build),
    /// Lint the Rust code like Rust-for-Linux maintainers: rustfmtcheck and a
    /// CLIPPY=1 build of the profile, warnings fail.
    Check(check::Check),
    /// What reviewers and patch CI will say, per patch: checkpatch --strict,
    /// each prefix builds, new compiler and kernel-doc warnings.
    CheckSeries(check_series::CheckSeries),
    /// The series as mails for git send-email in results/mail/vN/, with a
    /// cover letter, range-diff to vN-1 and To/Cc from get_maintainer.pl.
    FormatPatch(format_patch::FormatPatch),
    /// git send-email the mails of a version (a dry run unless --for-real).
    Send(send::Send),
    /// Build, boot the kernel and run the profile's suites; check the results
    /// against the reviewed snapshots.
    Test(test::Test),
    /// Parse a saved console log: test results, kernel crashes, verdict.
    Parse(parse::Parse),
    /// Review the results a test run left in selftests/*/results.snap.new:
    /// accept, reject or skip each.
    Review(review::Review),
    /// Measure fault paths in the guest (vmf_insert_range against one PTE,
    /// TTM's 16 PTEs and huge_fault), or with --harness the edit-build-test loop.
    Bench(bench::Bench),
    /// Runs a compiler step and logs its time (the cold build of `bench
    /// --harness` puts it before CC, RUSTC and BINDGEN).
    #[command(hide = true)]
    TimeStep(bench::step_times::TimeStep),
}

impl Flags {
    /// Parses the command line, and refuses the flags that clap accepts one
    /// by one but that make no sense together, as clap refuses others: with
    /// its message and exit code (2).
    fn from_args<T: Into<std::ffi::OsString> + Clone>(args: impl IntoIterator<Item = T>) -> Result<Flags, clap::Error> {
        let flags = Flags::try_parse_from(args)?;
        let refusal = match &flags.command {
            Command::Test(cmd) => cmd.refusal().map(|why| ("test", why)),
            _ => None,
        };
        let Some((name, why)) = refusal else { return Ok(flags) };
        let mut command = Flags::command();
        // Built, a subcommand knows its full name for the usage line.
        command.build();
        let subcommand = command.find_subcommand_mut(name).expect("refusals name a subcommand");
        Err(subcommand.error(ErrorKind::ArgumentConflict, why))
    }
}

fn main() -> ExitCode {
    let flags = Flags::from_args(std::env::args_os()).unwrap_or_else(|err| err.exit());
    match run(flags) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // The messages are written for people; a backtrace helps nobody.
            progress::say(format_args!("error: {err:#}"));
            // A step whose child the signal killed may fail in its own
            // words; the run was interrupted all the same.
            match signals::received() {
                Some(_) => outcome::Failure::Interrupted.code().into(),
                None => outcome::exit_code(&err),
            }
        }
    }
}

fn run(flags: Flags) -> Result<()> {
    signals::install()?;
    let sh = Shell::new()?;
    let project = project::Project::load;
    // Everything but reading a log, reviewing snapshots, installing tools
    // and a step of a build xtask runs works in the checkout's work/ and
    // results/.
    let _lock = match flags.command {
        Command::Parse(_) | Command::Review(_) | Command::Setup(_) | Command::TimeStep(_) => None,
        _ => Some(lock::Lock::checkout(&project::root())?),
    };
    match flags.command {
        Command::Setup(cmd) => cmd.run(&sh, &project()?),
        Command::Apply(cmd) => cmd.run(&sh, &project()?),
        Command::Export(cmd) => cmd.run(&sh, &project()?),
        Command::Config(cmd) => cmd.run(&sh, &project()?),
        Command::Build(cmd) => cmd.run(&sh, &project()?),
        Command::Check(cmd) => cmd.run(&sh, &project()?),
        Command::CheckSeries(cmd) => cmd.run(&sh, &project()?),
        Command::FormatPatch(cmd) => cmd.run(&sh, &project()?),
        Command::Send(cmd) => cmd.run(&sh, &project()?),
        Command::Test(cmd) => cmd.run(&sh, &project()?).map(drop),
        Command::Parse(cmd) => cmd.run(&project::root()),
        Command::Review(cmd) => cmd.run(&project::root()),
        Command::Bench(cmd) => cmd.run(&sh, &project()?),
        Command::TimeStep(cmd) => cmd.run(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::project::Kernel;

    fn parse(args: &[&str]) -> Result<Command, clap::Error> {
        Flags::from_args(["cargo xtask"].iter().chain(args)).map(|flags| flags.command)
    }

    #[test]
    fn the_kernel_is_the_series_unless_the_base_is_asked_for() {
        let kernel = |args: &[&str]| match parse(args).unwrap() {
            Command::Config(cmd) => cmd.kernel,
            Command::Build(cmd) => cmd.kernel,
            Command::Test(cmd) => cmd.kernel,
            other => panic!("{args:?} parsed as {other:?}"),
        };
        assert_eq!(kernel(&["build"]), Kernel::Series);
        assert_eq!(kernel(&["build", "--kernel", "base", "-p", "debug"]), Kernel::Base);
        assert_eq!(kernel(&["config", "--kernel=series"]), Kernel::Series);
        assert_eq!(kernel(&["config", "--kernel", "base"]), Kernel::Base);
        assert_eq!(kernel(&["test", "--suite", "gup", "--kernel", "base"]), Kernel::Base);
        assert_eq!(kernel(&["test", "--accept"]), Kernel::Series);
        let err = parse(&["build", "--kernel", "upstream"]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("[possible values: series, base]"), "{err}");
    }

    /// `--against` compares two runs it makes; it makes no sense on a saved
    /// log or with the harness benchmark, and only the base is there to
    /// compare with.
    #[test]
    fn bench_against_takes_the_base_alone() {
        let against = |args: &[&str]| match parse(args).unwrap() {
            Command::Bench(cmd) => cmd.against,
            other => panic!("{args:?} parsed as {other:?}"),
        };
        assert_eq!(against(&["bench"]), None);
        assert_eq!(against(&["bench", "--against", "base", "-p", "arm64"]), Some(bench::Against::Base));
        for args in [
            &["bench", "--against", "base", "--from", "out.log"][..],
            &["bench", "--against", "base", "--harness"],
            &["bench", "--against", "series"],
        ] {
            let err = parse(args).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{args:?}");
        }
    }

    /// The series' snapshots are not the base kernel's results.
    #[test]
    fn accept_is_refused_with_the_base_kernel() {
        let err = parse(&["test", "--kernel", "base", "--accept"]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert_eq!(err.kind(), clap::error::ErrorKind::ArgumentConflict);
        insta::assert_snapshot!(err.to_string(), @r"
        error: --accept cannot be used with --kernel base: a run of the base kernel is not compared with the series' snapshots, so it has no results to accept as them

        Usage: cargo xtask test [OPTIONS]

        For more information, try '--help'.
        ");
        parse(&["test", "--kernel", "series", "--accept"]).unwrap();
    }
}
