//! Parse KTAP (version 1) and TAP 13 test results out of kernel console
//! output.
//!
//! Kernel tests print their results to the console, mixed with everything
//! else the kernel and user space print there. This parser finds the result
//! documents anywhere in such a log, strips console prefixes (printk
//! timestamps, log levels, caller ids), follows nested subtests at any depth
//! (indented as KUnit and the KTAP specification do, or behind `# ` as the
//! kselftest runner does), and never panics: what is wrong with the output
//! (no plan, a crash or truncation in the middle of a test, a wrong test
//! number) is recorded as an error on the test it concerns.
//!
//! ```
//! let log = "[    1.000000] KTAP version 1\n[    1.000001] 1..1\n\
//!            [    1.000002]     KTAP version 1\n[    1.000003]     # Subtest: example\n\
//!            [    1.000004]     1..2\n[    1.000005]     ok 1 first\n\
//!            [    1.000006]     ok 2 second # SKIP not today\n[    1.000007] ok 1 example\n";
//! let report = ktap::parse(log);
//! let example = &report.documents[0].tests[0];
//! assert_eq!(example.name, "example");
//! assert_eq!(example.subtests[1].status, ktap::Status::Skip);
//! assert_eq!(example.subtests[1].reason.as_deref(), Some("not today"));
//! ```

use std::fmt::{self, Write as _};

/// Outcome of one test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Status {
    Pass,
    Fail,
    Skip,
    /// `# TODO`: not expected to pass yet.
    Todo,
    /// `# XFAIL`: expected to fail, and did.
    XFail,
    /// `# TIMEOUT`: the runner gave up waiting.
    Timeout,
    /// `# ERROR`: the test could not be run.
    Error,
    /// No result line: the output ended (kernel crash, hang, truncated log)
    /// before the test reported.
    Crashed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Skip => "skip",
            Status::Todo => "todo",
            Status::XFail => "xfail",
            Status::Timeout => "timeout",
            Status::Error => "error",
            Status::Crashed => "crashed",
        }
    }

    /// Whether this outcome means the test did not do what it should.
    pub fn is_failure(self) -> bool {
        matches!(self, Status::Fail | Status::Timeout | Status::Error | Status::Crashed)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Test {
    /// Unique among its siblings: a repeated name gets " (2)", " (3)"...
    pub name: String,
    pub status: Status,
    /// Text after the directive (`# SKIP no device`) or other diagnostic
    /// data on the result line.
    pub reason: Option<String>,
    /// `# ` lines printed by the test before its result line.
    pub diagnostics: Vec<String>,
    /// Plan of the nested results, if the test had any.
    pub plan: Option<usize>,
    pub subtests: Vec<Test>,
    /// What is wrong with this test's output.
    pub errors: Vec<String>,
}

impl Test {
    /// Whether the test counts as a test of its own: a leaf, or a parent
    /// that failed or crashed although nothing below it did (kunit.py
    /// counts such a failed parent as one failure).
    pub fn is_counted(&self) -> bool {
        self.subtests.is_empty() || (self.status.is_failure() && !self.failure_below())
    }

    fn failure_below(&self) -> bool {
        self.plan.is_some_and(|n| n > self.subtests.len())
            || self.subtests.iter().any(|t| t.status.is_failure() || t.failure_below())
    }
}

/// One top-level KTAP document (from a version line to its last result).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// "KTAP version 1", "TAP version 13", ...
    pub version: String,
    pub plan: Option<usize>,
    pub tests: Vec<Test>,
    pub errors: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub documents: Vec<Document>,
}

/// Results counted as kunit.py counts them: leaf tests only (a test with
/// subtests is not a test itself), planned results that never came as
/// crashed, and what is wrong with the output as errors.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub passed: usize,
    pub failed: usize,
    /// Skipped, and expected not to pass (TODO, XFAIL).
    pub skipped: usize,
    /// Results that never came: planned but missing, or a subtest
    /// document that ended without its result line.
    pub crashed: usize,
    pub errors: usize,
}

impl Counts {
    /// Tests, errors aside.
    pub fn total(&self) -> usize {
        self.passed + self.failed + self.skipped + self.crashed
    }

    /// kunit.py's verdict: something passed, and nothing failed or crashed.
    /// No tests at all, and only skipped ones, are not a pass.
    pub fn passed(&self) -> bool {
        self.passed > 0 && self.failed == 0 && self.crashed == 0
    }
}

impl Report {
    /// Every test, depth first, with its path of names from the top.
    pub fn walk(&self) -> Vec<(Vec<&str>, &Test)> {
        fn visit<'a>(tests: &'a [Test], path: &mut Vec<&'a str>, out: &mut Vec<(Vec<&'a str>, &'a Test)>) {
            for t in tests {
                path.push(&t.name);
                out.push((path.clone(), t));
                visit(&t.subtests, path, out);
                path.pop();
            }
        }
        let mut out = Vec::new();
        for doc in &self.documents {
            visit(&doc.tests, &mut Vec::new(), &mut out);
        }
        out
    }

    pub fn counts(&self) -> Counts {
        fn visit(tests: &[Test], counts: &mut Counts) {
            for t in tests {
                counts.errors += t.errors.len();
                counts.crashed += t.plan.map_or(0, |n| n.saturating_sub(t.subtests.len()));
                if t.is_counted() {
                    match t.status {
                        Status::Pass => counts.passed += 1,
                        Status::Skip | Status::Todo | Status::XFail => counts.skipped += 1,
                        Status::Crashed => counts.crashed += 1,
                        Status::Fail | Status::Timeout | Status::Error => counts.failed += 1,
                    }
                }
                visit(&t.subtests, counts);
            }
        }
        let mut counts = Counts::default();
        for doc in &self.documents {
            counts.errors += doc.errors.len();
            counts.crashed += doc.plan.map_or(0, |n| n.saturating_sub(doc.tests.len()));
            visit(&doc.tests, &mut counts);
        }
        counts
    }

    /// A stable, indented text form of the whole report: one line per test
    /// with its status and reason, errors marked with `!`.
    pub fn render(&self) -> String {
        fn render_tests(out: &mut String, tests: &[Test], depth: usize) {
            for t in tests {
                let pad = "  ".repeat(depth);
                write!(out, "{pad}{:<7} {}", t.status.as_str(), t.name).unwrap();
                if let Some(reason) = &t.reason {
                    write!(out, " # {reason}").unwrap();
                }
                out.push('\n');
                for e in &t.errors {
                    writeln!(out, "{pad}  ! {e}").unwrap();
                }
                render_tests(out, &t.subtests, depth + 1);
            }
        }
        let mut out = String::new();
        for doc in &self.documents {
            let plan = doc.plan.map_or("no plan".to_owned(), |n| format!("1..{n}"));
            writeln!(out, "{} ({plan})", doc.version).unwrap();
            for e in &doc.errors {
                writeln!(out, "  ! {e}").unwrap();
            }
            render_tests(&mut out, &doc.tests, 1);
        }
        out
    }
}

/// Parses every KTAP/TAP document found in `log`.
pub fn parse(log: &str) -> Report {
    let lines: Vec<&str> = log.lines().map(strip_console_prefix).collect();
    let mut report = Report::default();
    let mut i = 0;
    while i < lines.len() {
        match version_at(lines[i]) {
            Some((prefix, _)) => {
                let prefix = prefix.to_owned();
                let doc = parse_document(&lines, &mut i, &prefix, &[]);
                report.documents.push(Document {
                    version: doc.version,
                    plan: doc.plan,
                    tests: doc.tests,
                    errors: doc.errors,
                });
            }
            None => i += 1,
        }
    }
    report
}

/// Results of one (possibly nested) document before its result line.
struct Parsed {
    version: String,
    subtest_name: Option<String>,
    plan: Option<usize>,
    tests: Vec<Test>,
    errors: Vec<String>,
    /// The output ended inside this document.
    truncated: bool,
}

/// Parses the document whose version line is `lines[*i]`, whose lines all
/// start with `prefix`; `outer` are the prefixes of the enclosing
/// documents, whose structural lines end this one.
fn parse_document(lines: &[&str], i: &mut usize, prefix: &str, outer: &[&str]) -> Parsed {
    let mut doc = Parsed {
        version: String::new(),
        subtest_name: None,
        plan: None,
        tests: Vec::new(),
        errors: Vec::new(),
        truncated: false,
    };
    let mut diagnostics: Vec<String> = Vec::new();
    let mut pending: Option<Parsed> = None;
    let mut started = false;
    let mut inner: Vec<&str> = outer.to_vec();
    inner.push(prefix);

    while *i < lines.len() {
        let line = lines[*i];
        let Some(rest) = line.strip_prefix(prefix) else {
            if ends_document(line, outer) {
                break;
            }
            *i += 1;
            continue;
        };
        let rest_trimmed = rest.trim_end();
        if let Some(version) = version_line(rest_trimmed) {
            if started {
                // A new document at this level: ours is over.
                break;
            }
            doc.version = version.to_owned();
            started = true;
            *i += 1;
            continue;
        }
        if let Some(extra) = nested_start(rest_trimmed) {
            if !started && extra.is_empty() {
                // "# Subtest:" before the version line, at our own level.
                doc.subtest_name = rest_trimmed.strip_prefix("# Subtest:").map(|n| n.trim().to_owned());
                *i += 1;
                continue;
            }
            if !extra.is_empty() {
                if let Some(unreported) = pending.take() {
                    push_unreported(&mut doc.tests, unreported, &mut diagnostics);
                }
                let child_prefix = format!("{prefix}{extra}");
                let child = parse_document(lines, i, &child_prefix, &inner);
                pending = Some(child);
                continue;
            }
        }
        started = true;
        // Results and plans may be indented deeper than their version
        // line (kunit.py ignores indentation there too); only version and
        // subtest lines open nested documents.
        let rest_trimmed = rest_trimmed.trim_start();
        if let Some(n) = plan_line(rest_trimmed) {
            if doc.plan.is_some() {
                doc.errors.push(format!("second plan line `1..{n}` ignored"));
            } else {
                doc.plan = Some(n);
            }
        } else if let Some(result) = result_line(rest_trimmed) {
            let expected = doc.tests.len() + 1;
            let mut test = Test {
                name: result.description.to_owned(),
                status: result.status,
                reason: result.reason.map(str::to_owned),
                diagnostics: std::mem::take(&mut diagnostics),
                plan: None,
                subtests: Vec::new(),
                errors: Vec::new(),
            };
            if result.number != Some(expected) {
                let found = result.number.map_or("none".to_owned(), |n| n.to_string());
                test.errors.push(format!("test number {found}, expected {expected}"));
            }
            if let Some(child) = pending.take() {
                adopt(&mut test, child);
            }
            if test.name.is_empty() {
                test.name = format!("test {expected}");
            }
            doc.tests.push(test);
        } else if let Some(name) = rest_trimmed.strip_prefix("# Subtest:") {
            doc.subtest_name.get_or_insert_with(|| name.trim().to_owned());
        } else if let Some(diag) = rest_trimmed.strip_prefix('#') {
            diagnostics.push(diag.trim().to_owned());
        }
        *i += 1;
    }
    if *i >= lines.len() && !outer.is_empty() {
        doc.truncated = true;
    }
    if let Some(unreported) = pending.take() {
        push_unreported(&mut doc.tests, unreported, &mut diagnostics);
    }
    let reported = doc.tests.len();
    match doc.plan {
        Some(n) if reported < n => {
            doc.errors.push(format!("planned {n} tests, but only {reported} reported"));
        }
        Some(n) if reported > n => doc.errors.push(format!("planned {n} tests, but {reported} reported")),
        // KTAP allows no plan where the number of tests is not known in
        // advance (Documentation/dev-tools/ktap.rst, "Plan lines").
        _ => {}
    }
    make_names_unique(&mut doc.tests);
    doc
}

/// A nested document that never got its result line.
fn push_unreported(tests: &mut Vec<Test>, child: Parsed, diagnostics: &mut Vec<String>) {
    let number = tests.len() + 1;
    // The kselftest runner announces each program: "# selftests: DIR: NAME".
    let announced = diagnostics.last().filter(|d| d.starts_with("selftests: ")).cloned();
    let mut test = Test {
        name: child.subtest_name.clone().or(announced).unwrap_or_else(|| format!("test {number}")),
        status: Status::Crashed,
        reason: None,
        diagnostics: std::mem::take(diagnostics),
        plan: None,
        subtests: Vec::new(),
        errors: vec!["no result line: the output ended (crash, hang or truncation) before the test reported".to_owned()],
    };
    adopt(&mut test, child);
    tests.push(test);
}

/// Gives `test` the nested results of `child`.
fn adopt(test: &mut Test, child: Parsed) {
    if let Some(name) = &child.subtest_name {
        if test.name.is_empty() {
            test.name = name.clone();
        } else if *name != test.name && !test.name.ends_with(name.as_str()) {
            test.errors.push(format!("subtest header says `{name}`"));
        }
    }
    test.plan = child.plan;
    test.subtests = child.tests;
    test.errors.extend(child.errors);
    if child.truncated && test.status != Status::Crashed {
        test.errors.push("output ended inside this test".to_owned());
    }
}

fn make_names_unique(tests: &mut [Test]) {
    let mut seen: Vec<(String, usize)> = Vec::new();
    for t in tests {
        match seen.iter_mut().find(|(name, _)| *name == t.name) {
            Some((_, count)) => {
                *count += 1;
                t.name = format!("{} ({count})", t.name);
            }
            None => seen.push((t.name.clone(), 1)),
        }
    }
}

/// Whether `line`, not one of the current document's, is a structural line
/// of an enclosing document, which means the current one is over.
fn ends_document(line: &str, outer: &[&str]) -> bool {
    outer.iter().any(|prefix| {
        line.strip_prefix(prefix).is_some_and(|rest| {
            let rest = rest.trim_end();
            result_line(rest).is_some() || version_line(rest).is_some() || plan_line(rest).is_some()
        })
    })
}

/// If `rest` opens a nested document, the indentation before it: spaces
/// and/or the `# ` marks the kselftest runner puts in front of the output of
/// the tests it runs.
fn nested_start(rest: &str) -> Option<&str> {
    let body = rest.trim_start_matches([' ', '\t']);
    let ws = &rest[..rest.len() - body.len()];
    if body.starts_with("# Subtest:") {
        return Some(ws);
    }
    // "# TAP version 13", "# # KTAP version 1": kselftest nesting.
    let mut body = body;
    while let Some(after) = body.strip_prefix("# ") {
        body = after.trim_start_matches(' ');
    }
    version_line(body).map(|_| &rest[..rest.len() - body.len()])
}

/// A version line at the start of `line` (after indentation), with the
/// prefix before it.
fn version_at(line: &str) -> Option<(&str, &str)> {
    let start = line.find("KTAP version ").or_else(|| line.find("TAP version "))?;
    let prefix = &line[..start];
    let prefix_ok = prefix.chars().all(|c| c == ' ' || c == '\t' || c == '#');
    (prefix_ok).then(|| version_line(line[start..].trim_end()).map(|v| (prefix, v)))?
}

fn version_line(rest: &str) -> Option<&str> {
    let version = rest.strip_prefix("KTAP version ").or_else(|| rest.strip_prefix("TAP version "))?;
    (!version.is_empty() && version.bytes().all(|b| b.is_ascii_digit())).then_some(rest)
}

fn plan_line(rest: &str) -> Option<usize> {
    let n = rest.strip_prefix("1..")?;
    // "1..N # reason" is allowed by TAP.
    let n = n.split_once('#').map_or(n, |(n, _)| n).trim();
    n.parse().ok()
}

struct ResultLine<'a> {
    status: Status,
    number: Option<usize>,
    description: &'a str,
    reason: Option<&'a str>,
}

fn result_line(rest: &str) -> Option<ResultLine<'_>> {
    let (ok, after) =
        if let Some(after) = rest.strip_prefix("not ok") { (false, after) } else { (true, rest.strip_prefix("ok")?) };
    if !(after.is_empty() || after.starts_with(' ')) {
        return None;
    }
    let after = after.trim_start();
    let digits = after.bytes().take_while(u8::is_ascii_digit).count();
    let number = after[..digits].parse().ok();
    let after = &after[digits..];
    let (description, directive) = match after.split_once('#') {
        Some((d, directive)) => (d, Some(directive.trim())),
        None => (after, None),
    };
    let description = description.trim();
    let description = description.strip_prefix("- ").unwrap_or(description).trim();
    let mut status = if ok { Status::Pass } else { Status::Fail };
    let mut reason = directive.filter(|d| !d.is_empty());
    if let Some(d) = directive {
        let (word, text) = d.split_once(char::is_whitespace).unwrap_or((d, ""));
        let directed = match word.to_ascii_uppercase().as_str() {
            "SKIP" => Some(Status::Skip),
            "TODO" => Some(Status::Todo),
            "XFAIL" => Some(Status::XFail),
            "TIMEOUT" => Some(Status::Timeout),
            "ERROR" => Some(Status::Error),
            _ => None,
        };
        if let Some(s) = directed {
            status = s;
            reason = Some(text.trim()).filter(|t| !t.is_empty());
        }
    }
    Some(ResultLine { status, number, description, reason })
}

/// Strips what the console puts in front of a printk line: a syslog level
/// (`<6>`), the timestamp (`[    1.234567]`) and a caller id (`[    T1]`),
/// keeping the indentation of the message itself.
pub fn strip_console_prefix(line: &str) -> &str {
    let mut s = line.trim_end_matches('\r');
    if let Some(rest) = s.strip_prefix('<') {
        if let Some((level, after)) = rest.split_once('>') {
            if !level.is_empty() && level.len() <= 3 && level.bytes().all(|b| b.is_ascii_digit()) {
                s = after;
            }
        }
    }
    let mut stripped = false;
    while let Some(rest) = s.strip_prefix('[') {
        let Some((inner, after)) = rest.split_once(']') else { break };
        let inner = inner.trim();
        let timestamp = inner.split_once('.').is_some_and(|(a, b)| {
            !a.is_empty()
                && !b.is_empty()
                && a.bytes().all(|c| c.is_ascii_digit())
                && b.bytes().all(|c| c.is_ascii_digit())
        });
        let caller = inner.len() > 1
            && (inner.starts_with('T') || inner.starts_with('C'))
            && inner[1..].bytes().all(|c| c.is_ascii_digit());
        if !(timestamp || caller) {
            break;
        }
        s = after;
        stripped = true;
    }
    if stripped {
        s = s.strip_prefix(' ').unwrap_or(s);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_prefixes_are_stripped_keeping_indentation() {
        assert_eq!(strip_console_prefix("[    1.234567]     ok 1 x"), "    ok 1 x");
        assert_eq!(strip_console_prefix("<6>[   12.000001][    T1] KTAP version 1"), "KTAP version 1");
        assert_eq!(strip_console_prefix("[brackets] stay"), "[brackets] stay");
        assert_eq!(strip_console_prefix("ok 1 x\r"), "ok 1 x");
    }

    #[test]
    fn result_lines() {
        let r = result_line("not ok 3 - some test # TIMEOUT 45 seconds").unwrap();
        assert_eq!(
            (r.status, r.number, r.description, r.reason),
            (Status::Timeout, Some(3), "some test", Some("45 seconds"))
        );
        let r = result_line("ok 5 check return code # rcode=0").unwrap();
        assert_eq!((r.status, r.reason), (Status::Pass, Some("rcode=0")));
        let r = result_line("ok 2 # skip").unwrap();
        assert_eq!((r.status, r.description, r.reason), (Status::Skip, "", None));
        assert!(result_line("okay then").is_none());
        assert!(result_line("not okay").is_none());
    }
}
