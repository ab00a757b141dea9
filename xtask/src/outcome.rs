//! Exit codes that tell CI why a run failed.
//!
//! | code | meaning |
//! | ---- | ------- |
//! | 0 | everything passed |
//! | 1 | tests failed, results differ from the reviewed snapshots, or there are no results |
//! | 2 | bad command-line flags (clap's own code) |
//! | 3 | the kernel crashed: an oops, panic, WARN, sanitizer or lockdep report |
//! | 4 | the guest did not boot or a suite did not finish in time |
//! | 5 | the kernel or the selftests did not build |
//! | 6 | prerequisites are missing or could not be installed (see `cargo xtask setup`) |
//! | 7 | the configuration is wrong: xtask.toml, kconfig fragments, the series, a suite |
//! | 8 | xtask itself failed (I/O errors and the like) |
//! | 9 | interrupted: xtask got SIGINT, SIGTERM or SIGHUP, or its guest was killed from outside |

use std::{fmt, process::ExitCode};

/// Ordered by how much they explain: a crash explains a timeout after it,
/// which explains missing results, which explain failed tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Failure {
    TestsFailed,
    /// The results are not the reviewed snapshot's (which may hold known
    /// failures).
    SnapshotDiffers,
    /// No test reported anything.
    NoResults,
    Timeout,
    /// A signal stopped xtask or its guest: the results are incomplete.
    Interrupted,
    KernelCrashed,
    BuildFailed,
    Prerequisites,
    Configuration,
}

impl Failure {
    pub fn code(self) -> u8 {
        match self {
            Failure::TestsFailed | Failure::SnapshotDiffers | Failure::NoResults => 1,
            Failure::KernelCrashed => 3,
            Failure::Timeout => 4,
            Failure::Interrupted => 9,
            Failure::BuildFailed => 5,
            Failure::Prerequisites => 6,
            Failure::Configuration => 7,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Failure::TestsFailed => "tests failed",
            Failure::SnapshotDiffers => "results differ from the snapshot",
            Failure::NoResults => "no test results",
            Failure::KernelCrashed => "the kernel crashed",
            Failure::Timeout => "timed out",
            Failure::Interrupted => "interrupted",
            Failure::BuildFailed => "build failed",
            Failure::Prerequisites => "prerequisites missing",
            Failure::Configuration => "configuration error",
        })
    }
}

impl std::error::Error for Failure {}

/// Files an error under a [`Failure`], which prefixes its message.
pub trait Categorize<T> {
    fn categorize(self, failure: Failure) -> anyhow::Result<T>;
}

impl<T> Categorize<T> for anyhow::Result<T> {
    fn categorize(self, failure: Failure) -> anyhow::Result<T> {
        self.map_err(|err| err.context(failure))
    }
}

/// Code for an error from a command: the [`Failure`] in its chain of
/// causes, else 8.
pub fn exit_code(err: &anyhow::Error) -> ExitCode {
    ExitCode::from(err.downcast_ref::<Failure>().map_or(8, |f| f.code()))
}

#[cfg(test)]
mod tests {
    use anyhow::Context;

    use super::*;

    #[test]
    fn the_failure_is_found_under_later_context() {
        let err: anyhow::Result<()> = Err(anyhow::anyhow!("make failed"));
        let err = err.categorize(Failure::BuildFailed).context("building profile default").unwrap_err();
        assert_eq!(err.downcast_ref::<Failure>(), Some(&Failure::BuildFailed));
        assert_eq!(format!("{err:#}"), "building profile default: build failed: make failed");
        assert_eq!(exit_code(&anyhow::anyhow!("disk full")), ExitCode::from(8));
    }

    #[test]
    fn the_worst_failure_of_several_suites_wins() {
        let failures = [Failure::TestsFailed, Failure::KernelCrashed, Failure::Timeout];
        assert_eq!(failures.iter().max(), Some(&Failure::KernelCrashed));
        assert_eq!(failures[..1].iter().chain(&failures[2..]).max(), Some(&Failure::Timeout));
    }
}
