//! Where a cold kernel build spends its time. The cold build of `bench
//! --harness` runs the compiler, rustc and bindgen through the hidden
//! command `cargo xtask time-step`, which runs the real program and
//! appends to a log how long it took and what it wrote; the log is then
//! summed by part of the tree. The times are of each process, so with
//! `-jN` they add up to about N times the build's wall time.

use std::{
    collections::BTreeMap,
    ffi::OsString,
    fmt::Write as _,
    io::Write as _,
    os::unix::{fs::PermissionsExt, process::ExitStatusExt},
    path::{Path, PathBuf},
    process::Command,
    time::Instant,
};

use anyhow::{Context, Result};
use serde::Serialize;

use crate::process;

/// The hidden `cargo xtask time-step --log LOG -- PROGRAM ARGS...`.
#[derive(clap::Args, Debug)]
pub struct TimeStep {
    /// File each step's line is appended to.
    #[arg(long)]
    log: PathBuf,
    /// The program, and its arguments.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
    command: Vec<OsString>,
}

impl TimeStep {
    /// Runs the step with the caller's stdio and exits as it did, so that
    /// make sees the program itself.
    pub fn run(&self) -> Result<()> {
        let (program, args) = self.command.split_first().expect("clap requires a program");
        let start = Instant::now();
        let status = Command::new(program)
            .args(args)
            .status()
            .with_context(|| format!("time-step: cannot run {}", program.to_string_lossy()))?;
        let line = format!("{:.3}\t{}\n", start.elapsed().as_secs_f64(), output_of(args).unwrap_or_default());
        // One write of an O_APPEND file: lines of parallel steps do not mix.
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .and_then(|mut log| log.write_all(line.as_bytes()))
            .with_context(|| format!("time-step: cannot append to {}", self.log.display()))?;
        match (status.code(), status.signal()) {
            (Some(0), _) => Ok(()),
            (Some(code), _) => std::process::exit(code),
            (None, signal) => std::process::exit(128 + signal.unwrap_or(0)),
        }
    }
}

/// Writes `dir/NAME` (NAME: the program's file name), a script that runs
/// `program` through `xtask time-step`, and returns its path. make gets
/// the script as CC, RUSTC or BINDGEN, one word: Kconfig runs
/// `"$RUSTC" --version` quoted (scripts/rust_is_available.sh), so a
/// RUSTC of several words would turn CONFIG_RUST off.
pub fn write_timer(dir: &Path, xtask: &Path, log: &Path, program: &Path) -> Result<PathBuf> {
    let name = program.file_name().with_context(|| format!("{} names no program", program.display()))?;
    let script = dir.join(name);
    let quote = |p: &Path| process::sh_quote(&p.to_string_lossy());
    let text =
        format!("#!/bin/sh\nexec {} time-step --log {} -- {} \"$@\"\n", quote(xtask), quote(log), quote(program));
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    std::fs::write(&script, text).with_context(|| format!("cannot write {}", script.display()))?;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))
        .with_context(|| format!("cannot make {} executable", script.display()))?;
    Ok(script)
}

/// The file a compiler step writes: `-o FILE` (clang, bindgen, rustc) or
/// rustc's `--emit=KIND=FILE` other than the dependency file.
fn output_of(args: &[OsString]) -> Option<String> {
    let args: Vec<String> = args.iter().map(|a| a.to_string_lossy().into_owned()).collect();
    if let Some(i) = args.iter().position(|a| a == "-o") {
        return args.get(i + 1).cloned();
    }
    args.iter().find_map(|a| {
        let (kind, file) = a.strip_prefix("--emit=")?.split_once('=')?;
        (kind != "dep-info").then(|| file.to_owned())
    })
}

/// The part of the tree an output belongs to: each Rust crate of rust/ on
/// its own, two levels under drivers/, the top directory elsewhere; steps
/// that write nothing in the tree are the configuration's probes.
fn part_of(output: &str) -> String {
    let output = output.trim_start_matches("./");
    if output.is_empty() || output.starts_with('/') {
        return "compiler probes (cc-option, rustc and bindgen checks)".into();
    }
    let parts: Vec<&str> = output.split('/').collect();
    match parts.as_slice() {
        ["rust", file, ..] => format!("rust/{}", file.split('.').next().unwrap_or(file)),
        ["drivers", sub, _, ..] => format!("drivers/{sub}/"),
        [dir, _, ..] => format!("{dir}/"),
        _ => "top level".into(),
    }
}

#[derive(Debug, Serialize, PartialEq)]
pub struct Part {
    pub part: String,
    pub steps: usize,
    pub seconds: f64,
}

/// The steps of `log` summed by part of the tree, the costliest first.
pub fn summarize(log: &Path) -> Result<Vec<Part>> {
    let text = std::fs::read_to_string(log).with_context(|| format!("cannot read {}", log.display()))?;
    let mut parts: BTreeMap<String, Part> = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let parsed = line.split_once('\t').and_then(|(secs, output)| Some((secs.parse::<f64>().ok()?, output)));
        let Some((seconds, output)) = parsed else {
            anyhow::bail!("{}:{}: not a time-step line: {line:?}", log.display(), i + 1);
        };
        let name = part_of(output);
        let part = parts.entry(name.clone()).or_insert(Part { part: name, steps: 0, seconds: 0.0 });
        part.steps += 1;
        part.seconds += seconds;
    }
    let mut parts: Vec<Part> = parts.into_values().collect();
    parts.sort_by(|a, b| b.seconds.total_cmp(&a.seconds));
    Ok(parts)
}

/// The costliest `shown` parts as a markdown table, the rest in one row.
pub fn table(parts: &[Part], shown: usize) -> String {
    let total: f64 = parts.iter().map(|p| p.seconds).sum();
    let mut table = String::from("| part of the tree | steps | compile time | share |\n| --- | ---: | ---: | ---: |\n");
    let mut row = |name: &str, steps: usize, seconds: f64| {
        let share = if total > 0.0 { 100.0 * seconds / total } else { 0.0 };
        writeln!(table, "| {name} | {steps} | {seconds:.0} s | {share:.1} % |").unwrap();
    };
    for p in parts.iter().take(shown) {
        row(&p.part, p.steps, p.seconds);
    }
    let rest = &parts[shown.min(parts.len())..];
    if !rest.is_empty() {
        let steps = rest.iter().map(|p| p.steps).sum();
        row(&format!("{} other parts", rest.len()), steps, rest.iter().map(|p| p.seconds).sum());
    }
    row("all", parts.iter().map(|p| p.steps).sum(), total);
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<OsString> {
        line.split_whitespace().map(OsString::from).collect()
    }

    /// make runs the timer as the program itself: every word reaches
    /// xtask as it was, whatever the paths hold.
    #[test]
    fn a_timer_hands_every_word_to_time_step() {
        let dir = tempfile::tempdir().unwrap();
        let odd = dir.path().join("it's a dir");
        std::fs::create_dir(&odd).unwrap();
        let xtask = odd.join("xtask");
        std::fs::write(&xtask, "#!/bin/sh\nprintf '%s\\n' \"$@\"\n").unwrap();
        std::fs::set_permissions(&xtask, std::fs::Permissions::from_mode(0o755)).unwrap();
        let (log, rustc) = (odd.join("steps log"), Path::new("/usr/bin/rustc"));

        let timer = write_timer(&odd.join("timers"), &xtask, &log, rustc).unwrap();
        assert_eq!(timer, odd.join("timers/rustc"));
        let out = Command::new(&timer).args(["--emit=obj=rust/core.o", "two words", ""]).output().unwrap();
        assert!(out.status.success());
        let expected = [
            "time-step",
            "--log",
            &log.to_string_lossy(),
            "--",
            "/usr/bin/rustc",
            "--emit=obj=rust/core.o",
            "two words",
            "",
        ];
        assert_eq!(String::from_utf8(out.stdout).unwrap(), expected.map(|w| format!("{w}\n")).concat());
    }

    /// Argument lists as Kbuild passes them to clang, rustc and bindgen.
    #[test]
    fn the_output_of_each_kind_of_step() {
        let clang = "-Wp,-MMD,mm/.memory.o.d -nostdinc -O2 -c -o mm/memory.o ../../linux/mm/memory.c";
        assert_eq!(output_of(&args(clang)).as_deref(), Some("mm/memory.o"));
        let rustc =
            "--edition=2021 --emit=dep-info=rust/.kernel.o.d --emit=obj=rust/kernel.o ../../linux/rust/kernel/lib.rs";
        assert_eq!(output_of(&args(rustc)).as_deref(), Some("rust/kernel.o"));
        let bindgen = "../../linux/rust/bindings/bindings_helper.h --blocklist-type __kernel_s -o rust/bindings/bindings_generated.rs -- -nostdinc";
        assert_eq!(output_of(&args(bindgen)).as_deref(), Some("rust/bindings/bindings_generated.rs"));
        assert_eq!(output_of(&args("--version")), None);
    }

    #[test]
    fn outputs_are_grouped_by_part_of_the_tree() {
        assert_eq!(part_of("rust/core.o"), "rust/core");
        assert_eq!(part_of("rust/bindings/bindings_generated.rs"), "rust/bindings");
        assert_eq!(part_of("drivers/gpu/drm/drm_gem.o"), "drivers/gpu/");
        assert_eq!(part_of("./net/ipv6/route.o"), "net/");
        assert_eq!(part_of("/dev/null"), "compiler probes (cc-option, rustc and bindgen checks)");
        assert_eq!(part_of(""), "compiler probes (cc-option, rustc and bindgen checks)");
        assert_eq!(part_of("vmlinux.o"), "top level");
    }

    #[test]
    fn a_log_is_summed_costliest_first() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("steps.log");
        std::fs::write(&log, "1.5\tmm/memory.o\n2.0\tnet/ipv6/route.o\n1.0\tmm/mremap.o\n0.1\t\n").unwrap();
        let parts = summarize(&log).unwrap();
        let names: Vec<(&str, usize)> = parts.iter().map(|p| (p.part.as_str(), p.steps)).collect();
        assert_eq!(names, [("mm/", 2), ("net/", 1), ("compiler probes (cc-option, rustc and bindgen checks)", 1)]);
        let table = table(&parts, 1);
        assert!(table.contains("| mm/ | 2 | 2 s | 54.3 % |"), "{table}");
        assert!(table.contains("| 2 other parts | 2 | 2 s | 45.7 % |"), "{table}");
        assert!(table.contains("| all | 4 | 5 s | 100.0 % |"), "{table}");

        std::fs::write(&log, "1.5 mm/memory.o\n").unwrap();
        let err = summarize(&log).unwrap_err().to_string();
        assert!(err.ends_with("steps.log:1: not a time-step line: \"1.5 mm/memory.o\""), "{err}");
    }
}
