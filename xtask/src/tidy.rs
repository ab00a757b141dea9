//! Checks of the repository as a whole, which `cargo test` runs, as in
//! rust-analyzer's xtask: what no command of the tool checks by itself.

use xshell::{cmd, Shell};

use crate::{project::Project, setup};

/// actionlint on the GitHub workflows (and the local action they use):
/// expressions, contexts, matrix values and action inputs. It is no crate:
/// `cargo xtask setup` installs it into xtask's venv.
#[test]
fn the_ci_workflows_pass_actionlint() {
    let project = Project::load().unwrap();
    let actionlint = setup::python_tool(&project, &setup::ACTIONLINT);
    let sh = Shell::new().unwrap();
    sh.change_dir(&project.root);
    if cmd!(sh, "{actionlint} -version").quiet().ignore_stderr().read().is_err() {
        panic!(
            "cannot run actionlint ({}), which lints .github/workflows/: run `cargo xtask setup`, which installs it \
             into {}",
            actionlint.display(),
            setup::venv_dir(&project).display()
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
