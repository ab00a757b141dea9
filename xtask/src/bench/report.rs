//! The parse and report stages of `cargo xtask bench`: the guest program's
//! `bench {...}` lines become samples, the samples of one case (target,
//! mode, size, placement) a median with its spread, and the cases of the C
//! driver the ratios of vmf_insert_range() against the other fault paths.

use std::{collections::BTreeMap, fmt::Write as _};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use crate::xtask_toml::Arch;

const SAMPLE_PREFIX: &str = "bench ";
const ERROR_PREFIX: &str = "bench-error: ";
/// The mode every other mode is compared with.
const RANGE: &str = "range";
/// The target that has every fault mode.
const C_DRIVER: &str = "c-driver";

/// One measurement, as the guest printed it.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Sample {
    pub target: String,
    pub mode: String,
    pub size: u64,
    /// Distance of the user address from 2 MiB alignment.
    pub misalign: u64,
    pub va_2m_aligned: bool,
    pub rep: u32,
    /// The mmap() call, and the page tables (KiB) it added: an eager
    /// remap maps everything there. Absent from outputs of older programs.
    pub map_ns: Option<u64>,
    pub page_tables_map_kb: Option<i64>,
    /// getrusage() minor faults of the first pass.
    pub minor_faults: u64,
    /// The C driver's ->fault and ->huge_fault calls in the first pass.
    pub fault_calls: Option<u64>,
    pub huge_fault_calls: Option<u64>,
    /// Page tables (VmPTE, KiB) since before the mmap() call: after the
    /// first fault, and after the first pass.
    pub page_tables_first_kb: Option<i64>,
    pub page_tables_kb: Option<i64>,
    /// Touch the first page: the latency of the first fault.
    pub first_touch_ns: u64,
    /// Fault in and touch every page, the first included.
    pub first_pass_ns: u64,
    /// Touch every page again, all mapped.
    pub second_pass_ns: u64,
    pub random_reads: u64,
    pub random_ns: u64,
    pub checksum: u64,
}

/// The samples in a guest's output; a `bench-error:` line or a malformed
/// sample is an error naming its line.
pub fn samples(output: &str) -> Result<Vec<Sample>> {
    let mut samples = Vec::new();
    for (n, line) in output.lines().enumerate() {
        if let Some(msg) = line.strip_prefix(ERROR_PREFIX) {
            bail!("the benchmark failed in the guest (line {}): {msg}", n + 1);
        }
        if let Some(json) = line.strip_prefix(SAMPLE_PREFIX) {
            let sample = serde_json::from_str(json)
                .with_context(|| format!("line {}: not a benchmark sample: {line}", n + 1))?;
            samples.push(sample);
        }
    }
    if samples.is_empty() {
        bail!("no `bench {{...}}` line: the benchmark did not run");
    }
    Ok(samples)
}

/// Median, least and greatest of the repetitions.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Spread {
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

impl Spread {
    fn of(mut values: Vec<f64>) -> Spread {
        values.sort_by(f64::total_cmp);
        let n = values.len();
        let median = if n % 2 == 1 { values[n / 2] } else { (values[n / 2 - 1] + values[n / 2]) / 2.0 };
        Spread { median, min: values[0], max: values[n - 1] }
    }

    /// Half the range, relative to the median.
    fn plus_minus_percent(&self) -> f64 {
        if self.median == 0.0 {
            0.0
        } else {
            (self.max - self.min) / 2.0 / self.median * 100.0
        }
    }
}

/// Everything measured for one target, mode, size and placement.
#[derive(Debug, Serialize)]
pub struct Case {
    pub target: String,
    pub mode: String,
    pub size: u64,
    pub misalign: u64,
    pub va_2m_aligned: bool,
    pub reps: usize,
    pub minor_faults: Spread,
    pub fault_calls: Option<Spread>,
    pub huge_fault_calls: Option<Spread>,
    pub map_us: Option<Spread>,
    /// Page tables (KiB) the mapping holds after the first pass.
    pub page_tables_kb: Option<Spread>,
    pub first_touch_us: Spread,
    pub first_pass_ms: Spread,
    pub second_pass_ms: Spread,
    /// Random 8-byte reads per microsecond (millions per second).
    pub random_reads_per_us: Spread,
}

/// How many times fewer faults and less time vmf_insert_range() takes than
/// another mode of the C driver, and how many times more random reads per
/// second it allows; medians of the same run.
#[derive(Debug, Serialize)]
pub struct Ratio {
    pub size: u64,
    pub misalign: u64,
    pub against: String,
    pub faults: f64,
    pub first_pass: f64,
    pub second_pass: f64,
    pub random_reads: f64,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub cases: Vec<Case>,
    pub ratios: Vec<Ratio>,
}

type Key = (String, u64, u64, usize, String);

impl Report {
    pub fn of(samples: &[Sample]) -> Report {
        // Cases in the order of the table: target, placement, size, mode.
        let mut groups: BTreeMap<Key, Vec<&Sample>> = BTreeMap::new();
        for s in samples {
            let key = (target_rank(&s.target), s.misalign, s.size, mode_rank(&s.mode), s.mode.clone());
            groups.entry(key).or_default().push(s);
        }
        let cases: Vec<Case> = groups
            .into_values()
            .map(|group| {
                let first = group[0];
                let spread = |f: &dyn Fn(&Sample) -> f64| Spread::of(group.iter().map(|s| f(s)).collect());
                let calls = |f: fn(&Sample) -> Option<u64>| {
                    group.iter().map(|s| f(s).map(|v| v as f64)).collect::<Option<Vec<_>>>().map(Spread::of)
                };
                Case {
                    target: first.target.clone(),
                    mode: first.mode.clone(),
                    size: first.size,
                    misalign: first.misalign,
                    va_2m_aligned: first.va_2m_aligned,
                    reps: group.len(),
                    minor_faults: spread(&|s| s.minor_faults as f64),
                    fault_calls: calls(|s| s.fault_calls),
                    huge_fault_calls: calls(|s| s.huge_fault_calls),
                    map_us: calls(|s| s.map_ns).map(|ns| Spread {
                        median: ns.median / 1e3,
                        min: ns.min / 1e3,
                        max: ns.max / 1e3,
                    }),
                    page_tables_kb: group
                        .iter()
                        .map(|s| s.page_tables_kb.map(|kb| kb as f64))
                        .collect::<Option<Vec<_>>>()
                        .map(Spread::of),
                    first_touch_us: spread(&|s| s.first_touch_ns as f64 / 1e3),
                    first_pass_ms: spread(&|s| s.first_pass_ns as f64 / 1e6),
                    second_pass_ms: spread(&|s| s.second_pass_ns as f64 / 1e6),
                    random_reads_per_us: spread(&|s| s.random_reads as f64 * 1e3 / s.random_ns.max(1) as f64),
                }
            })
            .collect();
        let ratios = ratios(&cases);
        Report { cases, ratios }
    }

    /// The cases and ratios as Markdown tables, for the screen and README,
    /// whose tables of several architectures are told apart by a column.
    pub fn table(&self, arch: Arch) -> String {
        let arch = arch.kernel_name();
        let mut out = String::new();
        out.push_str("| arch | target | fault path | size | user address | minor faults | first touch | fault-in + touch | second pass | random reads |\n");
        out.push_str("| --- | --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |\n");
        for c in &self.cases {
            writeln!(
                out,
                "| {arch} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                c.target,
                mode_label(&c.mode),
                size_label(c.size),
                placement(c.misalign, c.va_2m_aligned),
                count(&c.minor_faults),
                time_us(&c.first_touch_us),
                time_ms(&c.first_pass_ms),
                time_ms(&c.second_pass_ms),
                throughput(&c.random_reads_per_us),
            )
            .unwrap();
        }
        if !self.ratios.is_empty() {
            out.push_str("\nd) vmf_insert_range() against the other fault paths of the C driver: how many times fewer faults, less time, more random reads per second (medians)\n\n");
            out.push_str(
                "| arch | size | user address | against | faults | fault-in + touch | second pass | random reads |\n",
            );
            out.push_str("| --- | ---: | --- | --- | ---: | ---: | ---: | ---: |\n");
            for r in &self.ratios {
                writeln!(
                    out,
                    "| {arch} | {} | {} | {} | {} | {} | {} | {} |",
                    size_label(r.size),
                    placement(r.misalign, r.misalign == 0),
                    mode_label(&r.against),
                    times(r.faults),
                    times(r.first_pass),
                    times(r.second_pass),
                    times(r.random_reads),
                )
                .unwrap();
            }
        }
        out
    }

    /// The targets for vmf_insert_range() at 1 GiB aligned: at most
    /// 2 faults, fault-in at least 50 times faster than one PTE per fault.
    pub fn targets(&self) -> Vec<String> {
        let gib = 1 << 30;
        let Some(range) = self.case(C_DRIVER, RANGE, gib, 0) else {
            return vec!["targets: not measured (needs the C driver at 1G aligned)".into()];
        };
        let mut lines = Vec::new();
        let faults = range.minor_faults.median;
        lines.push(format!(
            "target: d) at 1 GiB aligned takes <= 2 faults: {faults:.0} ({})",
            if faults <= 2.0 { "met" } else { "MISSED" }
        ));
        if let Some(r) = self.ratios.iter().find(|r| r.size == gib && r.misalign == 0 && r.against == "pte") {
            lines.push(format!(
                "target: d) faults in and touches 1 GiB >= 50x faster than a): {} ({})",
                times(r.first_pass),
                if r.first_pass >= 50.0 { "met" } else { "MISSED" }
            ));
        }
        lines
    }

    fn case(&self, target: &str, mode: &str, size: u64, misalign: u64) -> Option<&Case> {
        self.cases.iter().find(|c| c.target == target && c.mode == mode && c.size == size && c.misalign == misalign)
    }
}

fn ratios(cases: &[Case]) -> Vec<Ratio> {
    let mut ratios = Vec::new();
    for range in cases.iter().filter(|c| c.target == C_DRIVER && c.mode == RANGE) {
        for other in cases
            .iter()
            .filter(|c| c.target == C_DRIVER && c.mode != RANGE && c.size == range.size && c.misalign == range.misalign)
        {
            let ratio = |a: &Spread, b: &Spread| a.median / b.median.max(f64::MIN_POSITIVE);
            ratios.push(Ratio {
                size: range.size,
                misalign: range.misalign,
                against: other.mode.clone(),
                faults: ratio(&other.minor_faults, &range.minor_faults),
                first_pass: ratio(&other.first_pass_ms, &range.first_pass_ms),
                second_pass: ratio(&other.second_pass_ms, &range.second_pass_ms),
                random_reads: ratio(&range.random_reads_per_us, &other.random_reads_per_us),
            });
        }
    }
    ratios
}

fn target_rank(target: &str) -> String {
    // The C driver first: it has every mode; the rest by name.
    if target == C_DRIVER {
        String::new()
    } else {
        target.to_owned()
    }
}

fn mode_rank(mode: &str) -> usize {
    ["pte", "prefault16", "huge-fault", RANGE].iter().position(|m| *m == mode).unwrap_or(usize::MAX)
}

pub(super) fn mode_label(mode: &str) -> String {
    match mode {
        "pte" => "a) vmf_insert_pfn".into(),
        "prefault16" => "b) TTM's 16 PTEs".into(),
        "huge-fault" => "c) huge_fault (vfio)".into(),
        RANGE => "d) vmf_insert_range".into(),
        other => other.into(),
    }
}

pub(super) fn size_label(size: u64) -> String {
    match size {
        s if s >= 1 << 30 && s % (1 << 30) == 0 => format!("{} GiB", s >> 30),
        s if s >= 1 << 20 && s % (1 << 20) == 0 => format!("{} MiB", s >> 20),
        s => format!("{} KiB", s >> 10),
    }
}

pub(super) fn placement(misalign: u64, va_2m_aligned: bool) -> String {
    if va_2m_aligned {
        "aligned".into()
    } else {
        format!("+{} KiB", misalign >> 10)
    }
}

fn count(s: &Spread) -> String {
    if s.min == s.max {
        format!("{:.0}", s.median)
    } else {
        format!("{:.0} ({:.0}-{:.0})", s.median, s.min, s.max)
    }
}

fn time_ms(s: &Spread) -> String {
    format!("{} ±{:.0}%", ms(s.median), s.plus_minus_percent())
}

/// Milliseconds, in seconds from 1000 on.
pub(super) fn ms(v: f64) -> String {
    if v >= 1000.0 {
        format!("{:.2} s", v / 1000.0)
    } else if v >= 10.0 {
        format!("{v:.1} ms")
    } else {
        format!("{v:.2} ms")
    }
}

fn time_us(s: &Spread) -> String {
    let pm = s.plus_minus_percent();
    if s.median >= 1000.0 {
        format!("{:.2} ms ±{pm:.0}%", s.median / 1000.0)
    } else {
        format!("{:.0} µs ±{pm:.0}%", s.median)
    }
}

fn throughput(s: &Spread) -> String {
    format!("{:.1} M/s ±{:.0}%", s.median, s.plus_minus_percent())
}

pub(super) fn times(ratio: f64) -> String {
    if ratio >= 100.0 {
        format!("{ratio:.0}x")
    } else {
        format!("{ratio:.1}x")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_guest_outputs() {
        insta::glob!("testdata/*.log", |path| {
            let output = std::fs::read_to_string(path).unwrap();
            let report = match samples(&output) {
                Ok(samples) => {
                    let report = Report::of(&samples);
                    format!("{}\n{}\n", report.table(Arch::X86_64), report.targets().join("\n"))
                }
                Err(err) => format!("error: {err:#}\n"),
            };
            insta::assert_snapshot!(report);
        });
    }

    #[test]
    fn median_of_even_and_odd_counts() {
        assert_eq!(Spread::of(vec![3.0, 1.0, 2.0]), Spread { median: 2.0, min: 1.0, max: 3.0 });
        assert_eq!(Spread::of(vec![4.0, 1.0, 2.0, 3.0]), Spread { median: 2.5, min: 1.0, max: 4.0 });
        assert_eq!(Spread { median: 10.0, min: 9.0, max: 11.0 }.plus_minus_percent(), 10.0);
    }

    /// The README's benchmark tables come from a run on the development
    /// machine, pasted between the `bench table` markers: their figures
    /// are that run's, but their form is what `cargo xtask bench` prints
    /// today. Rendered from the saved 5-repetition run: the same header,
    /// separator and explaining lines, the same cases in the same order
    /// (target, fault path, size, user address), and target lines that
    /// say the same. A change to the report fails here until the README
    /// has a table from a new run.
    #[test]
    fn the_readme_tables_are_those_bench_prints() {
        let readme = std::fs::read_to_string(crate::project::root().join("README.md")).unwrap();
        let start = readme.find("<!-- bench table -->\n").expect("README.md has no `<!-- bench table -->`");
        let end = readme.find("<!-- end bench table -->").expect("README.md has no `<!-- end bench table -->`");
        let pasted = &readme[start..end];
        let output = include_str!("testdata/tcg-5-reps.log");
        let report = Report::of(&samples(output).unwrap());
        let printed = format!("{}\n{}\n", report.table(Arch::X86_64), report.targets().join("\n"));

        // A row's identity: the columns that are not measurements.
        let rows = |text: &str| -> Vec<String> {
            text.lines()
                .filter(|l| l.starts_with("| ") && !l.starts_with("| ---") && l.split(" | ").nth(1).is_some())
                .map(|l| {
                    let cells: Vec<&str> = l.trim_matches('|').split(" | ").map(str::trim).collect();
                    let identity = if cells.len() == 10 { 5 } else { 4 };
                    cells[..identity].join(" | ")
                })
                .collect()
        };
        assert_eq!(rows(pasted), rows(&printed), "README.md's bench table has other rows than bench prints");
        for line in printed.lines() {
            let form = match line.split_once(": ") {
                Some(("target", _)) => line.rsplit_once(": ").unwrap().0,
                _ if line.starts_with("| arch") || line.starts_with("| ---") => line,
                _ if line.starts_with("d) vmf_insert_range() against") => line,
                _ => continue,
            };
            assert!(pasted.contains(form), "README.md's bench table lacks `{form}`: paste a table from a new run");
        }
    }
}
