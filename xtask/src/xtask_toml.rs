//! `xtask.toml`: where the base kernel comes from, the toolchain, and the
//! build profiles.
//!
//! Every mistake is reported with the file and the key at fault: serde names
//! unknown and mistyped keys with their line, [`Config::validate`] names the
//! key of every value that parses but makes no sense.

use std::{
    collections::BTreeMap,
    fmt::Write as _,
    path::{Path, PathBuf},
};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::outcome::{Categorize, Failure};

pub const FILE_NAME: &str = "xtask.toml";

/// Ends the label of the base kernel's build of a profile.
pub const BASE_SUFFIX: &str = "-base";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub base: BaseConfig,
    pub toolchain: Toolchain,
    #[serde(default)]
    pub boot: BootConfig,
    pub profile: BTreeMap<String, ProfileConfig>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BaseConfig {
    /// Upstream version the series is written against, e.g. "7.3.4"; the
    /// base tree's Makefile must say the same.
    pub version: String,
    pub debian: Option<DebianSource>,
    pub git: Option<GitSource>,
}

/// Debian's `linux-source-X.Y` binary package: a tarball of the upstream
/// release (with Debian's patches) that any Debian mirror serves.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct DebianSource {
    pub package: String,
    pub version: String,
    pub suite: String,
    #[serde(default = "default_component")]
    pub component: String,
    /// sha256 of the .deb file.
    pub sha256: String,
    /// Path of the source tarball inside the package.
    pub tarball: String,
    /// Archive URI; by default the one the machine's own apt sources use.
    pub mirror: Option<String>,
}

fn default_component() -> String {
    "main".to_owned()
}

/// An existing Linux git repository and the ref the series applies to.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GitSource {
    pub path: PathBuf,
    #[serde(rename = "ref")]
    pub rev: String,
}

/// The programs that build and boot the kernel. Each that names a program
/// can be set for one machine by an environment variable, which wins over
/// xtask.toml: XTASK_LLVM, XTASK_RUSTC, XTASK_BINDGEN, XTASK_VNG (a system
/// that is not Debian 12 names its own binaries so).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Toolchain {
    /// Value of the kernel's `LLVM=` make variable: "1", a suffix such as
    /// "-19", or a directory ending in "/".
    pub llvm: String,
    pub rustc: PathBuf,
    /// `bindgen` executable; looked up in PATH and ~/.cargo/bin when unset.
    pub bindgen: Option<PathBuf>,
    /// `vng` executable; the one setup installs into xtask's venv, else the
    /// one in PATH, when unset.
    pub vng: Option<PathBuf>,
    #[serde(default = "default_true")]
    pub ccache: bool,
    /// Parallel make jobs; the number of CPUs when unset.
    pub jobs: Option<u32>,
}

fn default_true() -> bool {
    true
}

impl Toolchain {
    /// The values the XTASK_* variables `var` finds set, instead of the
    /// file's.
    fn override_from(&mut self, var: impl Fn(&str) -> Option<std::ffi::OsString>) {
        if let Some(llvm) = var("XTASK_LLVM") {
            self.llvm = llvm.to_string_lossy().into_owned();
        }
        if let Some(rustc) = var("XTASK_RUSTC") {
            self.rustc = rustc.into();
        }
        if let Some(bindgen) = var("XTASK_BINDGEN") {
            self.bindgen = Some(bindgen.into());
        }
        if let Some(vng) = var("XTASK_VNG") {
            self.vng = Some(vng.into());
        }
    }
}

/// Which accelerator guests run with (boot.accel, `--accel`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccelFlag {
    /// KVM if a probe boot proves it works, else TCG.
    #[default]
    Auto,
    Kvm,
    Tcg,
}

/// How guests boot.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct BootConfig {
    /// "auto" (KVM if a probe boot proves it works, else TCG), "kvm" or
    /// "tcg"; `cargo xtask test --accel` overrides it.
    #[serde(default)]
    pub accel: AccelFlag,
    /// Seconds from starting a guest to its first test.
    #[serde(default = "default_boot_timeout")]
    pub boot_timeout: u64,
}

impl Default for BootConfig {
    fn default() -> Self {
        BootConfig { accel: AccelFlag::default(), boot_timeout: default_boot_timeout() }
    }
}

/// TCG boots the default kernel in a few seconds; debug kernels take longer.
fn default_boot_timeout() -> u64 {
    120
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ProfileConfig {
    pub inherits: Option<String>,
    /// The architecture the kernel is built for and booted as; the
    /// parent's when unset, else x86_64.
    pub arch: Option<Arch>,
    /// Names the reviewed results of the profile's suites where they
    /// differ from x86_64's (`results.NAME.snap`); the parent's when unset,
    /// else the architecture's name (none for x86_64).
    pub results: Option<String>,
    /// The `.config` the fragments start from; the parent's when unset.
    pub kconfig_start: Option<KconfigStart>,
    #[serde(default)]
    pub fragments: Vec<String>,
    #[serde(default)]
    pub make_args: Vec<String>,
    /// Test suites, each a directory of selftests/ with a suite.toml.
    #[serde(default)]
    pub suites: Vec<String>,
}

/// What a profile's `.config` holds besides the options its fragments ask
/// for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KconfigStart {
    /// Every other option at its Kconfig default (`make olddefconfig`):
    /// what a kernel of the architecture usually has.
    #[default]
    Defaults,
    /// Every other option off that can be (`make allnoconfig` with the
    /// fragments as KCONFIG_ALLCONFIG): only what the fragments ask for
    /// and what that selects is built.
    Allnoconfig,
}

impl KconfigStart {
    /// The make target that writes `.config`.
    pub fn make_target(self) -> &'static str {
        match self {
            KconfigStart::Defaults => "olddefconfig",
            KconfigStart::Allnoconfig => "allnoconfig",
        }
    }
}

/// An architecture a profile builds and boots: the kernel's `ARCH=`, its
/// image, the QEMU that runs it and the C compiler of its user space.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Arch {
    #[default]
    #[serde(rename = "x86_64")]
    X86_64,
    Arm64,
}

impl Arch {
    /// The host's architecture, when it is one of the profiles'.
    pub fn host() -> Option<Arch> {
        match std::env::consts::ARCH {
            "x86_64" => Some(Arch::X86_64),
            "aarch64" => Some(Arch::Arm64),
            _ => None,
        }
    }

    /// Whether the host cannot run its programs: its guests need a root
    /// of their own and cross-compiled selftests.
    pub fn is_foreign(self) -> bool {
        Arch::host() != Some(self)
    }

    /// The kernel's name of it (`ARCH=`, `arch/NAME/`), also vng's `--arch`.
    pub fn kernel_name(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Arm64 => "arm64",
        }
    }

    /// The image make builds and QEMU boots, below the build directory.
    pub fn image_target(self) -> &'static str {
        match self {
            Arch::X86_64 => "bzImage",
            Arch::Arm64 => "Image",
        }
    }

    pub fn image_path(self) -> &'static str {
        match self {
            Arch::X86_64 => "arch/x86/boot/bzImage",
            Arch::Arm64 => "arch/arm64/boot/Image",
        }
    }

    pub fn qemu(self) -> &'static str {
        match self {
            Arch::X86_64 => "qemu-system-x86_64",
            Arch::Arm64 => "qemu-system-aarch64",
        }
    }

    /// The GNU triplet of its Linux user space (`CROSS_COMPILE=` without
    /// the dash), and Debian's name of it (`--arch` of debootstrap).
    pub fn gnu_triplet(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64-linux-gnu",
            Arch::Arm64 => "aarch64-linux-gnu",
        }
    }

    pub fn debian_name(self) -> &'static str {
        match self {
            Arch::X86_64 => "amd64",
            Arch::Arm64 => "arm64",
        }
    }
}

impl std::fmt::Display for Arch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.kernel_name())
    }
}

/// A profile with its inheritance chain flattened, parents first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    pub name: String,
    pub arch: Arch,
    /// See [`ProfileConfig::results`]; `None` when set by neither.
    pub results: Option<String>,
    pub kconfig_start: KconfigStart,
    pub fragments: Vec<String>,
    pub make_args: Vec<String>,
    pub suites: Vec<String>,
}

impl Profile {
    /// The name of the reviewed results its suites are compared with
    /// besides the shared ones: `results`, else the architecture's name
    /// (none for x86_64, whose results are the shared ones).
    pub fn results_variant(&self) -> Option<String> {
        self.results.clone().or_else(|| (self.arch != Arch::X86_64).then(|| self.arch.kernel_name().to_owned()))
    }
}

/// Make variables xtask sets itself from `[toolchain]` and the profile.
const RESERVED_MAKE_VARS: &[&str] = &["O", "LLVM", "RUSTC", "BINDGEN", "CC", "ARCH"];

impl Config {
    pub fn load(root: &Path) -> Result<Config> {
        let path = root.join(FILE_NAME);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}: every command but parse and review needs it", path.display()))
            .categorize(Failure::Configuration)?;
        Config::parse_with(&text, FILE_NAME, root, |name| std::env::var_os(name)).categorize(Failure::Configuration)
    }

    /// `file` names the file in messages; fragments are looked up in
    /// `root`/kconfigs, suites in `root`/selftests; `var` reads the
    /// toolchain's environment variables.
    fn parse_with(
        text: &str,
        file: &str,
        root: &Path,
        var: impl Fn(&str) -> Option<std::ffi::OsString>,
    ) -> Result<Config> {
        let mut config: Config =
            toml::from_str(text).map_err(|e| anyhow::anyhow!("{file}: {}", e.to_string().trim_end()))?;
        config.toolchain.override_from(var);
        config.validate(root).map_err(|errors| {
            let mut msg = format!("{file}: {} invalid value(s):", errors.len());
            for e in &errors {
                write!(msg, "\n  {e}").unwrap();
            }
            anyhow::anyhow!(msg)
        })?;
        Ok(config)
    }

    fn validate(&self, root: &Path) -> std::result::Result<(), Vec<String>> {
        let kconfigs = root.join("kconfigs");
        let mut errors = Vec::new();
        let base = &self.base;
        if !is_kernel_version(&base.version) {
            errors.push(format!("base.version: `{}` is not a kernel version such as \"7.3.4\"", base.version));
        }
        match (&base.debian, &base.git) {
            (Some(_), Some(_)) => errors
                .push("base: both base.debian and base.git are set; keep the one the series applies to".to_owned()),
            (None, None) => errors.push(
                "base: set base.debian (a Debian linux-source package) or base.git (a Linux git tree and ref)"
                    .to_owned(),
            ),
            _ => {}
        }
        if let Some(deb) = &base.debian {
            if deb.sha256.len() != 64 || !deb.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
                errors.push(format!("base.debian.sha256: `{}` is not a sha256 (64 hex digits)", deb.sha256));
            }
            if Path::new(&deb.tarball).is_absolute() || deb.tarball.contains("..") {
                errors
                    .push(format!("base.debian.tarball: `{}` must be a relative path inside the package", deb.tarball));
            }
        }
        if let Some(git) = &base.git {
            if git.rev.trim().is_empty() {
                errors.push("base.git.ref: empty; name a tag, branch or commit".to_owned());
            }
        }

        let llvm = &self.toolchain.llvm;
        let llvm_ok = llvm == "1"
            || llvm.ends_with('/')
            || (llvm.len() > 1 && llvm.starts_with('-') && llvm[1..].bytes().all(|b| b.is_ascii_digit()));
        if !llvm_ok {
            errors.push(format!(
                "toolchain.llvm (or XTASK_LLVM): `{llvm}` is not a value of the kernel's LLVM= variable (\"1\", a version suffix such as \"-19\", or a directory ending in \"/\")"
            ));
        }
        if self.boot.boot_timeout == 0 {
            errors.push("boot.boot-timeout: must be at least 1 second".to_owned());
        }
        if self.toolchain.jobs == Some(0) {
            errors.push("toolchain.jobs: must be at least 1 (leave it out to use every CPU)".to_owned());
        }

        if !self.profile.contains_key("default") {
            errors.push(
                "profile: there is no [profile.default]; `cargo xtask build` uses it when no --profile is given"
                    .to_owned(),
            );
        }
        for (name, profile) in &self.profile {
            if name.ends_with(BASE_SUFFIX) {
                errors.push(format!(
                    "profile.{name}: a name ending in `{BASE_SUFFIX}` names the base kernel's build of a profile \
                     (work/build/PROFILE{BASE_SUFFIX}, results/PROFILE{BASE_SUFFIX}); rename the profile"
                ));
            }
            if let Some(parent) = &profile.inherits {
                if !self.profile.contains_key(parent) {
                    errors.push(format!(
                        "profile.{name}.inherits: unknown profile `{parent}` (profiles: {})",
                        self.profile_names()
                    ));
                } else if self.inheritance_chain(name).is_none() {
                    errors.push(format!("profile.{name}.inherits: profiles inherit from each other in a cycle"));
                }
            }
            if let Some(results) = &profile.results {
                let word =
                    !results.is_empty() && results.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
                if !word {
                    errors.push(format!(
                        "profile.{name}.results: `{results}` must be a word (letters, digits, - and _): it names selftests/SUITE/results.{results}.snap"
                    ));
                }
            }
            for (i, fragment) in profile.fragments.iter().enumerate() {
                if fragment.contains('/') || !kconfigs.join(fragment).is_file() {
                    errors.push(format!("profile.{name}.fragments[{i}]: `{fragment}` is not a file in kconfigs/"));
                }
            }
            for (i, suite) in profile.suites.iter().enumerate() {
                if suite.contains('/') || !root.join("selftests").join(suite).join("suite.toml").is_file() {
                    errors.push(format!(
                        "profile.{name}.suites[{i}]: `{suite}` is not a suite (no selftests/{suite}/suite.toml)"
                    ));
                }
            }
            for (i, arg) in profile.make_args.iter().enumerate() {
                let var = arg.split_once('=').map(|(var, _)| var);
                match var {
                    Some(var) if RESERVED_MAKE_VARS.contains(&var) => errors.push(format!(
                        "profile.{name}.make-args[{i}]: `{arg}`: {var}= is set by xtask from [toolchain] and the profile; remove it"
                    )),
                    Some(var) if !var.is_empty() && var.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_') => {}
                    _ => errors.push(format!(
                        "profile.{name}.make-args[{i}]: `{arg}` is not a make variable assignment such as \"W=1\""
                    )),
                }
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// The architectures of every profile, each once.
    pub fn arches(&self) -> Vec<Arch> {
        self.arches_of(self.profile.keys()).unwrap_or_default()
    }

    /// The architectures of the profiles `names`, each once.
    pub fn arches_of<'a>(&self, names: impl IntoIterator<Item = &'a String>) -> Result<Vec<Arch>> {
        let mut arches: Vec<Arch> = Vec::new();
        for name in names {
            let arch = self.profile(name)?.arch;
            if !arches.contains(&arch) {
                arches.push(arch);
            }
        }
        Ok(arches)
    }

    fn profile_names(&self) -> String {
        self.profile.keys().map(String::as_str).collect::<Vec<_>>().join(", ")
    }

    /// The profile and its ancestors, root first; `None` on a cycle.
    fn inheritance_chain<'a>(&'a self, name: &'a str) -> Option<Vec<&'a str>> {
        let mut chain = vec![name];
        let mut current = name;
        while let Some(parent) = self.profile.get(current).and_then(|p| p.inherits.as_deref()) {
            if chain.contains(&parent) {
                return None;
            }
            chain.push(parent);
            current = parent;
        }
        chain.reverse();
        Some(chain)
    }

    pub fn profile(&self, name: &str) -> Result<Profile> {
        let Some(chain) = self.profile.get(name).and(self.inheritance_chain(name)) else {
            return Err(anyhow::anyhow!("unknown profile `{name}`: {FILE_NAME} defines {}", self.profile_names()))
                .categorize(Failure::Configuration);
        };
        let mut arch = Arch::default();
        let mut results = None;
        let mut kconfig_start = KconfigStart::default();
        let mut fragments = Vec::new();
        let mut make_args = Vec::new();
        let mut suites: Vec<String> = Vec::new();
        for p in chain {
            let p = &self.profile[p];
            arch = p.arch.unwrap_or(arch);
            results = p.results.clone().or(results);
            kconfig_start = p.kconfig_start.unwrap_or(kconfig_start);
            for f in &p.fragments {
                if !fragments.contains(f) {
                    fragments.push(f.clone());
                }
            }
            make_args.extend(p.make_args.iter().cloned());
            suites.extend(p.suites.iter().filter(|s| !suites.contains(s)).cloned().collect::<Vec<_>>());
        }
        Ok(Profile { name: name.to_owned(), arch, results, kconfig_start, fragments, make_args, suites })
    }
}

fn is_kernel_version(v: &str) -> bool {
    let parts: Vec<&str> = v.split('.').collect();
    (2..=3).contains(&parts.len()) && parts.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[base]
version = "7.3.4"

[base.debian]
package = "linux-source-7.3"
version = "7.3.4-1~bpo13+1"
suite = "trixie-backports"
sha256 = "703e369ddd4cce971452f5a593ee55df3a5c10c83caf0fa0df039633ed181ee3"
tarball = "usr/src/linux-source-7.3.tar.xz"

[toolchain]
llvm = "-19"
rustc = "/usr/bin/rustc"

[profile.default]
kconfig-start = "allnoconfig"
fragments = ["a.config", "b.config"]
suites = ["gup"]

[profile.debug]
inherits = "default"
fragments = ["c.config"]
make-args = ["W=1"]
"#;

    /// A project root with the fragments and the suite GOOD names.
    fn kconfigs() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("kconfigs")).unwrap();
        for f in ["a.config", "b.config", "c.config"] {
            std::fs::write(dir.path().join("kconfigs").join(f), "CONFIG_X=y\n").unwrap();
        }
        std::fs::create_dir_all(dir.path().join("selftests/gup")).unwrap();
        std::fs::write(dir.path().join("selftests/gup/suite.toml"), "").unwrap();
        dir
    }

    fn parse_ok(text: &str, dir: &tempfile::TempDir) -> Config {
        Config::parse_with(text, "xtask.toml", dir.path(), |_| None).unwrap()
    }

    fn parse_err(text: &str) -> String {
        let dir = kconfigs();
        format!("{:#}", Config::parse_with(text, "xtask.toml", dir.path(), |_| None).unwrap_err())
    }

    #[test]
    fn good_config_resolves_inherited_profiles() {
        let dir = kconfigs();
        let config = Config::parse_with(GOOD, "xtask.toml", dir.path(), |_| None).unwrap();
        assert_eq!(
            config.profile("debug").unwrap(),
            Profile {
                name: "debug".into(),
                arch: Arch::X86_64,
                results: None,
                kconfig_start: KconfigStart::Allnoconfig,
                fragments: vec!["a.config".into(), "b.config".into(), "c.config".into()],
                make_args: vec!["W=1".into()],
                suites: vec!["gup".into()],
            }
        );
        assert!(config.toolchain.ccache);
        assert_eq!(config.base.debian.unwrap().component, "main");
    }

    /// A profile starts from its own kconfig-start, else its nearest
    /// ancestor's, else the Kconfig defaults.
    #[test]
    fn kconfig_start_is_inherited_unless_set() {
        let dir = kconfigs();
        let config = parse_ok(GOOD, &dir);
        assert_eq!(config.profile("debug").unwrap().kconfig_start, KconfigStart::Allnoconfig);
        let text = GOOD.replace("make-args = [\"W=1\"]", "kconfig-start = \"defaults\"");
        let config = parse_ok(&text, &dir);
        assert_eq!(config.profile("debug").unwrap().kconfig_start, KconfigStart::Defaults);
        let text = GOOD.replace("kconfig-start = \"allnoconfig\"\n", "");
        let config = parse_ok(&text, &dir);
        assert_eq!(config.profile("debug").unwrap().kconfig_start, KconfigStart::Defaults);
        let text = GOOD.replace("\"allnoconfig\"", "\"tinyconfig\"");
        let err = parse_err(&text);
        assert!(err.contains("unknown variant `tinyconfig`, expected `defaults` or `allnoconfig`"), "{err}");
    }

    /// A profile builds for its own arch, else its nearest ancestor's,
    /// else x86_64; setup learns every arch the profiles name.
    #[test]
    fn arch_is_inherited_unless_set() {
        let dir = kconfigs();
        let config = parse_ok(GOOD, &dir);
        assert_eq!(config.profile("debug").unwrap().arch, Arch::X86_64);
        assert_eq!(config.arches(), [Arch::X86_64]);
        let text = GOOD.replace("[profile.default]\n", "[profile.default]\narch = \"arm64\"\n");
        let config = parse_ok(&text, &dir);
        assert_eq!(config.profile("debug").unwrap().arch, Arch::Arm64);
        let text = GOOD.replace("[profile.debug]\n", "[profile.debug]\narch = \"arm64\"\n");
        let config = parse_ok(&text, &dir);
        assert_eq!(config.profile("default").unwrap().arch, Arch::X86_64);
        assert_eq!(config.arches(), [Arch::Arm64, Arch::X86_64]);
        assert_eq!(config.profile("debug").unwrap().results_variant().as_deref(), Some("arm64"));
        assert_eq!(config.profile("default").unwrap().results_variant(), None);
        let text = GOOD.replace("[profile.debug]\n", "[profile.debug]\narch = \"arm64\"\nresults = \"arm64-64k\"\n");
        let config = parse_ok(&text, &dir);
        assert_eq!(config.profile("debug").unwrap().results_variant().as_deref(), Some("arm64-64k"));
        let text = GOOD.replace("[profile.debug]\n", "[profile.debug]\nresults = \"../x\"\n");
        assert!(parse_err(&text).contains("profile.debug.results: `../x` must be a word"), "{}", parse_err(&text));
        let text = GOOD.replace("[profile.debug]\n", "[profile.debug]\narch = \"riscv\"\n");
        let err = parse_err(&text);
        assert!(err.contains("unknown variant `riscv`, expected `x86_64` or `arm64`"), "{err}");
    }

    #[test]
    fn unknown_key_is_named_with_its_line() {
        let text = GOOD.replace("llvm = \"-19\"", "llvm = \"-19\"\nclang = \"clang-19\"");
        insta::assert_snapshot!(parse_err(&text));
    }

    #[test]
    fn wrong_type_is_named() {
        let text = GOOD.replace("fragments = [\"c.config\"]", "fragments = \"c.config\"");
        insta::assert_snapshot!(parse_err(&text));
    }

    #[test]
    fn bad_values_are_all_named() {
        let text = GOOD
            .replace("version = \"7.3.4\"\n", "version = \"seven\"\n")
            .replace("703e369ddd4cce97", "xyz")
            .replace("llvm = \"-19\"", "llvm = \"clang\"")
            .replace("inherits = \"default\"", "inherits = \"release\"")
            .replace("\"b.config\"", "\"missing.config\"")
            .replace("W=1", "O=/tmp/build")
            .replace("suites = [\"gup\"]", "suites = [\"gup\", \"nosuch\"]");
        insta::assert_snapshot!(parse_err(&text));
    }

    /// Its build directory and results would be those of the base kernel
    /// of the profile `debug`.
    #[test]
    fn a_profile_named_as_a_base_build_is_refused() {
        let text = GOOD.replace("[profile.debug]", "[profile.debug-base]");
        insta::assert_snapshot!(parse_err(&text), @r"
        xtask.toml: 1 invalid value(s):
          profile.debug-base: a name ending in `-base` names the base kernel's build of a profile (work/build/PROFILE-base, results/PROFILE-base); rename the profile
        ");
    }

    #[test]
    fn both_and_neither_base_sources_are_refused() {
        let both = GOOD.replace("[toolchain]", "[base.git]\npath = \"/src/linux\"\nref = \"v7.3.4\"\n\n[toolchain]");
        insta::assert_snapshot!("both_sources", parse_err(&both));
        let start = GOOD.find("[base.debian]").unwrap();
        let end = GOOD.find("[toolchain]").unwrap();
        let neither = format!("{}{}", &GOOD[..start], &GOOD[end..]);
        insta::assert_snapshot!("no_source", parse_err(&neither));
    }

    #[test]
    fn inheritance_cycle_and_missing_default_are_refused() {
        let text = GOOD
            .replace("[profile.default]", "[profile.release]\ninherits = \"debug\"\n\n[profile.base]")
            .replace("inherits = \"default\"", "inherits = \"release\"");
        insta::assert_snapshot!(parse_err(&text));
    }

    #[test]
    fn unknown_profile_lists_the_known_ones() {
        let dir = kconfigs();
        let config = Config::parse_with(GOOD, "xtask.toml", dir.path(), |_| None).unwrap();
        let err = config.profile("fast").unwrap_err();
        assert_eq!(crate::outcome::exit_code(&err), std::process::ExitCode::from(7));
        insta::assert_snapshot!(format!("{err:#}"));
    }

    #[test]
    fn a_missing_config_file_is_a_configuration_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = Config::load(dir.path()).unwrap_err();
        assert_eq!(crate::outcome::exit_code(&err), std::process::ExitCode::from(7));
        assert!(format!("{err:#}").contains("xtask.toml: every command but parse and review needs it"), "{err:#}");
    }

    /// A machine that is not Debian 12 names its own binaries; the values
    /// are checked as the file's are.
    #[test]
    fn the_environment_names_the_toolchain_binaries() {
        let dir = kconfigs();
        fn env(vars: &'static [(&str, &str)]) -> impl Fn(&str) -> Option<std::ffi::OsString> {
            move |name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| std::ffi::OsString::from(v))
        }
        let vars = &[("XTASK_LLVM", "1"), ("XTASK_BINDGEN", "/opt/bindgen"), ("XTASK_VNG", "/opt/venv/bin/vng")];
        let config = Config::parse_with(GOOD, "xtask.toml", dir.path(), env(vars)).unwrap();
        let toolchain = &config.toolchain;
        assert_eq!(toolchain.llvm, "1");
        assert_eq!(toolchain.rustc, Path::new("/usr/bin/rustc"));
        assert_eq!(toolchain.bindgen.as_deref(), Some(Path::new("/opt/bindgen")));
        assert_eq!(toolchain.vng.as_deref(), Some(Path::new("/opt/venv/bin/vng")));
        let err = Config::parse_with(GOOD, "xtask.toml", dir.path(), env(&[("XTASK_LLVM", "clang")])).unwrap_err();
        assert!(format!("{err:#}").contains("toolchain.llvm (or XTASK_LLVM): `clang` is not"), "{err:#}");
    }

    #[test]
    fn project_config_is_valid() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let config = Config::load(root).unwrap();
        for name in config.profile.keys() {
            config.profile(name).unwrap();
        }
    }
}
