//! Checks of the repository as a whole, which `cargo test` runs, as in
//! rust-analyzer's xtask: what no command of the tool checks by itself.

use serde::Deserialize;
use xshell::{cmd, Shell};

use crate::{guest::suite::Suite, project::Project, toolchain};

/// actionlint on the GitHub workflows (and the local action they use):
/// expressions, contexts, matrix values and action inputs. It is no crate:
/// `cargo xtask setup` installs it into xtask's venv.
#[test]
fn the_ci_workflows_pass_actionlint() {
    let project = Project::load().unwrap();
    let actionlint = toolchain::python_tool(&project, &toolchain::ACTIONLINT);
    let sh = Shell::new().unwrap();
    sh.change_dir(&project.root);
    if cmd!(sh, "{actionlint} -version").quiet().ignore_stderr().read().is_err() {
        panic!(
            "cannot run actionlint ({}), which lints .github/workflows/: run `cargo xtask setup`, which installs it \
             into {}",
            actionlint.display(),
            toolchain::venv_dir(&project).display()
        );
    }
    let mut workflows: Vec<String> = std::fs::read_dir(project.root.join(".github/workflows"))
        .unwrap()
        .map(|e| format!(".github/workflows/{}", e.unwrap().file_name().to_string_lossy()))
        .collect();
    workflows.sort();
    assert!(workflows.len() >= 2, "{workflows:?}");
    let out = cmd!(sh, "{actionlint} -no-color {workflows...}").quiet().ignore_status().output().unwrap();
    assert!(
        out.status.success(),
        "actionlint finds problems in the workflows:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Cargo.lock's packages, as much as these checks read of them.
#[derive(Deserialize)]
struct Lock {
    package: Vec<LockedPackage>,
}

#[derive(Deserialize)]
struct LockedPackage {
    name: String,
    version: String,
}

/// The lock holds what keeps xtask's own build short and cargo alone would
/// not keep: `cargo update` takes idna_adapter 1.2, which compiles ICU4X's
/// Unicode tables (a sixth of a cold build) for the international domain
/// names of URLs that git2 never parses here; 1.0 is its stub, chosen by
/// pinning it in the lock, as idna_adapter documents.
#[test]
fn the_lock_keeps_icu_out_of_the_build() {
    let text = std::fs::read_to_string(crate::project::root().join("Cargo.lock")).unwrap();
    let lock: Lock = toml::from_str(&text).unwrap();
    let idna_adapter: Vec<&str> =
        lock.package.iter().filter(|p| p.name == "idna_adapter").map(|p| p.version.as_str()).collect();
    assert_eq!(
        idna_adapter,
        ["1.0.0"],
        "Cargo.lock: idna_adapter is not the stub; pin it again: cargo update -p idna_adapter --precise 1.0.0"
    );
    let icu: Vec<&str> = lock.package.iter().map(|p| p.name.as_str()).filter(|n| n.starts_with("icu_")).collect();
    assert!(icu.is_empty(), "Cargo.lock has ICU4X crates again: {icu:?}");
}

/// xtask writes to the terminal only through `progress::say` and
/// `progress::print`, which take the stages' spinners away while they
/// write: a line printed past them would land in the middle of one. Test
/// code may print (the helper processes of the signal tests report so).
#[test]
fn output_goes_through_the_progress_display() {
    let src = crate::project::root().join("xtask/src");
    let mut offenders = Vec::new();
    let mut dirs = vec![src.clone()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            if !name.ends_with(".rs") || ["progress.rs", "tidy.rs", "tests.rs"].contains(&name.as_str()) {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let code = text.split("\n#[cfg(test)]\nmod tests").next().unwrap();
            for (i, line) in code.lines().enumerate() {
                if ["println!(", "eprintln!(", "print!(", "eprint!("].iter().any(|m| line.contains(m)) {
                    offenders.push(format!(
                        "{}:{}: {}",
                        path.strip_prefix(&src).unwrap().display(),
                        i + 1,
                        line.trim()
                    ));
                }
            }
        }
    }
    assert!(offenders.is_empty(), "write through progress::say or progress::print:\n{}", offenders.join("\n"));
}

/// Every suite under selftests/ loads: a mistake in a suite that no
/// profile runs (harness-hang, harness-panic) shows here, not when someone
/// first runs it.
#[test]
fn every_suite_toml_parses() {
    let selftests = crate::project::root().join("selftests");
    let names = Suite::names(&selftests);
    let dirs = std::fs::read_dir(&selftests).unwrap().filter(|e| e.as_ref().unwrap().path().is_dir()).count();
    assert_eq!(names.len(), dirs, "a directory of selftests/ has no suite.toml: {names:?}");
    for name in &names {
        let suite = Suite::load(&selftests, name).unwrap_or_else(|e| panic!("{e:#}"));
        assert!(!suite.spec.test.is_empty(), "{name}");
    }
}

/// The modules below the stages (where things are, the configuration, the
/// toolchain, how programs run and what the terminal shows, signals, the
/// lock, the exit codes) import no stage and no command: the stages are
/// built on them, and an import the other way makes a cycle sooner or
/// later (project and setup imported each other once).
#[test]
fn the_plumbing_imports_no_stage() {
    let src = crate::project::root().join("xtask/src");
    let plumbing = ["project", "xtask_toml", "toolchain", "process", "progress", "signals", "lock", "outcome"];
    let stages = ["kernel::", "guest::", "mail::", "bench::", "setup::"];
    let mut upward = Vec::new();
    for module in plumbing {
        let text = std::fs::read_to_string(src.join(format!("{module}.rs"))).unwrap();
        let code = text.split("\n#[cfg(test)]\nmod tests").next().unwrap();
        for line in code.lines().filter(|l| !l.trim_start().starts_with("//")) {
            if let Some(stage) = stages.iter().find(|s| line.contains(*s)) {
                upward.push(format!("{module}.rs imports {stage}: {}", line.trim()));
            }
        }
    }
    assert!(upward.is_empty(), "{}", upward.join("\n"));
}
