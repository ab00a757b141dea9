//! `cargo xtask bench`: what vmf_insert_range() buys, measured in one guest
//! boot against the other ways a driver faults device memory in; with
//! `--against base`, the same guest program on the base kernel too, and
//! what upstream has of it side by side; and with `--harness`, what the
//! edit-build-boot-test loop of this tool costs.
//!
//! Stages: build (the kernel, its headers, the guest program
//! bench/vmf_insert_range_bench.c), boot (one guest with every device the
//! targets need), parse and report (bench::report, bench::compare; `--from`
//! runs them alone on a saved guest output).

mod compare;
mod harness;
mod report;
pub mod step_times;

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::{anyhow, Context, Result};
use serde::Serialize;
use xshell::Shell;

use crate::{
    guest::{
        boot::{self, AccelChoice, Ending, Guest, GuestLogs},
        report::write_reproducer,
        root::GuestRoot,
        selftests,
        verdict::{splat_details, Expectations, Verdict},
    },
    kernel::{base::BaseFlags, build::Kbuild},
    outcome::{Categorize, Failure},
    process,
    progress::{self, Stage},
    project::{Kernel, Project},
    setup::{self, Need},
    toolchain,
    xtask_toml::AccelFlag,
    xtask_toml::Arch,
    xtask_toml::Profile,
};
use compare::Comparison;
use report::Report;

const PROGRAM: &str = "bench/vmf_insert_range_bench.c";
/// Printed by the guest program before its first measurement.
const PROGRAM_STARTED: &str = "# vmf_insert_range bench";
/// The C test driver and the Rust sample each take one ivshmem device
/// (2 GiB, which QEMU places 2 GiB aligned, so PUD leaves fit), vfio-pci
/// the one left over (on the base kernel, the first); the QXL device is the
/// one of the qxl-ttm suite.
const QEMU_OPTS: [&str; 12] = [
    "-object",
    "memory-backend-ram,size=2G,id=vmfir",
    "-device",
    "ivshmem-plain,memdev=vmfir",
    "-object",
    "memory-backend-ram,size=2G,id=rustpfnmap",
    "-device",
    "ivshmem-plain,memdev=rustpfnmap",
    "-object",
    "memory-backend-ram,size=2G,id=vfio",
    "-device",
    "ivshmem-plain,memdev=vfio",
];
/// The QXL device of the TTM target, where QEMU has it: Debian's
/// qemu-system-aarch64 is built without it.
const QXL_OPTS: [&str; 2] = ["-device", "qxl-vga,ram_size_mb=512,vgamem_mb=256,vram_size_mb=256"];
const GUEST_MEMORY: &str = "2G";
/// The benchmark is single-threaded: one vCPU keeps another CPU's work and
/// TLB shootdowns out of what it measures.
const GUEST_CPUS: u32 = 1;
const RUN_TIMEOUT: Duration = Duration::from_secs(1800);
const TCG_CAVEAT: &str = "Under TCG, times are indicative and the ratios are the result. QEMU's \
    software TLB, not a hardware TLB, serves the second pass and the random reads: their times follow \
    its state (it is resized at every flush), not TLB reach, and are only meaningful under KVM.";

#[derive(clap::Args, Debug)]
pub struct Bench {
    /// Profile from xtask.toml whose kernel is measured.
    #[arg(long, short, default_value = "default")]
    pub profile: String,
    /// Measurements of every case; the median and spread are reported.
    #[arg(long, default_value_t = 5)]
    pub reps: u32,
    /// Mapping sizes, user address and device memory 1 GiB aligned.
    #[arg(long, value_delimiter = ',', default_value = "2M,16M,64M,256M,1G")]
    pub sizes: Vec<String>,
    /// Sizes also measured at a user address 4 KiB past alignment.
    #[arg(long, value_delimiter = ',', default_value = "64M,1G")]
    pub misaligned: Vec<String>,
    /// Size of the QXL BO measured through TTM.
    #[arg(long, default_value = "64M")]
    pub qxl_bo: String,
    /// Random 8-byte reads per measurement.
    #[arg(long, default_value_t = 1 << 20)]
    pub random_reads: u64,
    /// Accelerator of the guest [default: boot.accel of xtask.toml, else auto].
    #[arg(long, value_enum)]
    pub accel: Option<AccelFlag>,
    /// Measure the tool instead: cold build, no-change rebuild, a one-line
    /// change in mm/memory.c through build and through test, boot to first test.
    #[arg(long, conflicts_with = "from")]
    pub harness: bool,
    /// Report on a saved guest output (results/bench/PROFILE/output.log)
    /// without building or booting.
    #[arg(long, value_name = "LOG")]
    pub from: Option<PathBuf>,
    /// Run the guest program on this kernel too, the base without the
    /// series, and compare what both have: QXL BOs, vfio-pci BARs, /dev/mem.
    #[arg(long, value_enum, value_name = "KERNEL", conflicts_with_all = ["from", "harness"])]
    pub against: Option<Against>,
    #[command(flatten)]
    pub base: BaseFlags,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Against {
    /// Upstream without the series: work/base/linux.
    Base,
}

/// Where the benchmark ran, for the JSON and the README.
#[derive(Debug, Serialize)]
struct Machine {
    cpu: String,
    cores: usize,
    memory_gib: u64,
    accel: AccelChoice,
}

/// The comparison of `--against base`, for the JSON.
#[derive(Debug, Serialize)]
struct ComparisonResult<'a> {
    machine: &'a Machine,
    profile: &'a str,
    arch: Arch,
    reps: u32,
    guest_command: &'a str,
    #[serde(flatten)]
    comparison: &'a Comparison,
}

/// One kernel's run of the guest program, parsed.
struct Run {
    /// What the guest ran.
    command: String,
    accel: AccelChoice,
    boot_to_first_test_s: Option<f64>,
    samples: Vec<report::Sample>,
}

#[derive(Debug, Serialize)]
struct BenchResult<'a> {
    machine: Machine,
    profile: &'a str,
    arch: Arch,
    reps: u32,
    random_reads: u64,
    boot_to_first_test_s: Option<f64>,
    guest_command: String,
    #[serde(flatten)]
    report: &'a Report,
    samples: Vec<report::Sample>,
}

impl Bench {
    pub fn run(&self, sh: &Shell, project: &Project) -> Result<()> {
        if let Some(log) = &self.from {
            return report_saved(log, project.config.profile(&self.profile)?.arch);
        }
        if self.harness {
            return harness::run(sh, project, &self.profile, self.accel, &self.base);
        }
        for size in self.sizes.iter().chain(&self.misaligned).chain([&self.qxl_bo]) {
            check_size(size)?;
        }
        let profile = project.config.profile(&self.profile)?;
        setup::ensure_installed(sh, project, Need::Boot, profile.arch)?;
        let series = self.measure(sh, project, &profile, Kernel::Series)?;
        let report = Report::of(&series.samples);
        let dir = self.results_dir(project, &profile, Kernel::Series);
        let machine = Machine::here(series.accel)?;
        let result = BenchResult {
            machine,
            profile: &profile.name,
            arch: profile.arch,
            reps: self.reps,
            random_reads: self.random_reads,
            boot_to_first_test_s: series.boot_to_first_test_s,
            guest_command: series.command,
            report: &report,
            samples: series.samples,
        };
        let table = format!(
            "{}\n\n{}\n{}\n",
            result.machine.describe(result.boot_to_first_test_s),
            report.table(profile.arch),
            report.targets().join("\n")
        );
        std::fs::write(dir.join("bench.json"), serde_json::to_string_pretty(&result)? + "\n")?;
        std::fs::write(dir.join("table.md"), &table)?;
        progress::print(&format!("\n{table}\nresults: {}\n", project.rel(&dir).display()))?;
        let Some(Against::Base) = self.against else {
            return Ok(());
        };

        let base = self.measure(sh, project, &profile, Kernel::Base)?;
        let comparison = Comparison::of(&Report::of(&base.samples), &report);
        let dir = project.results_dir().join("bench").join(format!("{}-against-base", profile.name));
        std::fs::create_dir_all(&dir)?;
        let machine = &result.machine;
        let table = format!(
            "{}\n\n{}",
            machine.describe(None).replace("Measured on", "Both kernels measured on"),
            comparison.table(profile.arch)
        );
        let json = ComparisonResult {
            machine,
            profile: &profile.name,
            arch: profile.arch,
            reps: self.reps,
            guest_command: &base.command,
            comparison: &comparison,
        };
        std::fs::write(dir.join("comparison.json"), serde_json::to_string_pretty(&json)? + "\n")?;
        std::fs::write(dir.join("table.md"), &table)?;
        progress::print(&format!("\n{table}\nresults: {}\n", project.rel(&dir).display()))?;
        Ok(())
    }

    /// The guest program's arguments, the same on every kernel.
    fn program_args(&self) -> String {
        format!(
            "-r {} -n {} -s {} -m {} -q {}",
            self.reps,
            self.random_reads,
            self.sizes.join(","),
            self.misaligned.join(","),
            self.qxl_bo
        )
    }

    fn results_dir(&self, project: &Project, profile: &Profile, kernel: Kernel) -> PathBuf {
        project.results_dir().join("bench").join(kernel.label(&profile.name))
    }

    /// Build the kernel and the guest program, boot, run and parse: one
    /// kernel's samples, with its guest's logs in its results directory.
    fn measure(&self, sh: &Shell, project: &Project, profile: &Profile, kernel: Kernel) -> Result<Run> {
        let kbuild = Kbuild::new(project, profile, kernel)?;
        let image = kbuild.apply_and_build(sh, &self.base)?;
        let program = build_program(project, &kbuild)?;

        let dir = self.results_dir(project, profile, kernel);
        std::fs::create_dir_all(&dir)?;
        let vng = toolchain::vng_path(project);
        let guest_root = GuestRoot::for_guests(project, profile.arch);
        let foreign = guest_root.as_ref().map(|r| r.foreign(&project.root)).transpose()?;
        let accel = boot::choose_accel(self.accel.unwrap_or(project.config.boot.accel), &vng, &image, foreign, &dir)?;
        let command = format!("exec {} {}", program.display(), self.program_args());
        let qxl: &[&str] = if profile.arch == Arch::X86_64 { &QXL_OPTS } else { &[] };
        let qemu_opts: Vec<String> = QEMU_OPTS.iter().chain(qxl).map(|o| o.to_string()).collect();
        let guest = Guest {
            vng: &vng,
            image: &image,
            foreign,
            accel: accel.accel,
            memory: GUEST_MEMORY,
            cpus: GUEST_CPUS,
            cmdline: &[],
            qemu_opts: &qemu_opts,
            command: command.clone(),
        };
        std::fs::write(dir.join("command.txt"), guest.argv().join("\n") + "\n")?;
        let logs = GuestLogs { console: dir.join("console.log"), output: dir.join("output.log") };
        let mut stage = Stage::start(format!("bench {} [{}]", kbuild.label(), accel.accel));
        let boot_timeout = Duration::from_secs(project.config.boot.boot_timeout);
        let run =
            boot::run(&guest.argv(), &logs, &mut stage, boot_timeout, RUN_TIMEOUT, |l| l.starts_with(PROGRAM_STARTED))?;
        let console = std::fs::read_to_string(&logs.console).unwrap_or_default();
        // The guest prints samples, not KTAP: the kernel's part of the verdict.
        let verdict = Verdict::judge(&console, &Expectations::none());
        if let Some((failure, why)) = verdict.kernel_failure() {
            stage.finish(&why);
            return Err(anyhow!(
                "{why} during the benchmark on {}; console: {}\n{}",
                kbuild.label(),
                logs.console.display(),
                splat_details(&verdict.splats)
            ))
            .categorize(failure);
        }
        let output = std::fs::read_to_string(&logs.output)?;
        let samples = match (&run.ending, report::samples(&output)) {
            (Ending::Exited { code: Some(0) }, Ok(samples)) => samples,
            (ending, parsed) => {
                stage.finish("failed");
                let why = match (ending, parsed) {
                    (Ending::Exited { .. }, Err(err)) => format!("{err:#}"),
                    _ => format!("the benchmark guest did not end cleanly: {ending:?}"),
                };
                let failure =
                    if matches!(ending, Ending::Exited { .. }) { Failure::TestsFailed } else { Failure::Timeout };
                return Err(anyhow!(
                    "{why}\nguest output {}; last console lines:\n      {}",
                    logs.output.display(),
                    run.tail.join("\n      ")
                ))
                .categorize(failure);
            }
        };
        stage.finish(&format!("{} samples", samples.len()));
        write_reproducer(sh, project, &kbuild, &image, &dir)?;
        Ok(Run { command, accel, boot_to_first_test_s: run.booted_after.map(|d| d.as_secs_f64()), samples })
    }
}

/// The parse and report stages alone, on a saved guest output of a
/// profile's architecture.
fn report_saved(log: &Path, arch: Arch) -> Result<()> {
    let output = std::fs::read_to_string(log).with_context(|| format!("cannot read {}", log.display()))?;
    let samples =
        report::samples(&output).with_context(|| log.display().to_string()).categorize(Failure::TestsFailed)?;
    let report = Report::of(&samples);
    progress::print(&format!("{}\n{}\n", report.table(arch), report.targets().join("\n")))?;
    Ok(())
}

/// A size as the guest program takes it: a power of two with K, M or G.
fn check_size(size: &str) -> Result<()> {
    let bytes = size
        .strip_suffix(['K', 'M', 'G'])
        .and_then(|n| n.parse::<u64>().ok())
        .map(|n| n << (10 * (1 + "KMG".find(size.chars().last().unwrap()).unwrap())));
    match bytes {
        Some(b) if b.is_power_of_two() && (4096..=1 << 30).contains(&b) => Ok(()),
        _ => Err(anyhow!("size {size:?}: give a power of two from 4K to 1G with a K, M or G suffix, e.g. 64M"))
            .categorize(Failure::Configuration),
    }
}

/// Compiles the guest program against the patched tree's headers and the
/// test driver's interface header.
fn build_program(project: &Project, kbuild: &Kbuild) -> Result<PathBuf> {
    let mut stage = Stage::start("bench program");
    let headers = selftests::install_headers(project, kbuild, &mut stage)?;
    let out_dir = project.work_dir().join("bench").join(kbuild.label());
    std::fs::create_dir_all(&out_dir)?;
    let program = out_dir.join("vmf_insert_range_bench");
    let source = project.root.join(PROGRAM);
    let log = project.log_dir().join(format!("bench-program-{}.log", kbuild.label()));
    // The guest's C compiler: the host's, or the cross compiler of the
    // guest's Debian root.
    let cc = match kbuild.arch().is_foreign() {
        false => "cc".to_owned(),
        true => format!("{}-gcc", kbuild.arch().gnu_triplet()),
    };
    let cmd = duct::cmd(
        cc,
        [
            "-O2".to_owned(),
            "-Wall".to_owned(),
            "-Wextra".to_owned(),
            "-Werror".to_owned(),
            "-isystem".to_owned(),
            headers.display().to_string(),
            "-I".to_owned(),
            project.tree_dir().join("lib").display().to_string(),
            "-o".to_owned(),
            program.display().to_string(),
            source.display().to_string(),
        ],
    );
    if !process::run_logged(cmd, &log, &mut stage, |l| Some(l.to_owned()))? {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        return Err(anyhow!(
            "{PROGRAM} does not build against the work tree:\n{}\nfull log: {}",
            process::first_errors(&text, 20).join("\n"),
            log.display()
        ))
        .categorize(Failure::BuildFailed);
    }
    stage.finish(&project.rel(&program).display().to_string());
    Ok(program)
}

impl Machine {
    fn here(accel: AccelChoice) -> Result<Machine> {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").context("cannot read /proc/cpuinfo")?;
        let cpu = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name").and_then(|r| r.split_once(':')).map(|(_, m)| m.trim()))
            .unwrap_or("unknown")
            .to_owned();
        let meminfo = std::fs::read_to_string("/proc/meminfo").context("cannot read /proc/meminfo")?;
        let kib: u64 = meminfo
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|r| r.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0);
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Ok(Machine { cpu, cores, memory_gib: (kib + (1 << 19)) >> 20, accel })
    }

    fn describe(&self, boot_to_first_test_s: Option<f64>) -> String {
        let mut text = format!(
            "Measured on {} ({} cores, {} GiB), guest under {} ({})",
            self.cpu, self.cores, self.memory_gib, self.accel.accel, self.accel.why
        );
        if let Some(s) = boot_to_first_test_s {
            text.push_str(&format!(", boot to first measurement {s:.1} s"));
        }
        text.push('.');
        if self.accel.accel == boot::Accel::Tcg {
            text.push(' ');
            text.push_str(TCG_CAVEAT);
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_powers_of_two_with_a_suffix() {
        for good in ["4K", "2M", "64M", "1G"] {
            check_size(good).unwrap();
        }
        for bad in ["3M", "64", "2G", "0K", "M", "1T", "-2M"] {
            let err = check_size(bad).unwrap_err();
            assert!(format!("{err:#}").contains(&format!("{bad:?}")), "{bad}: {err:#}");
        }
    }
}
