//! SIGINT, SIGTERM and SIGHUP take everything xtask started down with it:
//! make and its compilers, git, tar, vng and the QEMU it forked. A handler
//! writes the signal to a pipe; a thread reads it, kills every descendant
//! of xtask (found in /proc, whichever process group they are in), and
//! lets the stage that was running see its child end and report the run
//! as interrupted, writing what it has. A second signal, or a stage that
//! does not end within [`GRACE`], ends xtask at once.

use std::{
    io::Read,
    os::fd::FromRawFd,
    sync::atomic::{AtomicI32, Ordering},
    time::Duration,
};

use anyhow::Result;

use crate::{outcome::Failure, progress};

/// How long the interrupted stage has to write its results.
const GRACE: Duration = Duration::from_secs(10);

static PIPE: AtomicI32 = AtomicI32::new(-1);
static RECEIVED: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(signal: libc::c_int) {
    let byte = signal as u8;
    // SAFETY: write(2) is async-signal-safe; the pipe lives as long as
    // the process.
    unsafe { libc::write(PIPE.load(Ordering::Relaxed), (&byte as *const u8).cast(), 1) };
}

/// Installs the handlers and the thread that acts on them.
pub fn install() -> Result<()> {
    let mut fds = [0; 2];
    // SAFETY: a plain pipe2(2) into a local array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error().into());
    }
    PIPE.store(fds[1], Ordering::Relaxed);
    // SAFETY: the read end is ours alone from here on.
    let mut read_end = unsafe { std::fs::File::from_raw_fd(fds[0]) };
    for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: a zeroed sigaction with a handler that only calls
        // write(2); SA_RESTART keeps the reads of child output going.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            action.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            if libc::sigaction(signal, &action, std::ptr::null_mut()) != 0 {
                return Err(std::io::Error::last_os_error().into());
            }
        }
    }
    std::thread::spawn(move || {
        let mut byte = [0u8];
        while read_end.read_exact(&mut byte).is_ok() {
            let signal = i32::from(byte[0]);
            if RECEIVED.swap(signal, Ordering::SeqCst) != 0 {
                exit_now(signal);
            }
            let children = descendants(std::process::id());
            progress::say(format_args!(
                "\nxtask: {} received: stopping {} child process(es)",
                name(signal),
                children.len()
            ));
            kill_all(&children);
            std::thread::spawn(move || {
                std::thread::sleep(GRACE);
                exit_now(signal);
            });
        }
    });
    Ok(())
}

/// The signal that interrupted xtask, if one did.
pub fn received() -> Option<i32> {
    Some(RECEIVED.load(Ordering::SeqCst)).filter(|&s| s != 0)
}

/// An error when xtask was interrupted: what a stage whose child ended
/// checks before it calls that a failure of its own.
pub fn check() -> Result<()> {
    match received() {
        Some(signal) => {
            Err(anyhow::anyhow!("stopped by {}", name(signal))).map_err(|e| e.context(Failure::Interrupted))
        }
        None => Ok(()),
    }
}

pub fn name(signal: i32) -> &'static str {
    match signal {
        libc::SIGINT => "SIGINT",
        libc::SIGTERM => "SIGTERM",
        libc::SIGHUP => "SIGHUP",
        libc::SIGKILL => "SIGKILL",
        _ => "a signal",
    }
}

fn exit_now(signal: i32) -> ! {
    kill_all(&descendants(std::process::id()));
    std::process::exit(128 + signal)
}

/// Every process below `root`, parents first.
pub fn descendants(root: u32) -> Vec<u32> {
    let parents: Vec<(u32, u32)> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            // /proc/PID/stat: "pid (comm) state ppid ...", comm may hold spaces.
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let ppid = stat.rsplit_once(')')?.1.split_whitespace().nth(1)?.parse().ok()?;
            Some((pid, ppid))
        })
        .collect();
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(parents.iter().filter(|(_, ppid)| *ppid == parent).map(|(pid, _)| *pid));
        i += 1;
    }
    found.remove(0);
    found
}

/// SIGKILL to each, children first, so none is re-parented before it is
/// found. QEMU, make and git have nothing worth a graceful stop.
pub fn kill_all(pids: &[u32]) {
    for &pid in pids.iter().rev().filter(|&&pid| pid > 1) {
        // SAFETY: kill(2) on a pid we found below us.
        unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
    }
}

#[cfg(test)]
mod tests {
    use std::{
        path::Path,
        process::{Command, Stdio},
        time::{Duration, Instant},
    };

    use super::*;
    use crate::{
        guest::{
            boot::{self, GuestLogs},
            verdict::GuestEnd,
        },
        outcome, process,
        progress::Stage,
    };

    const DIR_ENV: &str = "XTASK_SIGNAL_TEST_DIR";
    /// The sleeps' durations: unique to the test run, so that no process
    /// of another run is taken for one of this run.
    const MARK_ENV: &str = "XTASK_SIGNAL_TEST_MARK";

    fn mark(n: u32) -> String {
        format!("4321.{}{n}", std::process::id())
    }

    fn helper_mark(n: u32) -> String {
        format!("{}{n}", std::env::var(MARK_ENV).unwrap())
    }

    /// Processes with `marker` as an argument: the sleeps, not the shell.
    fn survivors(marker: &str) -> Vec<u32> {
        std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter_map(|e| {
                let pid = e.file_name().to_str()?.parse::<u32>().ok()?;
                let cmdline = std::fs::read(e.path().join("cmdline")).ok()?;
                cmdline.split(|&b| b == 0).any(|arg| arg == marker.as_bytes()).then_some(pid)
            })
            .collect()
    }

    fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
        let started = Instant::now();
        while !done() {
            assert!(started.elapsed() < Duration::from_secs(30), "waited in vain for {what}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Runs the helper test `name` as its own process (signals are
    /// process-wide), sends it `signal` once `started` holds, and returns
    /// its exit code and output.
    fn signal_helper(name: &str, dir: &Path, started: impl FnMut() -> bool, signal: i32) -> (i32, String) {
        let child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", name, "--ignored", "--nocapture", "--test-threads=1"])
            .env(DIR_ENV, dir)
            .env(MARK_ENV, format!("4321.{}", std::process::id()))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        wait_for("the helper's children", started);
        // SAFETY: kill(2) on the helper we started.
        unsafe { libc::kill(child.id() as libc::pid_t, signal) };
        let out = child.wait_with_output().unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        (out.status.code().unwrap_or(-1), text)
    }

    /// A build step: make and what it started, here a shell and two sleeps
    /// run through progress::run_logged as make is.
    #[test]
    #[ignore = "a helper process of a_signal_takes_a_build_step_down, which runs it"]
    fn build_step_helper() {
        let dir = std::env::var_os(DIR_ENV).unwrap();
        install().unwrap();
        let cmd = duct::cmd("sh", ["-c", &format!("sleep {} & sleep {}; wait", helper_mark(1), helper_mark(2))]);
        let result = process::run_logged(cmd, &Path::new(&dir).join("make.log"), &mut Stage::start("build"), |_| None);
        let err = result.unwrap_err();
        println!("result: {err:#}");
        std::process::exit(err.downcast_ref::<outcome::Failure>().map_or(8, |f| f.code()).into());
    }

    #[test]
    fn a_signal_takes_a_build_step_down() {
        let dir = tempfile::tempdir().unwrap();
        let started = || survivors(&mark(1)).len() == 1 && survivors(&mark(2)).len() == 1;
        let (code, output) = signal_helper("signals::tests::build_step_helper", dir.path(), started, libc::SIGTERM);
        assert_eq!(code, 9, "{output}");
        assert!(output.contains("xtask: SIGTERM received: stopping 3 child process(es)"), "{output}");
        assert!(output.contains("result: interrupted: stopped by SIGTERM"), "{output}");
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!((survivors(&mark(1)), survivors(&mark(2))), (vec![], vec![]), "{output}");
    }

    /// A guest: vng and the QEMU it forks, here a shell that prints the
    /// runner's first line and a sleep, run through boot::run.
    #[test]
    #[ignore = "a helper process of a_signal_takes_a_guest_down, which runs it"]
    fn guest_helper() {
        let dir = std::env::var_os(DIR_ENV).unwrap();
        install().unwrap();
        let logs =
            GuestLogs { console: Path::new(&dir).join("console.log"), output: Path::new(&dir).join("output.log") };
        let script = format!("echo 'TAP version 13'; sleep {} & wait", helper_mark(3));
        let argv = ["sh".to_owned(), "-c".to_owned(), script];
        let long = Duration::from_secs(60);
        let run = boot::run(&argv, &logs, &mut Stage::start("suite"), long, long, |l| l.starts_with("TAP")).unwrap();
        println!("ending: {:?}", run.ending);
    }

    #[test]
    fn a_signal_takes_a_guest_down() {
        let dir = tempfile::tempdir().unwrap();
        let started = || survivors(&mark(3)).len() == 1;
        let (_, output) = signal_helper("signals::tests::guest_helper", dir.path(), started, libc::SIGINT);
        assert!(output.contains("ending: Interrupted { why: \"xtask got SIGINT\" }"), "{output}");
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(survivors(&mark(3)), Vec::<u32>::new(), "{output}");
        let console = std::fs::read_to_string(dir.path().join("console.log")).unwrap();
        assert_eq!(GuestEnd::from_log(&console), Some(GuestEnd::Interrupted("xtask got SIGINT".into())));
    }
}
