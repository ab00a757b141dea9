//! One xtask at a time per checkout: two runs would build into the same
//! build directory, apply onto the same work tree and stream their guests
//! into the same console.log. The lock is an flock(2) on work/xtask.lock,
//! which the kernel releases when the process ends, however it ends; the
//! second run waits, saying for whom.

use std::{
    fs::File,
    io::{Read, Seek, Write},
    os::fd::AsRawFd,
    path::Path,
};

use anyhow::{Context, Result};

use crate::progress;

/// Held until dropped.
pub struct Lock {
    _file: File,
}

impl Lock {
    /// Takes the lock of the checkout at `root`.
    pub fn checkout(root: &Path) -> Result<Lock> {
        Lock::acquire(&root.join("work").join("xtask.lock"), "this checkout")
    }

    /// Takes the flock on `path`, waiting for its holder if there is one;
    /// `what` names what it protects in the message.
    pub fn acquire(path: &Path, what: &str) -> Result<Lock> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        }
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .with_context(|| format!("cannot open the lock {}", path.display()))?;
        if !flock(&file, libc::LOCK_EX | libc::LOCK_NB)? {
            let mut holder = String::new();
            file.read_to_string(&mut holder).ok();
            progress::say(format_args!(
                "waiting: another xtask works in {what} ({}; lock {}); it goes on when that one ends",
                holder.trim(),
                path.display()
            ));
            flock(&file, libc::LOCK_EX)?;
        }
        let args: Vec<String> = std::env::args().skip(1).collect();
        file.set_len(0)?;
        file.rewind()?;
        write!(file, "pid {}: xtask {}", std::process::id(), args.join(" "))?;
        Ok(Lock { _file: file })
    }
}

/// flock(2); `Ok(false)` when LOCK_NB found it held.
fn flock(file: &File, operation: libc::c_int) -> Result<bool> {
    loop {
        // SAFETY: the descriptor belongs to `file`, open for the call.
        if unsafe { libc::flock(file.as_raw_fd(), operation) } == 0 {
            return Ok(true);
        }
        let err = std::io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(libc::EWOULDBLOCK) => return Ok(false),
            _ => return Err(err).context("flock failed"),
        }
    }
}
