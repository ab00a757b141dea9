//! Test suites: `selftests/NAME/suite.toml` says which selftests to build
//! from the patched tree, what to run in the guest, and how to boot it.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Deserialize;

use crate::outcome::{Categorize, Failure};

/// Timeout of one test when the suite gives none: the kselftest default.
const DEFAULT_TEST_TIMEOUT: u64 = 45;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct SuiteFile {
    pub description: String,
    /// Guest memory, as vng takes it ("2G").
    #[serde(default = "default_memory")]
    pub memory: String,
    #[serde(default = "default_cpus")]
    pub cpus: u32,
    /// Seconds for all the tests of the suite, once the guest has booted.
    pub timeout: u64,
    /// Added to the guest kernel command line (e.g. memory reservations).
    #[serde(default)]
    pub cmdline: Vec<String>,
    /// Extra QEMU arguments (e.g. "-device", "qxl-vga,vram_size_mb=256").
    #[serde(default)]
    pub qemu_opts: Vec<String>,
    #[serde(default)]
    pub build: Vec<BuildSpec>,
    pub test: Vec<TestSpec>,
    /// Splats the suite provokes on purpose; any other fails the run.
    #[serde(default)]
    pub expected_splat: Vec<ExpectedSplat>,
}

fn default_memory() -> String {
    "2G".to_owned()
}

fn default_cpus() -> u32 {
    2
}

/// Programs built from `tools/testing/selftests/DIR` of the work tree.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuildSpec {
    pub dir: String,
    pub targets: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestSpec {
    pub name: String,
    /// Command run in the guest from the staging directory, e.g.
    /// "mm/gup_test -u -n 1".
    pub run: String,
    pub timeout: Option<u64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedSplat {
    /// A splat's fingerprint, or its start cut after the title or after a
    /// call-trace frame: debug builds inline less, so deeper frames differ
    /// between profiles.
    pub fingerprint: String,
    pub reason: String,
}

impl ExpectedSplat {
    pub fn matches(&self, fingerprint: &str) -> bool {
        fingerprint
            .strip_prefix(self.fingerprint.as_str())
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(" | ") || rest.starts_with(" < "))
    }
}

#[derive(Debug)]
pub struct Suite {
    pub name: String,
    pub dir: PathBuf,
    pub spec: SuiteFile,
    /// Whose reviewed results it is compared with besides the shared
    /// ones: none for x86_64, else the profile's results variant
    /// ([`Suite::with_results`]), e.g. `arm64` or `arm64-64k`.
    pub variant: Option<String>,
}

/// `selftests/known-splats.toml`: reports of the base kernel that are not
/// the series' doing and that any suite may meet, each with the upstream
/// cause in its reason.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct KnownSplatsFile {
    #[serde(default)]
    known_splat: Vec<ExpectedSplat>,
}

/// The known splats of `selftests/known-splats.toml`; none without it.
pub fn known_splats(selftests: &Path) -> Result<Vec<ExpectedSplat>> {
    let path = selftests.join(KNOWN_SPLATS);
    let shown = format!("selftests/{KNOWN_SPLATS}");
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("cannot read {shown}")),
    };
    let file: KnownSplatsFile =
        toml::from_str(&text).map_err(|e| anyhow::anyhow!("{shown}: {}", e.to_string().trim_end()))?;
    let empty: Vec<String> = file
        .known_splat
        .iter()
        .enumerate()
        .filter(|(_, k)| k.fingerprint.trim().is_empty() || k.reason.trim().is_empty())
        .map(|(i, _)| format!("known-splat[{i}]: needs a fingerprint and the reason it is not the series' doing"))
        .collect();
    if !empty.is_empty() {
        anyhow::bail!("{shown}: {}", empty.join("; "));
    }
    Ok(file.known_splat)
}

const KNOWN_SPLATS: &str = "known-splats.toml";

impl Suite {
    pub fn load(selftests: &Path, name: &str) -> Result<Suite> {
        let dir = selftests.join(name);
        let path = dir.join("suite.toml");
        let shown = format!("selftests/{name}/suite.toml");
        let result = (|| {
            if !path.is_file() {
                anyhow::bail!("no suite `{name}` (no {shown}); suites: {}", Suite::names(selftests).join(", "));
            }
            let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {shown}"))?;
            let spec: SuiteFile =
                toml::from_str(&text).map_err(|e| anyhow::anyhow!("{shown}: {}", e.to_string().trim_end()))?;
            let errors = spec.problems();
            if !errors.is_empty() {
                anyhow::bail!("{shown}: {} invalid value(s):\n  {}", errors.len(), errors.join("\n  "));
            }
            Ok(Suite { name: name.to_owned(), dir, spec, variant: None })
        })();
        result.categorize(Failure::Configuration)
    }

    /// The suites in `selftests`: its directories with a suite.toml.
    pub fn names(selftests: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(selftests)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.path().join("suite.toml").is_file())
            .filter_map(|e| e.file_name().to_str().map(str::to_owned))
            .collect();
        names.sort();
        names
    }

    /// The suite as run by a profile whose results may differ from
    /// x86_64's (another architecture or page-table geometry).
    pub fn with_results(self, variant: Option<String>) -> Suite {
        Suite { variant, ..self }
    }

    /// The reviewed results of the suite's variant, in insta's format,
    /// reviewed in git: `results.VARIANT.snap` where they differ from those
    /// of x86_64, else the shared `results.snap`.
    pub fn snapshot_path(&self) -> PathBuf {
        let own = self.own_snapshot_path();
        if own.is_file() {
            own
        } else {
            self.dir.join("results.snap")
        }
    }

    /// Where results of the suite's variant are accepted: x86_64's are the
    /// shared `results.snap`, another's `results.VARIANT.snap`.
    pub fn own_snapshot_path(&self) -> PathBuf {
        match &self.variant {
            None => self.dir.join("results.snap"),
            Some(variant) => self.dir.join(format!("results.{variant}.snap")),
        }
    }

    pub fn tests(&self) -> impl Iterator<Item = (&TestSpec, u64)> {
        self.spec.test.iter().map(|t| (t, t.timeout.unwrap_or(DEFAULT_TEST_TIMEOUT)))
    }

    /// The runner's plan: one `name<TAB>timeout<TAB>command` line per test.
    pub fn plan(&self) -> String {
        self.tests().map(|(t, timeout)| format!("{}\t{timeout}\t{}\n", t.name, t.run)).collect()
    }
}

impl SuiteFile {
    fn problems(&self) -> Vec<String> {
        let mut errors = Vec::new();
        if self.timeout == 0 {
            errors.push("timeout: must be at least 1 second".to_owned());
        }
        if self.cpus == 0 {
            errors.push("cpus: must be at least 1".to_owned());
        }
        if self.test.is_empty() {
            errors.push("test: a suite needs at least one [[test]]".to_owned());
        }
        for (i, b) in self.build.iter().enumerate() {
            if b.dir.is_empty() || b.dir.starts_with('/') || b.dir.contains("..") {
                errors.push(format!("build[{i}].dir: `{}` must be a directory of tools/testing/selftests", b.dir));
            }
        }
        let mut names: Vec<&str> = Vec::new();
        for (i, t) in self.test.iter().enumerate() {
            let bad_name = t.name.is_empty() || t.name.contains(['\t', '\n', '#']);
            if bad_name {
                errors.push(format!("test[{i}].name: `{}` must be a non-empty name without tabs or '#'", t.name));
            } else if names.contains(&t.name.as_str()) {
                errors.push(format!("test[{i}].name: `{}` is used twice", t.name));
            }
            names.push(&t.name);
            if t.run.trim().is_empty() || t.run.contains(['\t', '\n']) {
                errors.push(format!("test[{i}].run: must be one command line"));
            }
            if t.timeout == Some(0) {
                errors.push(format!("test[{i}].timeout: must be at least 1 second"));
            }
        }
        errors
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_expected_splat_may_be_cut_at_a_frame() {
        let expected = |fingerprint: &str| super::ExpectedSplat { fingerprint: fingerprint.into(), reason: "r".into() };
        let got = "warning: mm/memory.c at vmf_insert_range | vmfir_fault < __do_fault < handle_mm_fault";
        assert!(expected(got).matches(got));
        assert!(expected("warning: mm/memory.c at vmf_insert_range | vmfir_fault").matches(got));
        assert!(expected("warning: mm/memory.c at vmf_insert_range").matches(got));
        assert!(!expected("warning: mm/memory.c at vmf_insert_range | vmfir_fault < do_fault").matches(got));
        assert!(!expected("warning: mm/memory.c at vmf_insert_range | vmfir_fau").matches(got));
        assert!(!expected("warning: mm/memory.c at vmf_insert").matches(got));
    }

    use super::*;

    fn load(text: &str) -> Result<Suite> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("s")).unwrap();
        std::fs::write(dir.path().join("s/suite.toml"), text).unwrap();
        Suite::load(dir.path(), "s")
    }

    /// An architecture shares x86_64's results until it has its own.
    #[test]
    fn each_architecture_reads_its_own_snapshot_or_the_shared_one() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("s")).unwrap();
        let toml = "description = \"d\"\ntimeout = 1\n[[test]]\nname = \"t\"\nrun = \"true\"\n";
        std::fs::write(dir.path().join("s/suite.toml"), toml).unwrap();
        let suite = Suite::load(dir.path(), "s").unwrap();
        assert_eq!(suite.variant, None);
        let shared = suite.dir.join("results.snap");
        let arm64 = suite.with_results(Some("arm64".into()));
        assert_eq!(
            (arm64.snapshot_path(), arm64.own_snapshot_path()),
            (shared.clone(), arm64.dir.join("results.arm64.snap"))
        );
        assert_eq!(crate::guest::snapshot::pending_path(&arm64), arm64.dir.join("results.arm64.snap.new"));
        std::fs::write(arm64.dir.join("results.arm64.snap"), "").unwrap();
        assert_eq!(arm64.snapshot_path(), arm64.dir.join("results.arm64.snap"));
        let x86 = arm64.with_results(None);
        assert_eq!((x86.snapshot_path(), x86.own_snapshot_path()), (shared.clone(), shared));
    }

    #[test]
    fn an_unknown_suite_lists_the_suites() {
        let err = Suite::load(&crate::project::root().join("selftests"), "nosuch").unwrap_err();
        assert_eq!(crate::outcome::exit_code(&err), std::process::ExitCode::from(7));
        insta::assert_snapshot!(format!("{err:#}"), @"configuration error: no suite `nosuch` (no selftests/nosuch/suite.toml); suites: gup, harness-hang, harness-panic, pud-pfnmap, qxl-ttm, remap, rust-pfnmap, vfio-pci, vmf-insert-range, vmf-insert-range-ram, vmf-insert-range-stress");
    }

    #[test]
    fn plan_lines_carry_default_timeouts() {
        let suite = load(
            "description = \"d\"\ntimeout = 60\n[[build]]\ndir = \"mm\"\ntargets = [\"gup_test\"]\n\
             [[test]]\nname = \"gup fast\"\nrun = \"mm/gup_test -u -n 1\"\n\
             [[test]]\nname = \"pin\"\nrun = \"mm/gup_test -a\"\ntimeout = 10\n",
        )
        .unwrap();
        assert_eq!(suite.plan(), "gup fast\t45\tmm/gup_test -u -n 1\npin\t10\tmm/gup_test -a\n");
        assert_eq!(suite.spec.memory, "2G");
    }

    #[test]
    fn mistakes_name_the_file_and_key() {
        let err = load("description = \"d\"\ntimeout = 0\nmemroy = \"1G\"\n[[test]]\nname = \"a\"\nrun = \"x\"\n")
            .unwrap_err();
        insta::assert_snapshot!("unknown_key", format!("{err:#}"));
        let err = load(
            "description = \"d\"\ntimeout = 0\n[[build]]\ndir = \"../x\"\ntargets = []\n\
             [[test]]\nname = \"a\"\nrun = \"x\"\n[[test]]\nname = \"a\"\nrun = \"\"\ntimeout = 0\n",
        )
        .unwrap_err();
        insta::assert_snapshot!("bad_values", format!("{err:#}"));
    }
}
