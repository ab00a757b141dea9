//! `cargo xtask send`: `git send-email` on the mails `format-patch` wrote,
//! threaded under the cover letter. A dry run unless told `--for-real`;
//! SMTP settings come from the developer's git config (sendemail.*).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use xshell::{cmd, Shell};

use crate::{progress, project::Project};

#[derive(clap::Args, Debug)]
pub struct Send {
    /// The version `cargo xtask format-patch --version N` wrote.
    #[arg(long, short, default_value_t = 1)]
    pub version: u32,
    /// Send only to yourself (sendemail.from or user.email), without the
    /// To and Cc of the mails: a rehearsal that reaches a real mailbox.
    #[arg(long)]
    pub to_self: bool,
    /// Show what would be sent (the default).
    #[arg(long, conflicts_with = "for_real")]
    pub dry_run: bool,
    /// Really send the mails.
    #[arg(long)]
    pub for_real: bool,
    /// Hand each mail to this command instead of SMTP, as git send-email's
    /// --sendmail-cmd (e.g. to capture the series in an mbox).
    #[arg(long)]
    pub sendmail_cmd: Option<String>,
}

impl Send {
    pub fn run(self, sh: &Shell, project: &Project) -> Result<()> {
        let dir = project.results_dir().join("mail").join(format!("v{}", self.version));
        let mails = mail_files(&dir).with_context(|| {
            format!(
                "no mails of v{} to send: run `cargo xtask format-patch --version {}` first",
                self.version, self.version
            )
        })?;
        let options =
            SendOptions { to_self: self.to_self, dry_run: !self.for_real, sendmail_cmd: self.sendmail_cmd.clone() };
        let output = send(sh, &mails, &options)?;
        progress::print(&output)?;
        if options.dry_run {
            progress::say(format_args!(
                "dry run: nothing was sent; `cargo xtask send --version {} --for-real` sends it",
                self.version
            ));
        }
        Ok(())
    }
}

pub struct SendOptions {
    pub to_self: bool,
    pub dry_run: bool,
    pub sendmail_cmd: Option<String>,
}

/// The mails of a version, cover letter first.
pub fn mail_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "patch"))
        .collect();
    files.sort();
    if files.is_empty() {
        bail!("{} holds no .patch files", dir.display());
    }
    Ok(files)
}

/// Runs git send-email; returns its report of each mail (subject and
/// recipients).
pub fn send(sh: &Shell, mails: &[PathBuf], options: &SendOptions) -> Result<String> {
    let mut args: Vec<String> = vec![
        "--confirm=never".into(),
        // The files carry their Message-ID and In-Reply-To from
        // format-patch --thread: every patch answers the cover letter.
        "--no-thread".into(),
        "--no-chain-reply-to".into(),
        "--no-format-patch".into(),
    ];
    if options.dry_run {
        args.push("--dry-run".into());
    }
    if let Some(sendmail) = &options.sendmail_cmd {
        args.push(format!("--sendmail-cmd={sendmail}"));
    }
    let files: Vec<PathBuf> = if options.to_self {
        let me = own_address(sh)?;
        args.extend([format!("--to={me}"), "--suppress-cc=all".into()]);
        let copies = mails[0].with_file_name("to-self");
        std::fs::create_dir_all(&copies)?;
        mails
            .iter()
            .map(|m| {
                let copy = copies.join(m.file_name().context("a mail file has no name")?);
                std::fs::write(&copy, without_recipients(&std::fs::read_to_string(m)?))?;
                Ok(copy)
            })
            .collect::<Result<_>>()?
    } else {
        mails.to_vec()
    };
    let out = cmd!(sh, "git send-email {args...} {files...}").quiet().ignore_status().output()?;
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    if !out.status.success() {
        bail!("git send-email failed:\n{}", text.trim());
    }
    Ok(report(&text))
}

/// The sender's address, which --to-self sends to.
fn own_address(sh: &Shell) -> Result<String> {
    for key in ["sendemail.from", "user.email"] {
        if let Ok(value) = cmd!(sh, "git config {key}").quiet().ignore_stderr().read() {
            if !value.trim().is_empty() {
                return Ok(value.trim().to_owned());
            }
        }
    }
    bail!("--to-self needs your address: set sendemail.from or user.email in git config")
}

fn without_recipients(mail: &str) -> String {
    let (headers, body) = mail.split_once("\n\n").unwrap_or((mail, ""));
    let kept: Vec<&str> = headers.lines().filter(|l| !l.starts_with("To: ") && !l.starts_with("Cc: ")).collect();
    format!("{}\n\n{body}", kept.join("\n"))
}

/// The Subject, To and Cc headers (with their continuation lines) and the
/// result git send-email printed for each mail.
fn report(output: &str) -> String {
    let mut kept = String::new();
    let mut in_header = false;
    for line in output.lines() {
        if line.starts_with([' ', '\t']) {
            if in_header {
                kept.push_str(&format!("{line}\n"));
            }
            continue;
        }
        in_header = ["Subject: ", "To: ", "Cc: "].iter().any(|p| line.starts_with(p));
        if in_header || line.starts_with("Result: ") {
            kept.push_str(&format!("{line}\n"));
        }
    }
    kept
}
