//! The suites' programs: the patched tree's headers, then each suite's
//! selftests built from the work tree into the staging directory the
//! guest runs them from (work/selftests/PROFILE/).

use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::{
    guest::suite::Suite,
    kernel::build::Kbuild,
    outcome::{Categorize, Failure},
    process,
    progress::Stage,
    project::Project,
    xtask_toml::Arch,
};

/// Headers from the patched tree, then each suite's programs, into the
/// staging directory the guest runs them from; `kbuild` is the series'.
pub fn build(project: &Project, kbuild: &Kbuild, suites: &[Suite], staging: &Path) -> Result<()> {
    let mut stage = Stage::start("selftests");
    let tree = project.tree_dir();
    let log_dir = project.log_dir();
    let headers = install_headers(project, kbuild, &mut stage)?;
    let khdr = format!("KHDR_INCLUDES=-isystem {}", headers.display());
    let mut built = 0;
    for suite in suites {
        for spec in &suite.spec.build {
            let src = tree.join("tools/testing/selftests").join(&spec.dir);
            let output = staging.join(&spec.dir);
            std::fs::create_dir_all(&output)?;
            for target in &spec.targets {
                let log = log_dir.join(format!("selftest-{}-{}.log", spec.dir.replace('/', "-"), target));
                let mut args = vec![
                    "-C".to_owned(),
                    src.display().to_string(),
                    format!("OUTPUT={}", output.display()),
                    khdr.clone(),
                ];
                args.extend(cross_compile_vars(kbuild.arch()));
                args.push(output.join(target).display().to_string());
                let cmd = duct::cmd("make", args);
                if !process::run_logged(cmd, &log, &mut stage, |l| Some(l.to_owned()))? {
                    let text = std::fs::read_to_string(&log).unwrap_or_default();
                    return Err(anyhow::anyhow!(
                        "selftest {}/{target} of suite {} does not build:\n{}\nfull log: {}",
                        spec.dir,
                        suite.name,
                        process::first_errors(&text, 20).join("\n"),
                        log.display()
                    ))
                    .categorize(Failure::BuildFailed);
                }
                built += 1;
            }
        }
    }
    stage.finish(&format!("{built} program(s) in {}", project.rel(staging).display()));
    Ok(())
}

/// The make variables of kselftest's lib.mk that build for a guest of
/// another architecture than the host's: its GNU C cross compiler, which
/// links against the same C library as the guest's Debian root.
pub fn cross_compile_vars(arch: Arch) -> Vec<String> {
    if !arch.is_foreign() {
        return Vec::new();
    }
    vec![format!("ARCH={}", arch.kernel_name()), format!("CROSS_COMPILE={}-", arch.gnu_triplet())]
}

/// `make headers_install` of the patched tree; returns the include
/// directory user-space programs built for the guest compile against.
pub fn install_headers(project: &Project, kbuild: &Kbuild, stage: &mut Stage) -> Result<PathBuf> {
    let log = project.log_dir().join(format!("headers-{}.log", kbuild.label()));
    if !process::run_logged(kbuild.make(&["headers_install"]), &log, stage, |l| Some(l.to_owned()))? {
        return Err(anyhow::anyhow!("make headers_install failed; see {}", log.display()))
            .categorize(Failure::BuildFailed);
    }
    Ok(kbuild.out_dir().join("usr/include"))
}
