//! `cargo xtask bench --against base`: the cases both kernels have (the
//! targets upstream has too: QXL BOs through TTM, vfio-pci BARs, /dev/mem
//! remaps), each figure of the base next to the series' and their ratio.

use std::fmt::Write as _;

use serde::Serialize;

use super::report::{ms, placement, size_label, times, Case, Report, Spread};
use crate::xtask_toml::Arch;

/// One figure on both kernels: medians of the same run.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Pair {
    pub base: f64,
    pub series: f64,
}

impl Pair {
    fn of(base: &Spread, series: &Spread) -> Pair {
        Pair { base: base.median, series: series.median }
    }

    /// How many times less the series takes.
    fn ratio(&self) -> f64 {
        self.base / self.series.max(f64::MIN_POSITIVE)
    }
}

#[derive(Debug, Serialize)]
pub struct Row {
    pub target: String,
    pub mode: String,
    pub size: u64,
    /// Where each kernel put the mapping: distance from 2 MiB alignment.
    pub base_placement: String,
    pub series_placement: String,
    pub minor_faults: Pair,
    pub page_tables_kb: Option<Pair>,
    pub map_us: Option<Pair>,
    pub first_pass_ms: Pair,
}

#[derive(Debug, Serialize)]
pub struct Comparison {
    pub rows: Vec<Row>,
    /// Targets one kernel has and the other not (the series' test
    /// drivers), with their number of cases.
    pub series_only: Vec<String>,
    pub base_only: Vec<String>,
}

impl Comparison {
    /// Pairs the cases of the two runs: same target, mode, size and
    /// placement; a mapping the kernel places (mmap(NULL)) is paired by
    /// target, mode and size alone, as its placement is what differs.
    pub fn of(base: &Report, series: &Report) -> Comparison {
        let mut rows = Vec::new();
        let mut base_left: Vec<&Case> = base.cases.iter().collect();
        let mut series_only: Vec<&Case> = Vec::new();
        for s in &series.cases {
            let same = |b: &&Case| b.target == s.target && b.mode == s.mode && b.size == s.size;
            let exact = base_left.iter().position(|b| same(b) && b.misalign == s.misalign);
            let loose = || {
                let mut candidates = base_left.iter().enumerate().filter(|(_, b)| same(b));
                let only = candidates.next().map(|(i, _)| i);
                let unique = only.is_some() && candidates.next().is_none();
                let series_unique = series.cases.iter().filter(|o| same(o)).count() == 1;
                only.filter(|_| unique && series_unique)
            };
            match exact.or_else(loose) {
                Some(i) => {
                    let b = base_left.remove(i);
                    let both = |f: fn(&Case) -> Option<&Spread>| Some(Pair::of(f(b)?, f(s)?));
                    rows.push(Row {
                        target: s.target.clone(),
                        mode: s.mode.clone(),
                        size: s.size,
                        base_placement: placement(b.misalign, b.va_2m_aligned),
                        series_placement: placement(s.misalign, s.va_2m_aligned),
                        minor_faults: Pair::of(&b.minor_faults, &s.minor_faults),
                        page_tables_kb: both(|c| c.page_tables_kb.as_ref()),
                        map_us: both(|c| c.map_us.as_ref()),
                        first_pass_ms: Pair::of(&b.first_pass_ms, &s.first_pass_ms),
                    });
                }
                None => series_only.push(s),
            }
        }
        Comparison { rows, series_only: targets(&series_only), base_only: targets(&base_left) }
    }

    pub fn table(&self, arch: Arch) -> String {
        let arch = arch.kernel_name();
        let mut out = String::new();
        out.push_str("Base kernel → series, medians of the same run; (Nx): how many times less with the series.\n\n");
        out.push_str(
            "| arch | target | size | user address | minor faults | page tables | mmap() | fault-in + touch |\n",
        );
        out.push_str("| --- | --- | ---: | --- | ---: | ---: | ---: | ---: |\n");
        for r in &self.rows {
            let address = if r.base_placement == r.series_placement {
                r.series_placement.clone()
            } else {
                format!("{} → {}", r.base_placement, r.series_placement)
            };
            writeln!(
                out,
                "| {arch} | {} | {} | {address} | {} | {} | {} | {} |",
                r.target,
                size_label(r.size),
                pair(&r.minor_faults, |v| format!("{v:.0}")),
                r.page_tables_kb.map_or("-".into(), |p| pair(&p, |v| format!("{v:.0} KiB"))),
                r.map_us.map_or("-".into(), |p| pair(&p, us)),
                pair(&r.first_pass_ms, ms),
            )
            .unwrap();
        }
        if self.rows.is_empty() {
            out.push_str("(no case was measured on both kernels)\n");
        }
        for (kernel, cases) in [("series", &self.series_only), ("base kernel", &self.base_only)] {
            if !cases.is_empty() {
                writeln!(out, "\nOnly on the {kernel}: {}.", cases.join(", ")).unwrap();
            }
        }
        out
    }
}

/// The targets of @cases, each with how many cases it has.
fn targets(cases: &[&Case]) -> Vec<String> {
    let mut counts: Vec<(String, usize)> = Vec::new();
    for c in cases {
        match counts.iter_mut().find(|(t, _)| *t == c.target) {
            Some((_, n)) => *n += 1,
            None => counts.push((c.target.clone(), 1)),
        }
    }
    counts.into_iter().map(|(t, n)| format!("{t} ({n} case{})", if n == 1 { "" } else { "s" })).collect()
}

fn pair(p: &Pair, show: fn(f64) -> String) -> String {
    let ratio = p.ratio();
    if p.base == p.series {
        show(p.series)
    } else if ratio.is_finite() && p.series > 0.0 {
        format!("{} → {} ({})", show(p.base), show(p.series), times(ratio))
    } else {
        format!("{} → {}", show(p.base), show(p.series))
    }
}

fn us(v: f64) -> String {
    if v >= 1000.0 {
        ms(v / 1000.0)
    } else {
        format!("{v:.0} µs")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::report::samples;

    /// Saved guest outputs of one run on each kernel, compared.
    #[test]
    fn saved_runs_on_both_kernels() {
        insta::glob!("testdata/against-base/*.series.log", |path| {
            let series = std::fs::read_to_string(path).unwrap();
            let base_path = path.to_str().unwrap().replace(".series.log", ".base.log");
            let base = std::fs::read_to_string(&base_path).unwrap();
            let report = |out: &str| Report::of(&samples(out).unwrap());
            let comparison = Comparison::of(&report(&base), &report(&series));
            insta::assert_snapshot!(comparison.table(Arch::X86_64));
        });
    }
}
