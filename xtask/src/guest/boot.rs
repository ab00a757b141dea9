//! Booting the built kernel in virtme-ng, and choosing the accelerator.
//!
//! `/dev/kvm` opening proves nothing: on some hosts (a VM without nested
//! virtualization support that still exposes it) QEMU aborts at once with
//! `-cpu host`, or the guest hangs at "Decompressing Linux...". So `auto`
//! boots a tiny probe with KVM under a short timeout and falls back to TCG,
//! saying why.

use std::{
    fs::File,
    io::{BufRead, BufReader, Write},
    path::{Path, PathBuf},
    sync::mpsc,
    time::{Duration, Instant},
};

use anyhow::{Context, Result};
use serde::Serialize;

use crate::{
    guest::verdict::GuestEnd,
    outcome::{Categorize, Failure},
    process,
    progress::{fmt_duration, Stage},
    xtask_toml::{AccelFlag, Arch},
};

/// The probe boots in about 3 s where KVM works and 9 s under TCG; a hang
/// shows within this.
const PROBE_TIMEOUT: Duration = Duration::from_secs(25);
const PROBE_MARKER: &str = "xtask-kvm-probe-ok";
/// Console lines kept to show what a hung or crashed guest printed last.
const TAIL_LINES: usize = 25;
/// What QEMU prints when a signal ends it ("qemu-system-x86_64:
/// terminating on signal 15 from pid 4242 (kill)").
const QEMU_SIGNALLED: &str = "terminating on signal";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Accel {
    Kvm,
    Tcg,
}

impl std::fmt::Display for Accel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Accel::Kvm => "KVM",
            Accel::Tcg => "TCG",
        })
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct AccelChoice {
    pub accel: Accel,
    pub why: String,
}

/// The user space of a guest of another architecture than the host's: a
/// root of its own (vng boots the host's root otherwise), and the host
/// directory that holds its programs, shared at the same path.
#[derive(Debug, Clone, Copy)]
pub struct ForeignRoot<'a> {
    pub arch: Arch,
    pub root: &'a Path,
    pub shared: &'a Path,
}

/// What a guest should do.
pub struct Guest<'a> {
    /// The vng that boots it.
    pub vng: &'a Path,
    pub image: &'a Path,
    pub foreign: Option<ForeignRoot<'a>>,
    pub accel: Accel,
    pub memory: &'a str,
    pub cpus: u32,
    pub cmdline: &'a [String],
    pub qemu_opts: &'a [String],
    /// Shell command run in the guest.
    pub command: String,
}

impl Guest<'_> {
    pub fn argv(&self) -> Vec<String> {
        let mut argv = vec![
            self.vng.display().to_string(),
            "--run".to_owned(),
            self.image.display().to_string(),
            "--verbose".to_owned(),
            // virtiofsd is not packaged on Debian 12; vng would wait for it
            // before falling back to 9p.
            "--force-9p".to_owned(),
            "--memory".to_owned(),
            self.memory.to_owned(),
            "--cpus".to_owned(),
            self.cpus.to_string(),
        ];
        if self.accel == Accel::Tcg {
            argv.push("--disable-kvm".to_owned());
        }
        if let Some(foreign) = &self.foreign {
            argv.extend([
                format!("--arch={}", foreign.arch.kernel_name()),
                format!("--root={}", foreign.root.display()),
                format!("--rwdir={0}={0}", foreign.shared.display()),
            ]);
        }
        // vng splits both options the way a shell would.
        for arg in self.cmdline {
            argv.push(format!("--append={}", process::sh_quote(arg)));
        }
        if !self.qemu_opts.is_empty() {
            let opts: Vec<String> = self.qemu_opts.iter().map(|o| process::sh_quote(o)).collect();
            argv.push(format!("--qemu-opts={}", opts.join(" ")));
        }
        argv.push("--exec".to_owned());
        argv.push(self.command.clone());
        argv
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "how")]
pub enum Ending {
    /// vng returned this code (255: the guest died, e.g. a panic).
    Exited { code: Option<i32> },
    /// No sign of the guest's command before the boot timeout.
    BootTimeout { seconds: u64 },
    /// The command started but did not end within the run timeout.
    RunTimeout { seconds: u64 },
    /// A signal stopped the guest or xtask.
    Interrupted { why: String },
}

pub struct GuestRun {
    pub ending: Ending,
    pub duration: Duration,
    /// When the guest's command printed its first line, from the start.
    pub booted_after: Option<Duration>,
    pub tail: Vec<String>,
}

/// Runs `argv` (a vng command line), writing what it prints to `logs`. `booted` tells
/// the first line of the guest command's own output; until it shows,
/// `boot_timeout` applies, after it `run_timeout`. A guest past its time is
/// killed with everything it started (vng, virtme-run and QEMU).
pub fn run(
    argv: &[String],
    logs: &GuestLogs,
    stage: &mut Stage,
    boot_timeout: Duration,
    run_timeout: Duration,
    booted: impl Fn(&str) -> bool,
) -> Result<GuestRun> {
    let create = |path: &Path| File::create(path).with_context(|| format!("cannot create {}", path.display()));
    let (mut console, mut output) = (create(&logs.console)?, create(&logs.output)?);
    // The guest command's output (vng's stdout, a virtio-serial port) and the
    // kernel console (stderr, the serial console) are read apart: through one
    // pipe their lines would interleave mid-line.
    let (stderr_reader, stderr_writer) = os_pipe::pipe()?;
    let reader = {
        let expr = duct::cmd(&argv[0], &argv[1..])
            .env("PATH", crate::toolchain::path_with_dir_of(Path::new(&argv[0])))
            .stdin_null()
            .stderr_file(stderr_writer)
            .unchecked();
        expr.reader().with_context(|| format!("cannot start {}", argv[0]))?
    };
    let child = reader.pids().first().copied();
    let started = Instant::now();
    let (tx, rx) = mpsc::channel::<(Stream, String)>();
    let mut tail: Vec<String> = Vec::new();
    let mut booted_after = None;
    let mut deadline = started + boot_timeout;
    let mut timed_out = None;
    std::thread::scope(|scope| -> Result<()> {
        let reader = &reader;
        let tx_console = tx.clone();
        scope.spawn(move || forward_lines(reader, Stream::Output, &tx));
        scope.spawn(move || forward_lines(stderr_reader, Stream::Console, &tx_console));
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok((stream, line)) => {
                    console.write_all(line.as_bytes())?;
                    if stream == Stream::Output {
                        output.write_all(line.as_bytes())?;
                    }
                    let line = line.trim_end().to_owned();
                    if booted_after.is_none() && stream == Stream::Output && booted(&line) {
                        booted_after = Some(started.elapsed());
                        deadline = Instant::now() + run_timeout;
                    }
                    stage.set_message(&line);
                    tail.push(line);
                    if tail.len() > TAIL_LINES {
                        tail.remove(0);
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    timed_out = Some(if booted_after.is_some() {
                        Ending::RunTimeout { seconds: run_timeout.as_secs() }
                    } else {
                        Ending::BootTimeout { seconds: boot_timeout.as_secs() }
                    });
                    if let Some(pid) = child {
                        let mut pids = vec![pid];
                        pids.extend(crate::signals::descendants(pid));
                        crate::signals::kill_all(&pids);
                    }
                    let why = match timed_out {
                        Some(Ending::BootTimeout { seconds }) => format!("no test started within {seconds} s"),
                        _ => format!("the tests did not finish within {} s", run_timeout.as_secs()),
                    };
                    writeln!(console, "{}", GuestEnd::Killed(why).marker())?;
                    // Drain what is left so the reader thread ends.
                    while rx.recv_timeout(Duration::from_secs(5)).is_ok() {}
                    break;
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        Ok(())
    })?;
    let output = reader.try_wait()?;
    let qemu_signalled = tail.iter().rev().find(|l| l.contains(QEMU_SIGNALLED)).cloned();
    let ending = match (timed_out, crate::signals::received(), qemu_signalled) {
        (Some(ending), _, _) => ending,
        (None, Some(signal), _) => {
            let why = format!("xtask got {}", crate::signals::name(signal));
            writeln!(console, "{}", GuestEnd::Interrupted(why.clone()).marker())?;
            Ending::Interrupted { why }
        }
        (None, None, Some(qemu)) => {
            let why = format!("stopped from outside: {}", qemu.trim());
            writeln!(console, "{}", GuestEnd::Interrupted(why.clone()).marker())?;
            Ending::Interrupted { why }
        }
        (None, None, None) => {
            let code = output.and_then(|o| o.status.code());
            writeln!(console, "{}", GuestEnd::Exited(code).marker())?;
            Ending::Exited { code }
        }
    };
    Ok(GuestRun { ending, duration: started.elapsed(), booted_after, tail })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stream {
    Output,
    Console,
}

/// Where a guest's output goes.
pub struct GuestLogs {
    /// Everything, whole lines in the order they came.
    pub console: PathBuf,
    /// Only the guest command's own output: the test results.
    pub output: PathBuf,
}

fn forward_lines(from: impl std::io::Read, stream: Stream, to: &mpsc::Sender<(Stream, String)>) {
    let mut lines = BufReader::new(from);
    let mut line = Vec::new();
    while lines.read_until(b'\n', &mut line).is_ok_and(|n| n > 0) {
        if !line.ends_with(b"\n") {
            line.push(b'\n');
        }
        if to.send((stream, String::from_utf8_lossy(&line).into_owned())).is_err() {
            break;
        }
        line.clear();
    }
}

/// Settles the accelerator: as asked, or for `auto` by a probe boot; a
/// guest of another architecture runs under TCG.
pub fn choose_accel(
    flag: AccelFlag,
    vng: &Path,
    image: &Path,
    foreign: Option<ForeignRoot>,
    log_dir: &Path,
) -> Result<AccelChoice> {
    if let Some(foreign) = foreign {
        let host = std::env::consts::ARCH;
        if flag == AccelFlag::Kvm {
            return Err(anyhow::anyhow!(
                "--accel kvm (or boot.accel) cannot run an {} guest on this {host} host: use --accel tcg or auto",
                foreign.arch
            ))
            .categorize(Failure::Configuration);
        }
        return Ok(AccelChoice { accel: Accel::Tcg, why: format!("an {} guest on an {host} host", foreign.arch) });
    }
    match flag {
        AccelFlag::Kvm => {
            return Ok(AccelChoice { accel: Accel::Kvm, why: "asked for (--accel or boot.accel)".into() })
        }
        AccelFlag::Tcg => {
            return Ok(AccelChoice { accel: Accel::Tcg, why: "asked for (--accel or boot.accel)".into() })
        }
        AccelFlag::Auto => {}
    }
    let kvm_opens = std::fs::OpenOptions::new().read(true).write(true).open("/dev/kvm").is_ok();
    if !kvm_opens {
        return Ok(AccelChoice { accel: Accel::Tcg, why: "/dev/kvm cannot be opened read-write".into() });
    }
    let mut stage = Stage::start("probe KVM");
    let guest = Guest {
        vng,
        image,
        foreign: None,
        accel: Accel::Kvm,
        memory: "512M",
        cpus: 1,
        cmdline: &[],
        qemu_opts: &[],
        command: format!("echo {PROBE_MARKER}"),
    };
    std::fs::create_dir_all(log_dir)?;
    let logs = GuestLogs { console: log_dir.join("kvm-probe.log"), output: log_dir.join("kvm-probe.output") };
    let run = run(&guest.argv(), &logs, &mut stage, PROBE_TIMEOUT, PROBE_TIMEOUT, |l| l.contains(PROBE_MARKER))?;
    crate::signals::check()?;
    let took = fmt_duration(run.duration);
    let choice = match (&run.ending, run.booted_after) {
        (Ending::Exited { code: Some(0) }, Some(_)) => {
            AccelChoice { accel: Accel::Kvm, why: format!("a KVM probe boot worked in {took}") }
        }
        (Ending::BootTimeout { .. } | Ending::RunTimeout { .. } | Ending::Interrupted { .. }, _) => AccelChoice {
            accel: Accel::Tcg,
            why: format!(
                "a KVM probe boot hung: nothing after `{}` in {took}",
                run.tail.last().map_or("", String::as_str)
            ),
        },
        (Ending::Exited { code }, _) => AccelChoice {
            accel: Accel::Tcg,
            why: format!(
                "a KVM probe boot failed in {took} (exit {}): `{}`",
                code.map_or("by signal".to_owned(), |c| c.to_string()),
                run.tail.iter().rev().find(|l| !l.trim().is_empty()).map_or("", String::as_str)
            ),
        },
    };
    stage.finish(&format!("{}: {}", choice.accel, choice.why));
    Ok(choice)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn logs(dir: &Path) -> GuestLogs {
        GuestLogs { console: dir.join("console.log"), output: dir.join("output.log") }
    }

    fn sh(script: &str) -> Vec<String> {
        vec!["bash".into(), "-c".into(), script.into()]
    }

    /// A stand-in for QEMU that outlives its parent unless it is killed.
    fn leftover(marker: &str) -> bool {
        std::fs::read_dir("/proc").unwrap().flatten().any(|e| {
            std::fs::read(e.path().join("cmdline")).is_ok_and(|c| String::from_utf8_lossy(&c).contains(marker))
        })
    }

    #[test]
    fn a_hung_run_is_killed_with_everything_it_started() {
        let dir = tempfile::tempdir().unwrap();
        let logs = logs(dir.path());
        // The grandchild's unique duration identifies it in /proc.
        let script = "sleep 4321.5 & echo 'kernel says hello' >&2; echo 'TAP version 13'; wait";
        let mut stage = Stage::start("test");
        let t = Duration::from_secs(1);
        let run = run(&sh(script), &logs, &mut stage, Duration::from_secs(20), t, |l| l.starts_with("TAP")).unwrap();
        assert_eq!(run.ending, Ending::RunTimeout { seconds: 1 });
        assert!(run.booted_after.is_some());
        std::thread::sleep(Duration::from_millis(200));
        assert!(!leftover("4321.5"), "the grandchild survived");
        let console = std::fs::read_to_string(&logs.console).unwrap();
        assert!(console.contains("kernel says hello\n"), "{console}");
        assert!(console.ends_with("xtask: guest killed: the tests did not finish within 1 s\n"), "{console}");
        assert_eq!(GuestEnd::from_log(&console), Some(GuestEnd::Killed("the tests did not finish within 1 s".into())));
        assert_eq!(std::fs::read_to_string(&logs.output).unwrap(), "TAP version 13\n");
    }

    #[test]
    fn no_first_test_is_a_boot_timeout_and_an_exit_is_an_exit() {
        let dir = tempfile::tempdir().unwrap();
        let mut stage = Stage::start("test");
        let t = Duration::from_secs(1);
        let ended =
            run(&sh("echo booting; sleep 30"), &logs(dir.path()), &mut stage, t, t, |l| l.starts_with("TAP")).unwrap();
        assert_eq!(ended.ending, Ending::BootTimeout { seconds: 1 });
        assert_eq!(ended.tail, ["booting"]);
        let exited = run(&sh("echo TAP version 13; exit 255"), &logs(dir.path()), &mut stage, t, t, |_| true).unwrap();
        assert_eq!(exited.ending, Ending::Exited { code: Some(255) });
        let console = std::fs::read_to_string(dir.path().join("console.log")).unwrap();
        assert!(console.ends_with("xtask: guest exited: vng exit 255\n"), "{console}");
        assert_eq!(GuestEnd::from_log(&console), Some(GuestEnd::Exited(Some(255))));
    }

    /// QEMU killed from outside prints why and ends; the run is
    /// interrupted, not a crash, and the log says so. The stand-in for
    /// QEMU is a real shell killed with SIGTERM by this test.
    #[test]
    fn a_guest_killed_from_outside_is_interrupted() {
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("guest.pid");
        let script = format!(
            "echo $$ > {}; trap 'echo \"qemu-system-x86_64: terminating on signal 15 from pid 1 (kill)\" >&2; exit 1' TERM; \
             echo 'TAP version 13'; echo 1..1; while :; do sleep 0.05; done",
            pid_file.display()
        );
        let killer = std::thread::spawn(move || {
            while !std::fs::read_to_string(&pid_file).is_ok_and(|p| p.ends_with('\n')) {
                std::thread::sleep(Duration::from_millis(20));
            }
            let pid = std::fs::read_to_string(&pid_file).unwrap().trim().to_owned();
            std::thread::sleep(Duration::from_millis(200));
            assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
        });
        let t = Duration::from_secs(20);
        let run =
            run(&sh(&script), &logs(dir.path()), &mut Stage::start("test"), t, t, |l| l.starts_with("TAP")).unwrap();
        killer.join().unwrap();
        let why = "stopped from outside: qemu-system-x86_64: terminating on signal 15 from pid 1 (kill)";
        assert_eq!(run.ending, Ending::Interrupted { why: why.into() });
        let console = std::fs::read_to_string(dir.path().join("console.log")).unwrap();
        let verdict = crate::guest::verdict::Verdict::judge(&console, &crate::guest::verdict::Expectations::none());
        assert_eq!(verdict.failure, Some(crate::outcome::Failure::Interrupted));
        assert_eq!(verdict.snapshot, crate::guest::verdict::SnapshotStatus::NotCompared);
    }

    #[test]
    fn vng_gets_one_word_per_option() {
        let cmdline = ["memmap=1G$4G".to_owned(), "dyndbg=\"file mm/* +p\"".to_owned()];
        let qemu_opts = ["-device".to_owned(), "qxl-vga,vram_size_mb=256".to_owned()];
        let guest = Guest {
            vng: Path::new("vng"),
            image: Path::new("/b/bzImage"),
            foreign: None,
            accel: Accel::Tcg,
            memory: "2G",
            cpus: 2,
            cmdline: &cmdline,
            qemu_opts: &qemu_opts,
            command: "true".into(),
        };
        insta::assert_snapshot!(guest.argv().join("\n"), @r#"
        vng
        --run
        /b/bzImage
        --verbose
        --force-9p
        --memory
        2G
        --cpus
        2
        --disable-kvm
        --append='memmap=1G$4G'
        --append='dyndbg="file mm/* +p"'
        --qemu-opts=-device qxl-vga,vram_size_mb=256
        --exec
        true
        "#);
    }

    /// A guest of another architecture boots its own root and sees the
    /// project at the host's path; it never asks for KVM.
    #[test]
    fn a_foreign_guest_gets_its_root_and_the_project() {
        let foreign = ForeignRoot { arch: Arch::Arm64, root: Path::new("/cache/root"), shared: Path::new("/p") };
        let guest = Guest {
            vng: Path::new("vng"),
            image: Path::new("/b/Image"),
            foreign: Some(foreign),
            accel: Accel::Tcg,
            memory: "2G",
            cpus: 2,
            cmdline: &[],
            qemu_opts: &[],
            command: "true".into(),
        };
        let argv = guest.argv();
        assert_eq!(argv[9..13], ["--disable-kvm", "--arch=arm64", "--root=/cache/root", "--rwdir=/p=/p"]);
        if Arch::Arm64.is_foreign() {
            let dir = tempfile::tempdir().unwrap();
            let choice =
                choose_accel(AccelFlag::Auto, Path::new("vng"), Path::new("/b/Image"), Some(foreign), dir.path());
            assert_eq!(choice.unwrap().accel, Accel::Tcg);
            let err = choose_accel(AccelFlag::Kvm, Path::new("vng"), Path::new("/b/Image"), Some(foreign), dir.path());
            assert!(format!("{:#}", err.unwrap_err()).contains("cannot run an arm64 guest"));
        }
    }
}
