//! Kconfig fragments: parse, merge (refusing conflicts) and check that every
//! requested option survived `make olddefconfig` (or allnoconfig), the way
//! kunit.py does.
//!
//! No crate resolves Kconfig dependencies, and none is needed: Kconfig
//! resolves them, this module only says which requests it had to drop.

use std::{collections::BTreeMap, fmt, path::Path};

use anyhow::{bail, Context, Result};

/// Value of one option; "=n" and "is not set" are both [`Value::Unset`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Set(String),
    Unset,
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Set(v) => f.write_str(v),
            Value::Unset => f.write_str("n"),
        }
    }
}

/// Where a request was made: fragment file name and line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub file: String,
    pub line: usize,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// One `.config`-style line: `CONFIG_FOO=value` or `# CONFIG_FOO is not set`.
/// Other comments and blank lines give `Ok(None)`.
fn parse_line(line: &str) -> Result<Option<(&str, Value)>, String> {
    let line = line.trim();
    if line.is_empty() {
        return Ok(None);
    }
    if let Some(comment) = line.strip_prefix('#') {
        let comment = comment.trim();
        return Ok(comment
            .strip_suffix(" is not set")
            .filter(|name| name.starts_with("CONFIG_") && !name.contains(' '))
            .map(|name| (name, Value::Unset)));
    }
    let Some((name, value)) = line.split_once('=') else {
        return Err(format!("`{line}` is neither CONFIG_NAME=value nor a comment"));
    };
    let valid_name = name
        .strip_prefix("CONFIG_")
        .is_some_and(|rest| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'));
    if !valid_name {
        return Err(format!("`{name}` is not an option name of the form CONFIG_NAME"));
    }
    if value.is_empty() {
        return Err(format!("{name} has no value; write {name}=y, =m, =n or a value"));
    }
    Ok(Some((name, if value == "n" { Value::Unset } else { Value::Set(value.to_owned()) })))
}

/// The options a profile asks for, each with the fragment line that asked.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Request {
    options: BTreeMap<String, (Value, Origin)>,
}

impl Request {
    /// Merges fragments given as (file name, text); the same option with
    /// the same value in two fragments is fine, different values are an
    /// error naming both places.
    pub fn merge<'a>(fragments: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Request> {
        let mut request = Request::default();
        let mut problems = Vec::new();
        for (file, text) in fragments {
            for (i, line) in text.lines().enumerate() {
                let origin = Origin { file: file.to_owned(), line: i + 1 };
                let (name, value) = match parse_line(line) {
                    Ok(Some(entry)) => entry,
                    Ok(None) => continue,
                    Err(e) => {
                        problems.push(format!("{origin}: {e}"));
                        continue;
                    }
                };
                match request.options.get(name) {
                    Some((old, old_origin)) if *old != value => problems
                        .push(format!("{name}: {old_origin} sets {old}, {origin} sets {value}; settle on one value")),
                    Some(_) => {}
                    None => {
                        request.options.insert(name.to_owned(), (value, origin));
                    }
                }
            }
        }
        if !problems.is_empty() {
            bail!("conflicting or malformed kconfig fragments:\n  {}", problems.join("\n  "));
        }
        Ok(request)
    }

    /// Reads the profile's fragments from `dir`.
    pub fn from_files(dir: &Path, names: &[String]) -> Result<Request> {
        let texts = names
            .iter()
            .map(|name| {
                let path = dir.join(name);
                std::fs::read_to_string(&path)
                    .with_context(|| format!("cannot read kconfig fragment {}", path.display()))
                    .map(|text| (format!("kconfigs/{name}"), text))
            })
            .collect::<Result<Vec<_>>>()?;
        Request::merge(texts.iter().map(|(n, t)| (n.as_str(), t.as_str())))
    }

    /// The request in `.config` syntax, the input of olddefconfig or
    /// allnoconfig.
    pub fn to_config(&self) -> String {
        let mut out = String::new();
        for (name, (value, _)) in &self.options {
            match value {
                Value::Set(v) => out.push_str(&format!("{name}={v}\n")),
                Value::Unset => out.push_str(&format!("# {name} is not set\n")),
            }
        }
        out
    }

    /// The request without the options no Kconfig file of `tree` defines,
    /// and their names: what a tree from before the end of the series can
    /// be asked for.
    pub fn defined_in(&self, tree: &Path) -> Result<(Request, Vec<String>)> {
        let names: Vec<&str> = self.options.keys().map(String::as_str).collect();
        let absent: Vec<String> = unknown_symbols(tree, &names)?.into_iter().map(str::to_owned).collect();
        let mut defined = self.clone();
        defined.options.retain(|name, _| !absent.contains(name));
        Ok((defined, absent))
    }

    /// Requests that `dot_config` (the resolved `.config`) does not honour.
    pub fn dropped(&self, dot_config: &str) -> Vec<Dropped> {
        let resolved: BTreeMap<&str, Value> = dot_config.lines().filter_map(|l| parse_line(l).ok().flatten()).collect();
        self.options
            .iter()
            .filter_map(|(name, (wanted, origin))| {
                let got = resolved.get(name.as_str()).cloned().unwrap_or(Value::Unset);
                (got != *wanted).then(|| Dropped {
                    name: name.clone(),
                    wanted: wanted.clone(),
                    got,
                    origin: origin.clone(),
                })
            })
            .collect()
    }
}

/// Which of `names` (`CONFIG_FOO`) no Kconfig file of `tree` defines with
/// `config FOO` or `menuconfig FOO`: olddefconfig drops those silently,
/// just like options whose dependencies are not met.
pub fn unknown_symbols<'a>(tree: &Path, names: &[&'a str]) -> Result<Vec<&'a str>> {
    let mut unknown: Vec<&str> = names.to_vec();
    let mut dirs = vec![tree.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let entries = std::fs::read_dir(&dir).with_context(|| format!("cannot read {}", dir.display()))?;
        for entry in entries.flatten() {
            let path = entry.path();
            let is_kconfig = entry.file_name().to_str().is_some_and(|n| n.starts_with("Kconfig"));
            match entry.file_type() {
                Ok(t) if t.is_dir() && entry.file_name() != ".git" => dirs.push(path),
                Ok(t) if t.is_file() && is_kconfig => {
                    let text = std::fs::read_to_string(&path).unwrap_or_default();
                    let defined: Vec<&str> = text
                        .lines()
                        .filter_map(|l| {
                            let l = l.trim_start();
                            l.strip_prefix("config ").or_else(|| l.strip_prefix("menuconfig ")).map(str::trim)
                        })
                        .collect();
                    unknown.retain(|n| !defined.contains(&n.trim_start_matches("CONFIG_")));
                }
                _ => {}
            }
            if unknown.is_empty() {
                return Ok(unknown);
            }
        }
    }
    Ok(unknown)
}

/// A requested option that olddefconfig changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dropped {
    pub name: String,
    pub wanted: Value,
    pub got: Value,
    pub origin: Origin,
}

impl fmt::Display for Dropped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let got = match &self.got {
            Value::Set(v) => format!(" as {v}"),
            Value::Unset => " not set".to_owned(),
        };
        write!(f, "{}={} ({}) ended up{got}", self.name, self.wanted, self.origin)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The option a `.config` line sets, if any.
    pub(crate) fn name_of(line: &str) -> Option<String> {
        parse_line(line).ok().flatten().map(|(name, _)| name.to_owned())
    }

    /// A small tree with an option in a nested Kconfig file, and without
    /// the two a later commit of the series adds.
    #[test]
    fn options_the_tree_does_not_define_are_left_out() {
        let tree = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tree.path().join("mm")).unwrap();
        std::fs::write(tree.path().join("Kconfig"), "source \"mm/Kconfig\"\nconfig RUST\n\tbool \"Rust\"\n").unwrap();
        std::fs::write(tree.path().join("mm/Kconfig"), "menuconfig GUP_TEST\n\tbool\n").unwrap();
        let req = Request::merge([(
            "kconfigs/mm-tests.config",
            "CONFIG_RUST=y\nCONFIG_GUP_TEST=y\nCONFIG_TEST_VMF_INSERT_RANGE=y\n# CONFIG_SAMPLE_RUST_DRIVER_PFNMAP is not set\n",
        )])
        .unwrap();
        let (defined, absent) = req.defined_in(tree.path()).unwrap();
        assert_eq!(defined.to_config(), "CONFIG_GUP_TEST=y\nCONFIG_RUST=y\n");
        assert_eq!(absent, ["CONFIG_SAMPLE_RUST_DRIVER_PFNMAP", "CONFIG_TEST_VMF_INSERT_RANGE"]);
    }

    #[test]
    fn merge_accepts_agreeing_duplicates_and_writes_config() {
        let req = Request::merge([
            ("a.config", "# comment\nCONFIG_A=y\nCONFIG_S=\"str\"\n\n# CONFIG_B is not set\n"),
            ("b.config", "CONFIG_A=y\nCONFIG_C=m\nCONFIG_D=n\n"),
        ])
        .unwrap();
        insta::assert_snapshot!(req.to_config(), @r#"
        CONFIG_A=y
        # CONFIG_B is not set
        CONFIG_C=m
        # CONFIG_D is not set
        CONFIG_S="str"
        "#);
    }

    #[test]
    fn conflicts_name_both_fragments() {
        let err = Request::merge([
            ("kconfigs/a.config", "CONFIG_A=y\nCONFIG_B=y\n"),
            ("kconfigs/b.config", "CONFIG_A=m\n# CONFIG_B is not set\nCONFIG_B=y\n"),
        ])
        .unwrap_err();
        insta::assert_snapshot!(format!("{err:#}"));
    }

    /// A small real tree: options defined in nested Kconfig files are
    /// known, a misspelt one is not.
    #[test]
    fn unknown_symbols_are_found_in_the_tree() {
        let tree = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tree.path().join("mm")).unwrap();
        std::fs::write(tree.path().join("Kconfig"), "source \"mm/Kconfig\"\nconfig RUST\n\tbool \"Rust\"\n").unwrap();
        std::fs::write(tree.path().join("mm/Kconfig.debug"), "menuconfig DEBUG_VM\n\tbool\n").unwrap();
        std::fs::write(tree.path().join("mm/Makefile"), "config GUP_TEST\n").unwrap();
        let names = ["CONFIG_RUST", "CONFIG_DEBUG_VM", "CONFIG_GUP_TEST", "CONFIG_DEBGU_VM"];
        assert_eq!(unknown_symbols(tree.path(), &names).unwrap(), ["CONFIG_GUP_TEST", "CONFIG_DEBGU_VM"]);
    }

    #[test]
    fn malformed_lines_are_named() {
        let err = Request::merge([("kconfigs/x.config", "CONFIG_A=y\nFOO=y\nCONFIG_B\nCONFIG_C=\n")]).unwrap_err();
        insta::assert_snapshot!(format!("{err:#}"));
    }

    /// The fixture is the olddefconfig result of the `default` profile on
    /// the 7.3.4 base (trimmed), so the check runs on real `.config` text.
    #[test]
    fn dropped_options_after_olddefconfig() {
        let dot_config = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/olddefconfig.config"));
        let req = Request::merge([(
            "kconfigs/mm-tests.config",
            "CONFIG_TRANSPARENT_HUGEPAGE=y\nCONFIG_GUP_TEST=y\nCONFIG_PTDUMP_DEBUGFS=y\n\
             CONFIG_DEBUG_INFO_NONE=y\n# CONFIG_MODULES is not set\nCONFIG_NR_CPUS=64\nCONFIG_RUST=y\n",
        )])
        .unwrap();
        let dropped: Vec<String> = req.dropped(dot_config).iter().map(ToString::to_string).collect();
        insta::assert_snapshot!(dropped.join("\n"));
    }
}
