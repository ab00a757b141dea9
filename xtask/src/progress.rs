//! Long steps: a spinner with the elapsed time and what the step is doing
//! now on a terminal, a heartbeat line now and then elsewhere (CI logs), and
//! the complete output of a command kept in a log file.

use std::{
    fs::File,
    io::{BufRead, BufReader, IsTerminal, Write},
    path::Path,
    time::{Duration, Instant},
};

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};

/// Without a terminal, one line this often says the step is still alive.
const HEARTBEAT: Duration = Duration::from_secs(60);

pub struct Stage {
    name: String,
    started: Instant,
    bar: Option<ProgressBar>,
    last_heartbeat: Instant,
}

impl Stage {
    pub fn start(name: impl Into<String>) -> Stage {
        let name = name.into();
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new_spinner();
            bar.set_style(ProgressStyle::with_template("{spinner} {prefix} [{elapsed}] {wide_msg}").unwrap());
            bar.set_prefix(name.clone());
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        if bar.is_none() {
            eprintln!("==> {name}");
        }
        let now = Instant::now();
        Stage { name, started: now, bar, last_heartbeat: now }
    }

    pub fn set_message(&mut self, msg: &str) {
        match &self.bar {
            Some(bar) => bar.set_message(msg.to_owned()),
            None if self.last_heartbeat.elapsed() >= HEARTBEAT => {
                self.last_heartbeat = Instant::now();
                eprintln!("    {} [{:.0}s] {msg}", self.name, self.started.elapsed().as_secs_f64());
            }
            None => {}
        }
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Ends the stage with a one-line verdict and returns its duration.
    pub fn finish(self, verdict: &str) -> Duration {
        let elapsed = self.started.elapsed();
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        eprintln!("    {}: {verdict} ({})", self.name, fmt_duration(elapsed));
        elapsed
    }
}

/// Writes `text` to stdout. A reader that went away (`| head`) is not an
/// error: it has what it wanted.
pub fn print(text: &str) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e).context("cannot write to stdout"),
        _ => Ok(()),
    }
}

pub fn fmt_duration(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs < 60.0 {
        format!("{secs:.1} s")
    } else {
        format!("{}m{:02}s", d.as_secs() / 60, d.as_secs() % 60)
    }
}

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
