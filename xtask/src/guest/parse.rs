//! `cargo xtask parse LOG`: the verdict of a test run on a saved console
//! log, offline, with the same summary and exit code `cargo xtask test`
//! gives: judged against the suite's declarations with `--suite`, or when
//! the log is a suite's results/PROFILE/SUITE/console.log; and, as test
//! does, not against its snapshot when the log is in results/PROFILE-base/,
//! a run of the base kernel.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::{
    guest::{
        suite::Suite,
        verdict::{self, table, Expectations, Row, Verdict},
    },
    outcome::{Categorize, Failure},
    progress,
    project::Kernel,
};

#[derive(clap::Args, Debug)]
pub struct Parse {
    /// Console log of a run (results/*/console.log, or any kernel log).
    pub log: PathBuf,
    /// Judge the log as a run of this suite: its expected splats, its
    /// tests and its reviewed snapshot [default: the suite a
    /// results/PROFILE/SUITE/console.log belongs to, else none].
    #[arg(long, value_name = "SUITE")]
    pub suite: Option<String>,
}

impl Parse {
    pub fn run(&self, root: &Path) -> Result<()> {
        let bytes = std::fs::read(&self.log)
            .with_context(|| format!("cannot read the log {}", self.log.display()))
            .categorize(Failure::Configuration)?;
        let log = String::from_utf8_lossy(&bytes);
        let selftests = root.join("selftests");
        let suite_name = self.suite.clone().or_else(|| verdict::suite_of_log(&self.log, &selftests));
        let suite = suite_name.map(|name| Suite::load(&selftests, &name)).transpose()?;
        let expect = match &suite {
            Some(suite) => {
                let kernel = kernel_of_log(&self.log);
                let on = match kernel {
                    Kernel::Series => "",
                    Kernel::Base => " on the base kernel, not compared with its snapshot",
                };
                progress::say(format_args!("judged as a run of suite {} (selftests/{}/){on}", suite.name, suite.name));
                Expectations::of_run(suite, kernel)?
            }
            None => Expectations::none(),
        };
        let verdict = Verdict::judge(&log, &expect);
        let name = match &suite {
            Some(suite) => suite.name.clone(),
            None => self.log.file_name().map_or("log".into(), |f| f.to_string_lossy().into_owned()),
        };
        let row = Row { name: &name, counts: verdict.counts, time: None, boot: None, verdict: verdict.failure };
        progress::print(&format!("{}{}", table(&[row]), verdict.details(&name)))?;
        match verdict.failure {
            Some(failure) => Err(anyhow::Error::new(failure).context(self.log.display().to_string())),
            None => Ok(()),
        }
    }
}

/// The kernel a log in `results/LABEL/SUITE/` was of, as its directory
/// says; the series for a log anywhere else.
fn kernel_of_log(log: &Path) -> Kernel {
    let results = log.parent().and_then(Path::parent);
    let in_results = results.and_then(Path::parent).and_then(Path::file_name).is_some_and(|name| name == "results");
    match results.and_then(Path::file_name).and_then(|name| name.to_str()) {
        Some(label) if in_results => Kernel::of_label(label),
        _ => Kernel::Series,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_results_directory_tells_the_kernel() {
        assert_eq!(kernel_of_log(Path::new("results/default-base/gup/console.log")), Kernel::Base);
        assert_eq!(kernel_of_log(Path::new("/w/results/debug-base/gup/console.log")), Kernel::Base);
        assert_eq!(kernel_of_log(Path::new("results/default/gup/console.log")), Kernel::Series);
        assert_eq!(kernel_of_log(Path::new("saved/default-base/gup/console.log")), Kernel::Series);
        assert_eq!(kernel_of_log(Path::new("console.log")), Kernel::Series);
    }
}
