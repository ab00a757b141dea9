//! How xtask runs programs, in one of two ways, both with argument lists,
//! never a shell command line:
//!
//! - a short command whose output xtask reads, or whose status alone
//!   matters (git, dpkg-query, a tool's `--version`, apt-get): xshell's
//!   `cmd!` on the run's `Shell`, `.quiet()` unless the command is meant
//!   to be seen (setup's installs);
//! - a long one whose output is a log (make, the compilers, a guest):
//!   a duct expression, read line by line into its log file while a
//!   [`Stage`] shows where it is: [`run_logged`] here, and
//!   `guest::boot::run` for a guest, whose console and output it reads
//!   apart.
//!
//! Both kinds of children are found and stopped by `signals` when xtask is
//! interrupted, and a step whose child a signal killed reports the run as
//! interrupted ([`crate::signals::check`]), not as failed.

use std::{
    fs::File,
    io::{BufRead, BufReader, Write},
    path::Path,
};

use anyhow::{Context, Result};

use crate::progress::Stage;

/// Runs `cmd` with stdout and stderr into `log` (after a line naming the
/// command), showing in `stage` the last line for which `status` returns a
/// description. Returns whether the command succeeded; a command that
/// cannot be started is an error.
pub fn run_logged(
    cmd: duct::Expression,
    log: &Path,
    stage: &mut Stage,
    mut status: impl FnMut(&str) -> Option<String>,
) -> Result<bool> {
    if let Some(dir) = log.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let mut log_file = File::create(log).with_context(|| format!("cannot create {}", log.display()))?;
    // The exact command and environment, to reproduce the step by hand.
    writeln!(log_file, "# xtask ran: {cmd:?}")?;
    let reader = cmd.stderr_to_stdout().unchecked().reader()?;
    let mut lines = BufReader::new(&reader);
    let mut line = Vec::new();
    loop {
        line.clear();
        if lines.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        log_file.write_all(&line)?;
        if let Some(msg) = status(String::from_utf8_lossy(&line).trim_end()) {
            stage.set_message(&msg);
        }
    }
    let output = reader.try_wait()?.context("command output ended before the command")?;
    // A command killed because xtask was interrupted did not fail.
    crate::signals::check()?;
    Ok(output.status.success())
}

/// The first errors in a failed build log, with a little context, for the
/// screen; the log itself has everything.
pub fn first_errors(log_text: &str, max_lines: usize) -> Vec<String> {
    let lines: Vec<&str> = log_text.lines().collect();
    let is_error = |l: &str| {
        l.contains(": error:")
            || l.starts_with("error")
            || l.starts_with("ERROR:")
            || l.contains(": fatal error:")
            || l.contains("*** ")
    };
    let Some(first) = lines.iter().position(|l| is_error(l)) else {
        return lines.iter().rev().take(max_lines).rev().map(|l| l.to_string()).collect();
    };
    lines[first.saturating_sub(2)..].iter().take(max_lines).map(|l| l.to_string()).collect()
}

/// `word` as one shell word, for the scripts xtask writes (a guest's
/// command line, a compiler wrapper); quoted only where it must be.
pub fn sh_quote(word: &str) -> String {
    let plain = !word.is_empty() && word.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_=,.:/@%+".contains(&b));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_errors_starts_near_the_first_error() {
        let log = "  CC      mm/memory.o\n  CC      mm/gup.o\n../mm/gup.c:12:5: error: use of undeclared identifier 'x'\n   12 |     x = 1;\n1 error generated.\nmake[4]: *** [mm/gup.o] Error 1\n";
        insta::assert_snapshot!(first_errors(log, 4).join("\n"), @r"
          CC      mm/memory.o
          CC      mm/gup.o
        ../mm/gup.c:12:5: error: use of undeclared identifier 'x'
           12 |     x = 1;
        ");
    }

    #[test]
    fn without_an_error_line_the_tail_is_shown() {
        assert_eq!(first_errors("a\nb\nc\n", 2), ["b", "c"]);
    }
}
