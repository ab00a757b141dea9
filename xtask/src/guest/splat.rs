//! Kernel splats in a console log: oopses, BUGs, panics, WARNs, sanitizer
//! reports (KASAN, UBSAN, KFENCE), lockdep reports, lockups, RCU stalls,
//! hung tasks, Rust panics, and mm's own corruption reports (bad page
//! table entries, bad page maps and states, rss-counter and pgtables_bytes
//! leaks). Any of them fails a run, whatever the tests printed.
//!
//! The titles are those syzkaller's pkg/report/linux.go and 0-day's
//! dmesg checks recognise on x86, plus the printk formats of mm that
//! neither lists (`<file>:<line>: bad pud <ptr>(<value>)` from pud_ERROR()
//! and kin). Left out on purpose: ARM-only traps (`Unhandled fault:`,
//! `Alignment trap:`), Android's `trusty: panic`, and syzkaller's
//! unexpected-reboot title `Booting the kernel` (vng runs with `-no-reboot`,
//! so a reboot ends the guest and shows as a missing result).
//!
//! Each splat gets a fingerprint that stays the same from run to run and
//! across unrelated code changes: its kind, the title with numbers,
//! addresses and line numbers removed, and the first functions of its call
//! trace without offsets. A suite can name the fingerprints of splats it
//! provokes on purpose.

use std::fmt;

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    Panic,
    Oops,
    Bug,
    Warning,
    Kasan,
    Kfence,
    Ubsan,
    Lockdep,
    SoftLockup,
    HardLockup,
    RcuStall,
    HungTask,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Panic => "panic",
            Kind::Oops => "oops",
            Kind::Bug => "bug",
            Kind::Warning => "warning",
            Kind::Kasan => "kasan",
            Kind::Kfence => "kfence",
            Kind::Ubsan => "ubsan",
            Kind::Lockdep => "lockdep",
            Kind::SoftLockup => "soft-lockup",
            Kind::HardLockup => "hard-lockup",
            Kind::RcuStall => "rcu-stall",
            Kind::HungTask => "hung-task",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Splat {
    pub kind: Kind,
    pub fingerprint: String,
    /// 1-based line of the log where it first starts.
    pub line: usize,
    /// How many times the same report (same fingerprint) came.
    pub count: usize,
    /// The first lines of the report, as printed.
    pub excerpt: Vec<String>,
}

/// Lines of a report shown on screen and kept in the results.
const EXCERPT_LINES: usize = 12;
/// Call-trace functions in a fingerprint.
const FINGERPRINT_FRAMES: usize = 3;
/// How far after the title the call trace is looked for.
const TRACE_WINDOW: usize = 80;

/// What starts a splat, checked in order (the first match wins).
fn classify(line: &str) -> Option<Kind> {
    const PATTERNS: &[(&str, Kind)] = &[
        ("Kernel panic - not syncing", Kind::Panic),
        ("PANIC: double fault", Kind::Panic),
        ("rust_kernel: panicked", Kind::Panic),
        ("BUG: KASAN:", Kind::Kasan),
        ("BUG: KFENCE:", Kind::Kfence),
        ("UBSAN:", Kind::Ubsan),
        ("BUG: soft lockup", Kind::SoftLockup),
        ("Watchdog detected hard LOCKUP", Kind::HardLockup),
        ("WARNING: possible circular locking dependency", Kind::Lockdep),
        ("WARNING: possible recursive locking", Kind::Lockdep),
        ("WARNING: possible irq lock inversion dependency", Kind::Lockdep),
        ("-unsafe lock order detected", Kind::Lockdep),
        ("WARNING: inconsistent lock state", Kind::Lockdep),
        ("WARNING: suspicious RCU usage", Kind::Lockdep),
        ("WARNING: bad unlock balance", Kind::Lockdep),
        ("WARNING: held lock freed", Kind::Lockdep),
        ("WARNING: lock held when returning to user space", Kind::Lockdep),
        ("WARNING: Nested lock was not taken", Kind::Lockdep),
        ("INFO: trying to register non-static key", Kind::Lockdep),
        ("BUG: Invalid wait context", Kind::Lockdep),
        ("BUG: sleeping function called from invalid context", Kind::Bug),
        ("BUG: scheduling while atomic", Kind::Bug),
        ("detected stalls on CPUs/tasks", Kind::RcuStall),
        ("detected expedited stalls on CPUs/tasks", Kind::RcuStall),
        ("self-detected stall on CPU", Kind::RcuStall),
        ("blocked for more than", Kind::HungTask),
        ("can't die for more than", Kind::HungTask),
        ("kernel BUG at ", Kind::Bug),
        ("Kernel BUG ", Kind::Bug),
        // mm: "BUG: Bad page map", "BUG: Bad page state", "BUG: Bad page
        // cache", "BUG: Bad rss-counter state", "BUG: non-zero
        // pgtables_bytes on freeing mm" are all BUG: titles.
        ("BUG: ", Kind::Bug),
        ("Bad swap file entry ", Kind::Bug),
        ("Bad swap offset entry ", Kind::Bug),
        ("VFS: Busy inodes after unmount", Kind::Bug),
        ("unregister_netdevice: waiting for", Kind::HungTask),
        ("Oops: ", Kind::Oops),
        ("general protection fault", Kind::Oops),
        ("Unable to handle kernel", Kind::Oops),
        ("Internal error: ", Kind::Oops),
        ("WARNING: CPU: ", Kind::Warning),
        ("WARNING: at ", Kind::Warning),
    ];
    /// x86 traps that older kernels print without "Oops: " before them.
    const TRAPS: &[&str] = &["divide error: ", "invalid opcode: ", "int3: ", "stack segment: "];
    let trimmed = line.trim_start();
    PATTERNS
        .iter()
        .find(|(pattern, _)| line.contains(pattern))
        .map(|(_, kind)| *kind)
        .or_else(|| TRAPS.iter().any(|t| trimmed.starts_with(t)).then_some(Kind::Oops))
        // SLUB: "BUG kmalloc-64 (Not tainted): Redzone overwritten".
        .or_else(|| (trimmed.starts_with("BUG ") && trimmed.contains("): ")).then_some(Kind::Bug))
        .or_else(|| is_bad_page_table_entry(trimmed).then_some(Kind::Bug))
        // Since 6.19 a WARN reads "WARNING: FILE:LINE at FUNC+OFF, CPU#N: COMM/PID".
        .or_else(|| trimmed.starts_with("WARNING: ").then_some(Kind::Warning))
}

/// `mm/pgtable-generic.c:44: bad pud 00000000d1a5f0b2(80000001000000e7)`:
/// pgd_ERROR() and kin, printed when a walk finds a corrupt entry, which
/// it then clears. No BUG: and no stack trace.
fn is_bad_page_table_entry(line: &str) -> bool {
    let Some((place, rest)) = line.split_once(": bad ") else { return false };
    let at_source = place.rsplit_once(':').is_some_and(|(file, number)| {
        (file.ends_with(".c") || file.ends_with(".h"))
            && !number.is_empty()
            && number.bytes().all(|b| b.is_ascii_digit())
    });
    at_source && ["pgd ", "p4d ", "pud ", "pmd ", "pte "].iter().any(|level| rest.starts_with(level))
}

/// The reports in `log`, each fingerprint once, with how often it came: a
/// WARN in a loop must not make a report as long as the log.
pub fn find(log: &str) -> Vec<Splat> {
    let lines: Vec<&str> = log.lines().map(ktap::strip_console_prefix).collect();
    let mut splats: Vec<Splat> = Vec::new();
    let mut last: Option<(usize, Kind)> = None;
    let mut i = 0;
    while i < lines.len() {
        // "# " lines are the tests' own output (the kselftest runner
        // prefixes it), not the kernel's.
        let Some(kind) = Some(lines[i]).filter(|l| !is_not_a_title(l)).and_then(classify) else {
            i += 1;
            continue;
        };
        // An oops right after a BUG/KASAN title belongs to that report.
        let continues_previous =
            kind == Kind::Oops && last.is_some_and(|(start, k)| i - start < 8 && k != Kind::Warning);
        if continues_previous {
            i += 1;
            continue;
        }
        last = Some((i, kind));
        let end = report_end(&lines, i);
        let fingerprint = fingerprint(kind, lines[i], &call_trace(&lines[i..end]));
        match splats.iter_mut().find(|s| s.fingerprint == fingerprint) {
            Some(seen) => seen.count += 1,
            None => splats.push(Splat {
                kind,
                fingerprint,
                line: i + 1,
                count: 1,
                excerpt: lines[i..end.min(i + EXCERPT_LINES)].iter().map(|l| l.to_string()).collect(),
            }),
        }
        i += 1;
    }
    splats
}

/// The report ends at its "---[ end trace" line, or where the next one
/// begins, or after a window.
fn report_end(lines: &[&str], start: usize) -> usize {
    let limit = (start + TRACE_WINDOW).min(lines.len());
    for (j, line) in lines.iter().enumerate().take(limit).skip(start + 1) {
        if line.contains("---[ end trace") || line.contains("---[ end Kernel panic") {
            return j + 1;
        }
        if !is_not_a_title(line) && classify(line).is_some_and(|k| k != Kind::Oops && k != Kind::Panic) {
            return j;
        }
    }
    limit
}

/// "# " lines are the tests' own output (the kselftest runner prefixes it),
/// and "---[ end ..." lines close a report.
fn is_not_a_title(line: &str) -> bool {
    let line = line.trim_start();
    line.starts_with('#') || line.starts_with("---[")
}

/// Functions of the reporting machinery, the same in every report.
fn is_reporting_frame(name: &str) -> bool {
    const PREFIXES: &[&str] = &[
        "dump_stack",
        "show_stack",
        "print_",
        "kasan_",
        "__kasan",
        "kfence_",
        "__kfence",
        "ubsan_",
        "__ubsan",
        "check_",
        "validate_chain",
        "__lock_acquire",
        "lock_acquire",
        "__warn",
        "warn_",
        "report_bug",
        "vpanic",
        "handle_bug",
        "exc_",
        "asm_exc_",
        "panic",
        "__might_",
        "___might_",
        "lockdep_",
    ];
    PREFIXES.iter().any(|p| name.starts_with(p))
}

/// The functions of the first call trace in `lines`, without `?` frames
/// (x86's unreliable guesses), without the frame of the PC (arm64's
/// `(P)`, which the title names, as x86's trace leaves it out) and without
/// offsets. x86 says "Call Trace:", arm64 "Call trace:".
fn call_trace(lines: &[&str]) -> Vec<String> {
    let Some(start) = lines.iter().position(|l| l.trim_start().to_ascii_lowercase().starts_with("call trace:")) else {
        return Vec::new();
    };
    lines[start + 1..]
        .iter()
        .map(|l| l.trim())
        .take_while(|l| !l.is_empty() && !l.starts_with("---[") && !l.starts_with("Modules linked in"))
        .filter(|l| !l.starts_with('?') && !l.starts_with('<') && !l.ends_with(" (P)"))
        .filter_map(|l| {
            let name = l.split_whitespace().next()?;
            let name = name.split('+').next()?;
            let is_symbol =
                !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.');
            (is_symbol && !is_reporting_frame(name)).then(|| name.to_owned())
        })
        .take(FINGERPRINT_FRAMES)
        .collect()
}

/// Kind, the title without what varies between runs, and the first frames.
fn fingerprint(kind: Kind, title: &str, frames: &[String]) -> String {
    let title = without_taint(title);
    let mut words: Vec<String> = Vec::new();
    let mut tokens = title.split_whitespace().peekable();
    while let Some(word) = tokens.next() {
        // "CPU: 1", "PID: 97", "Comm: kunit_try_catch": which task and CPU.
        if matches!(word, "CPU:" | "PID:" | "Comm:" | "UID:") || (word.starts_with("CPU#") && word.ends_with(':')) {
            tokens.next();
            continue;
        }
        // The build directory decides how many "../" lead to the source.
        let word = word.trim_start_matches("../");
        let word = word.split('+').next().unwrap_or(word);
        // "mm/memory.c:2890", "mm/pgtable-generic.c:44:": the line moves.
        let word = match word.trim_end_matches(':').rsplit_once(':') {
            Some((file, line)) if file.contains('.') && line.bytes().all(|b| b.is_ascii_digit()) => file,
            _ => word,
        };
        // The report's own label ("WARNING:", "BUG:", "rcu:") repeats the
        // kind; a function's ("get_swap_device:") or a trap's ("int3:")
        // says where.
        let name = word.strip_suffix(':').unwrap_or("");
        let label = !name.is_empty()
            && (name.chars().all(|c| c.is_ascii_uppercase())
                || (words.is_empty() && name.chars().all(|c| c.is_ascii_alphabetic())));
        if label || word.starts_with('[') || word.starts_with('#') {
            continue;
        }
        // Addresses, hashed pointers, entry values, counts and times:
        // "0000000000000008", "00000000d1a5f0b2(80000001000000e7)",
        // "mm:00000000c0ffee12", "val:-1", "Pid:212", "CPU#1", "22s!".
        let word = without_numbers(word);
        if word.contains('N') && word.chars().all(|c| c == 'N' || !c.is_ascii_alphanumeric()) {
            continue;
        }
        words.push(word);
    }
    let title = words.join(" ");
    if frames.is_empty() {
        format!("{kind}: {title}")
    } else {
        format!("{kind}: {title} | {}", frames.join(" < "))
    }
}

/// "BUG kmalloc-64 (Tainted: G        W): ...": the taint grows during a run.
fn without_taint(title: &str) -> String {
    match title.find(" (Not tainted)").or_else(|| title.find(" (Tainted:")) {
        Some(start) => match title[start..].find(')') {
            Some(end) => format!("{}{}", &title[..start], &title[start + end + 1..]),
            None => title.to_owned(),
        },
        None => title.to_owned(),
    }
}

/// Each run of letters, digits and `_` that is a number (decimal, or hex
/// with a digit, after an optional `0x` and sign) becomes "N", and so do
/// the digits that start one ("22s"); names with digits ("p4d", "x86")
/// stay.
fn without_numbers(word: &str) -> String {
    let is_number = |part: &str| {
        let hex = part.strip_prefix("0x").unwrap_or(part);
        !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()) && hex.bytes().any(|b| b.is_ascii_digit())
    };
    let mut out = String::with_capacity(word.len());
    let mut part = String::new();
    let flush = |part: &mut String, out: &mut String| {
        if is_number(part) {
            if out.ends_with('-') && !out[..out.len() - 1].ends_with(|c: char| c.is_ascii_alphanumeric()) {
                out.pop();
            }
            out.push('N');
        } else if part.starts_with(|c: char| c.is_ascii_digit()) {
            out.push('N');
            out.push_str(part.trim_start_matches(|c: char| c.is_ascii_digit()));
        } else {
            out.push_str(part);
        }
        part.clear();
    };
    for c in word.chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            part.push(c);
        } else {
            flush(&mut part, &mut out);
            out.push(c);
        }
    }
    flush(&mut part, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_in_a_log() {
        let log = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/splats.log"));
        let found: Vec<String> =
            find(log).iter().map(|s| format!("line {} {}\n  {}", s.line, s.fingerprint, s.excerpt[0])).collect();
        insta::assert_snapshot!(found.join("\n"));
    }

    #[test]
    fn fingerprints_do_not_depend_on_addresses_or_line_numbers() {
        let a = "[    2.1] WARNING: CPU: 1 PID: 97 at mm/memory.c:2890 vmf_insert_pfn_prot+0x5a/0x170\n\
                 [    2.2] Call Trace:\n[    2.3]  <TASK>\n[    2.4]  ? show_regs+0x6d/0x80\n\
                 [    2.5]  test_fault+0x21/0x40 [test_vmf_insert_range]\n[    2.6]  __do_fault+0x3b/0x150\n\
                 [    2.7]  do_fault+0x2b9/0x610\n[    2.8]  handle_mm_fault+0x16a/0x2d0\n";
        let b = a.replace("1 PID: 97", "0 PID: 1234").replace(":2890", ":2901").replace("0x21/0x40", "0x25/0x50");
        let (fa, fb) = (find(a), find(&b));
        assert_eq!(
            fa[0].fingerprint,
            "warning: at mm/memory.c vmf_insert_pfn_prot | test_fault < __do_fault < do_fault"
        );
        assert_eq!(fa[0].fingerprint, fb[0].fingerprint);
    }

    /// arm64's trace ("Call trace:") starts with the frame of the PC,
    /// marked "(P)": without it, the fingerprint is the one x86 gives, so
    /// one expected splat in a suite.toml covers both.
    #[test]
    fn an_arm64_trace_gives_the_fingerprint_of_x86() {
        let arm64 =
            "WARNING: ../../linux/mm/memory.c:3243 at vmf_insert_range+0x184/0x1c0, CPU#0: vmf_insert_rang/257\n\
                     Modules linked in:\n\
                     pc : vmf_insert_range+0x184/0x1c0\n\
                     lr : vmfir_fault+0x140/0x20c\n\
                     Call trace:\n vmf_insert_range+0x184/0x1c0 (P)\n vmfir_fault+0x140/0x20c\n\
                     \x20__do_fault+0xc4/0x10c\n __handle_mm_fault+0xedc/0x2564\n handle_mm_fault+0x64/0x15c\n\
                     ---[ end trace 0000000000000000 ]---\n";
        let x86 = "WARNING: ../../linux/mm/memory.c:3243 at vmf_insert_range+0x5a/0x170, CPU#1: vmf_insert_rang/250\n\
                   Call Trace:\n <TASK>\n vmfir_fault+0x21/0x40\n __do_fault+0x3b/0x150\n\
                   \x20__handle_mm_fault+0x2b9/0x610\n handle_mm_fault+0x16a/0x2d0\n";
        assert_eq!(fingerprints(arm64), fingerprints(x86));
        assert!(fingerprints(arm64)[0].starts_with("warning: linux/mm/memory.c at vmf_insert_range | vmfir_fault"));
    }

    fn fingerprints(log: &str) -> Vec<String> {
        find(log).into_iter().map(|s| s.fingerprint).collect()
    }

    /// A WARN in the format of 6.19 and later, from a real run of the
    /// vmf-insert-range suite: the task, CPU and build path stay out.
    #[test]
    fn a_real_warning_in_the_current_format() {
        assert_eq!(
            fingerprints(include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/real_warn.log"))),
            ["warning: linux/mm/memory.c at vmf_insert_range | vmfir_fault < handle_mm_fault < do_user_addr_fault"]
        );
    }

    /// A real run of selftests/harness-panic: the panic is found, with the
    /// reporting frames left out of its fingerprint.
    #[test]
    fn a_real_sysrq_panic() {
        assert_eq!(
            fingerprints(include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/real_sysrq_panic.log"))),
            ["panic: Kernel panic - not syncing: sysrq triggered crash | sysrq_handle_crash < __handle_sysrq < write_sysrq_trigger"]
        );
    }

    /// Every title the detector knows, one a line: each is found alone, as
    /// one report of the right kind, with a fingerprint free of numbers.
    #[test]
    fn every_known_title_is_a_report() {
        let titles = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/report_titles.log"));
        let found: Vec<String> = titles
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(|line| match find(line).as_slice() {
                [one] => format!("{}  <=  {}", one.fingerprint, ktap::strip_console_prefix(line)),
                other => format!("{} reports  <=  {line}", other.len()),
            })
            .collect();
        insta::assert_snapshot!(found.join("\n"));
    }

    /// mm's reports carry hashed pointers, entry values and pids that
    /// change every run; the fingerprint keeps what the report is about.
    #[test]
    fn mm_reports_fingerprint_the_same_in_every_run() {
        let a =
            "BUG: Bad rss-counter state mm:00000000c0ffee12 type:MM_FILEPAGES val:-512 Comm:vmf_insert_rang Pid:147\n\
                 mm/pgtable-generic.c:53: bad pud 00000000d1a5f0b2(80000001000000e7)\n\
                 BUG: Bad page map in process vmf_insert_rang  pte:8000000101c00225\n";
        let b = a
            .replace("00000000c0ffee12", "000000003a7b9e01")
            .replace("-512", "1")
            .replace("Pid:147", "Pid:3012")
            .replace(":53:", ":54:")
            .replace("00000000d1a5f0b2(80000001000000e7)", "000000009e0f7d11(80000002400000e7)")
            .replace("8000000101c00225", "800000010aa00225");
        assert_eq!(fingerprints(a), fingerprints(&b));
        assert_eq!(
            fingerprints(a),
            [
                "bug: Bad rss-counter state mm:N type:MM_FILEPAGES val:N Comm:vmf_insert_rang Pid:N",
                "bug: mm/pgtable-generic.c bad pud",
                "bug: Bad page map in process vmf_insert_rang pte:N",
            ]
        );
    }

    /// A bad page map as print_bad_page_map() prints it: the page-table
    /// line after the title is part of the report, the trace names the
    /// walk that found it.
    #[test]
    fn a_bad_page_map_with_its_trace() {
        let log = "[   11.000000] BUG: Bad page map in process vmf_insert_rang  pte:8000000101c00225\n\
                   [   11.000001] pgd:10234d067 p4d:10234d067 pud:102352067 pmd:800000010000e7\n\
                   [   11.000002] addr:00007f0fc0000000 vm_flags:040644fb anon_vma:0000000000000000 mapping:ffff8880036b2a38 index:0\n\
                   [   11.000003] file:test_vmf_insert_range fault:vmfir_fault mmap:vmfir_mmap mmap_prepare: 0x0 read_folio:0x0\n\
                   [   11.000004] CPU: 0 UID: 0 PID: 147 Comm: vmf_insert_rang Tainted: G    B            N  7.3.4 #10\n\
                   [   11.000005] Call Trace:\n[   11.000006]  <TASK>\n[   11.000007]  dump_stack_lvl+0x53/0x70\n\
                   [   11.000008]  print_bad_page_map+0x1a8/0x200\n[   11.000009]  vm_normal_page+0x9e/0xb0\n\
                   [   11.000010]  zap_pte_range+0x2c1/0x8a0\n[   11.000011]  unmap_page_range+0x2f6/0x4c0\n";
        assert_eq!(
            fingerprints(log),
            ["bug: Bad page map in process vmf_insert_rang pte:N | vm_normal_page < zap_pte_range < unmap_page_range"]
        );
    }

    #[test]
    fn a_clean_boot_has_none() {
        let log = "[    0.0] Linux version 7.3.4\n[    0.1] ACPI: PM: Preparing to enter system sleep state S5\n\
                   # WARNING: this diagnostic is a test's own word\nok 1 test\n";
        assert_eq!(find(log), []);
    }
}
