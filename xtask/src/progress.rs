//! What xtask shows while it works: one display per run. On a terminal,
//! every live stage is a spinner with its elapsed time and what it is doing
//! now, all of them drawn together by one indicatif `MultiProgress`, nested
//! stages below the stage they run in; elsewhere (CI logs) a line when a
//! stage starts and a heartbeat line now and then. A command's complete
//! output goes to a log file.
//!
//! xtask writes to the terminal only through [`say`] and [`print`], which
//! take the spinners away while the text is written and draw them again
//! below it: a line written past them would land in the middle of one.
//! (A tidy test holds the code to that.)

use std::{
    fmt,
    io::{IsTerminal, Write},
    sync::{Mutex, OnceLock},
    time::{Duration, Instant},
};

use anyhow::{Context, Result};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Without a terminal, one line this often says the step is still alive.
const HEARTBEAT: Duration = Duration::from_secs(60);

/// The spinners of the live stages and where xtask's lines go.
pub struct Display {
    /// `None` without a terminal: plain lines only.
    spinners: Option<MultiProgress>,
    /// Where [`say`] writes: stderr, the terminal the spinners are on.
    lines: Mutex<Box<dyn Write + Send>>,
}

impl Display {
    /// The run's display, on stderr.
    fn stderr() -> Display {
        let spinners =
            std::io::stderr().is_terminal().then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
        Display { spinners, lines: Mutex::new(Box::new(std::io::stderr())) }
    }

    /// Runs `write` with the spinners taken off the terminal, then draws
    /// them again below what it wrote.
    fn suspend<R>(&self, write: impl FnOnce() -> R) -> R {
        match &self.spinners {
            Some(spinners) => spinners.suspend(write),
            None => write(),
        }
    }

    fn say(&self, line: impl fmt::Display) {
        // One write: a line in pieces could be split by another thread's.
        let line = format!("{line}\n");
        self.suspend(|| {
            let mut lines = self.lines.lock().unwrap_or_else(|e| e.into_inner());
            // Nothing is to be done about a terminal that went away.
            lines.write_all(line.as_bytes()).and_then(|()| lines.flush()).ok();
        })
    }

    /// A spinner for a new stage, below those of the live ones.
    fn spinner(&self, name: &str) -> Option<ProgressBar> {
        let spinners = self.spinners.as_ref()?;
        let bar = spinners.add(ProgressBar::new_spinner());
        bar.set_style(ProgressStyle::with_template("{spinner} {prefix} [{elapsed}] {wide_msg}").unwrap());
        bar.set_prefix(name.to_owned());
        bar.enable_steady_tick(Duration::from_millis(120));
        Some(bar)
    }
}

fn display() -> &'static Display {
    static DISPLAY: OnceLock<Display> = OnceLock::new();
    DISPLAY.get_or_init(Display::stderr)
}

/// Writes a line to stderr, through the display.
pub fn say(line: impl fmt::Display) {
    display().say(line)
}

pub struct Stage {
    name: String,
    started: Instant,
    bar: Option<ProgressBar>,
    last_heartbeat: Instant,
    display: &'static Display,
}

impl Stage {
    pub fn start(name: impl Into<String>) -> Stage {
        Stage::on(display(), name.into())
    }

    fn on(display: &'static Display, name: String) -> Stage {
        let bar = display.spinner(&name);
        if bar.is_none() {
            display.say(format_args!("==> {name}"));
        }
        let now = Instant::now();
        Stage { name, started: now, bar, last_heartbeat: now, display }
    }

    pub fn set_message(&mut self, msg: &str) {
        match &self.bar {
            Some(bar) => bar.set_message(msg.to_owned()),
            None if self.last_heartbeat.elapsed() >= HEARTBEAT => {
                self.last_heartbeat = Instant::now();
                let seconds = self.started.elapsed().as_secs_f64();
                self.display.say(format_args!("    {} [{seconds:.0}s] {msg}", self.name));
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
        self.display.say(format_args!("    {}: {verdict} ({})", self.name, fmt_duration(elapsed)));
        elapsed
    }
}

/// Writes `text` to stdout. A reader that went away (`| head`) is not an
/// error: it has what it wanted.
pub fn print(text: &str) -> Result<()> {
    display().suspend(|| {
        let mut stdout = std::io::stdout().lock();
        match stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()) {
            Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e).context("cannot write to stdout"),
            _ => Ok(()),
        }
    })
}

pub fn fmt_duration(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs < 60.0 {
        format!("{secs:.1} s")
    } else {
        format!("{}m{:02}s", d.as_secs() / 60, d.as_secs() % 60)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use indicatif::TermLike;

    use super::*;

    /// A terminal that records what indicatif asks of it, and a stderr that
    /// records what xtask writes, in one sequence.
    #[derive(Debug, Clone, Default)]
    struct Recorder(Arc<Mutex<Vec<String>>>);

    impl Recorder {
        fn push(&self, event: String) -> std::io::Result<()> {
            self.0.lock().unwrap().push(event);
            Ok(())
        }

        fn events(&self) -> Vec<String> {
            self.0.lock().unwrap().clone()
        }
    }

    impl TermLike for Recorder {
        fn width(&self) -> u16 {
            80
        }
        fn move_cursor_up(&self, n: usize) -> std::io::Result<()> {
            self.push(format!("up {n}"))
        }
        fn move_cursor_down(&self, n: usize) -> std::io::Result<()> {
            self.push(format!("down {n}"))
        }
        fn move_cursor_right(&self, n: usize) -> std::io::Result<()> {
            self.push(format!("right {n}"))
        }
        fn move_cursor_left(&self, n: usize) -> std::io::Result<()> {
            self.push(format!("left {n}"))
        }
        fn write_line(&self, s: &str) -> std::io::Result<()> {
            self.push(format!("draw {s}"))
        }
        fn write_str(&self, s: &str) -> std::io::Result<()> {
            self.push(format!("draw {s}"))
        }
        fn clear_line(&self) -> std::io::Result<()> {
            self.push("clear".into())
        }
        fn flush(&self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Write for Recorder {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.push(format!("line {}", String::from_utf8_lossy(buf).trim_end()))?;
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// A display on the recorder, as a run's display lives: for the run.
    fn recorded(recorder: &Recorder) -> &'static Display {
        let spinners = MultiProgress::with_draw_target(ProgressDrawTarget::term_like(Box::new(recorder.clone())));
        Box::leak(Box::new(Display { spinners: Some(spinners), lines: Mutex::new(Box::new(recorder.clone())) }))
    }

    #[test]
    fn lines_said_while_stages_run_go_above_their_spinners() {
        let recorder = Recorder::default();
        let display = recorded(&recorder);
        let outer = Stage::on(display, "build [default]".into());
        let mut inner = Stage::on(display, "selftests".into());
        inner.set_message("CC mm/gup_test");
        display.say("first");
        display.say("warning: a line while both run");
        inner.finish("1 program(s)");
        outer.finish("done");
        let events = recorder.events();
        let at = |line: &str| events.iter().position(|e| e.starts_with(&format!("line {line}"))).expect(line);
        let drawn = |e: &String, name: &str| e.starts_with("draw ") && e.contains(name);
        let spinner = |e: &String| drawn(e, "build [default]") || drawn(e, "selftests");

        // Both spinners' rows were wiped before the line was written...
        let said = at("warning: a line while both run");
        let last_drawn = events[..said].iter().rposition(spinner).unwrap();
        let wiped = events[last_drawn..said].iter().filter(|e| *e == "clear").count();
        assert!(wiped >= 2, "written over the spinners: {:#?}", &events[last_drawn..=said]);
        // ...and drawn again below it, the nested stage below its parent.
        let outer_again = said + events[said..].iter().position(|e| drawn(e, "build [default]")).unwrap();
        let inner_again = said + events[said..].iter().position(|e| drawn(e, "selftests")).unwrap();
        assert!(outer_again < inner_again, "{:#?}", &events[said..]);

        // A finished stage says its verdict above the rest, and is gone.
        let finished = at("    selftests: 1 program(s) (");
        assert!(events[last_drawn..finished].iter().filter(|e| *e == "clear").count() >= 2);
        let last = at("    build [default]: done (");
        assert!(events[finished..last].iter().any(|e| drawn(e, "build [default]")));
        assert!(!events[finished..].iter().any(|e| drawn(e, "selftests")), "{:#?}", &events[finished..]);
    }
}
