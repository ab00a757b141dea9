//! Kernel splats in a console log: oopses, BUGs, panics, WARNs, sanitizer
//! reports (KASAN, UBSAN, KFENCE), lockdep reports, lockups, RCU stalls and
//! hung tasks. Any of them fails a run, whatever the tests printed.
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
    /// 1-based line of the log where it starts.
    pub line: usize,
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
        ("BUG: KASAN:", Kind::Kasan),
        ("BUG: KFENCE:", Kind::Kfence),
        ("UBSAN:", Kind::Ubsan),
        ("BUG: soft lockup", Kind::SoftLockup),
        ("Watchdog detected hard LOCKUP", Kind::HardLockup),
        ("WARNING: possible circular locking dependency", Kind::Lockdep),
        ("WARNING: possible recursive locking", Kind::Lockdep),
        ("WARNING: inconsistent lock state", Kind::Lockdep),
        ("WARNING: suspicious RCU usage", Kind::Lockdep),
        ("WARNING: bad unlock balance", Kind::Lockdep),
        ("WARNING: held lock freed", Kind::Lockdep),
        ("WARNING: lock held when returning to user space", Kind::Lockdep),
        ("BUG: sleeping function called from invalid context", Kind::Bug),
        ("BUG: scheduling while atomic", Kind::Bug),
        ("detected stalls on CPUs/tasks", Kind::RcuStall),
        ("self-detected stall on CPU", Kind::RcuStall),
        ("blocked for more than", Kind::HungTask),
        ("kernel BUG at ", Kind::Bug),
        ("BUG: ", Kind::Bug),
        ("Oops: ", Kind::Oops),
        ("general protection fault", Kind::Oops),
        ("WARNING: CPU: ", Kind::Warning),
        ("WARNING: at ", Kind::Warning),
    ];
    PATTERNS.iter().find(|(pattern, _)| line.contains(pattern)).map(|(_, kind)| *kind).or_else(|| {
        // Since 6.19 a WARN reads "WARNING: FILE:LINE at FUNC+OFF, CPU#N: COMM/PID".
        line.trim_start().starts_with("WARNING: ").then_some(Kind::Warning)
    })
}

pub fn find(log: &str) -> Vec<Splat> {
    let lines: Vec<&str> = log.lines().map(ktap::strip_console_prefix).collect();
    let mut splats: Vec<Splat> = Vec::new();
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
            kind == Kind::Oops && splats.last().is_some_and(|s| i - (s.line - 1) < 8 && s.kind != Kind::Warning);
        if continues_previous {
            i += 1;
            continue;
        }
        let end = report_end(&lines, i);
        let frames = call_trace(&lines[i..end]);
        splats.push(Splat {
            kind,
            fingerprint: fingerprint(kind, lines[i], &frames),
            line: i + 1,
            excerpt: lines[i..end.min(i + EXCERPT_LINES)].iter().map(|l| l.to_string()).collect(),
        });
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
/// (unreliable guesses) and without offsets.
fn call_trace(lines: &[&str]) -> Vec<String> {
    let Some(start) = lines.iter().position(|l| l.trim_start().starts_with("Call Trace:")) else {
        return Vec::new();
    };
    lines[start + 1..]
        .iter()
        .map(|l| l.trim())
        .take_while(|l| !l.is_empty() && !l.starts_with("---[") && !l.starts_with("Modules linked in"))
        .filter(|l| !l.starts_with('?') && !l.starts_with('<'))
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
        let word = match word.rsplit_once(':') {
            Some((file, line)) if file.contains('.') && line.bytes().all(|b| b.is_ascii_digit()) => file,
            _ => word,
        };
        let bare = word.trim_start_matches("0x").trim_matches(|c: char| !c.is_ascii_alphanumeric());
        let number = bare.chars().all(|c| c.is_ascii_hexdigit()) && bare.chars().any(|c| c.is_ascii_digit());
        // The report's own label ("WARNING:", "BUG:", "rcu:") repeats the kind.
        let label =
            word.ends_with(':') && (word[..word.len() - 1].chars().all(|c| c.is_ascii_uppercase()) || words.is_empty());
        if number || label || word.starts_with('[') || word.starts_with('#') {
            continue;
        }
        words.push(without_digits(word));
    }
    let title = words.join(" ");
    if frames.is_empty() {
        format!("{kind}: {title}")
    } else {
        format!("{kind}: {title} | {}", frames.join(" < "))
    }
}

/// "CPU#1" and "22s!" vary between runs: digit runs become "N".
fn without_digits(word: &str) -> String {
    let mut out = String::with_capacity(word.len());
    for c in word.chars() {
        if !c.is_ascii_digit() {
            out.push(c);
        } else if !out.ends_with('N') {
            out.push('N');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_in_a_log() {
        let log = include_str!("../tests/data/splats.log");
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

    fn fingerprints(log: &str) -> Vec<String> {
        find(log).into_iter().map(|s| s.fingerprint).collect()
    }

    /// A WARN in the format of 6.19 and later, from a real run of the
    /// vmf-insert-range suite: the task, CPU and build path stay out.
    #[test]
    fn a_real_warning_in_the_current_format() {
        assert_eq!(
            fingerprints(include_str!("../tests/data/real_warn.log")),
            ["warning: linux/mm/memory.c at vmf_insert_range | vmfir_fault < handle_mm_fault < do_user_addr_fault"]
        );
    }

    /// A real run of selftests/harness-panic: the panic is found, with the
    /// reporting frames left out of its fingerprint.
    #[test]
    fn a_real_sysrq_panic() {
        assert_eq!(
            fingerprints(include_str!("../tests/data/real_sysrq_panic.log")),
            ["panic: Kernel panic - not syncing: sysrq triggered crash | sysrq_handle_crash < __handle_sysrq < write_sysrq_trigger"]
        );
    }

    #[test]
    fn a_clean_boot_has_none() {
        let log = "[    0.0] Linux version 7.3.4\n[    0.1] ACPI: PM: Preparing to enter system sleep state S5\n\
                   # WARNING: this diagnostic is a test's own word\nok 1 test\n";
        assert_eq!(find(log), []);
    }
}
