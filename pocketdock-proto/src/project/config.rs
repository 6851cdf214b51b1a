//! `pocketdock.yaml`: the settings, their defaults, and how files are layered.
//!
//! Two files may exist: the install-level `~/.pocketdock/pocketdock.yaml` and the project's
//! `<root>/.pocketdock/pocketdock.yaml`. Each parses to a [`ConfigLayer`] (only the keys it sets);
//! [`PocketDockConfig::load`] applies them key by key over the defaults, so the precedence is
//! defaults < install file < project file.
//!
//! Parsing rules:
//!
//! * The keys of a `logging:` mapping are flattened to the top level (in file order, the later
//!   occurrence wins, as in the Python pocketdock). Unknown keys are ignored.
//! * A key whose value is `null` counts as not set.
//! * Unlike the Python pocketdock, which silently ignored a broken file, invalid YAML, a document
//!   that is not a mapping, or a known key with a value of the wrong type is an [`Error::Config`]
//!   naming the file and the key, so users see why their settings are not applied. An empty file is
//!   an empty layer.
//! * `max_log_size` is a size string (see [`parse_size`]) or a plain integer (bytes); it is
//!   validated when parsed.

use serde::Serialize;
use serde_yaml::Value;

use crate::error::{Error, Result};

/// The name used in errors for a project file when no path was given.
const DEFAULT_ORIGIN: &str = "pocketdock.yaml";

/// Effective settings of a project (defaults as in the Python pocketdock).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PocketDockConfig {
    /// Project name (`""` by default: the directory name is used, see [`project_name_or`]).
    pub project_name: String,
    /// Image profile used by `create` when none is given.
    pub default_profile: String,
    /// Whether `create` makes persistent containers by default.
    pub default_persist: bool,
    /// Whether persistent containers of the project write logs.
    pub auto_log: bool,
    /// Size at which `history.jsonl` is rotated, as written (e.g. `"10MB"`).
    pub max_log_size: String,
    /// Most log files kept per instance (0 = unlimited).
    pub max_logs_per_instance: u32,
    /// Log files older than this many days are deleted (0 = kept forever).
    pub retention_days: u32,
    /// Engine socket path to use instead of auto-detection.
    pub socket: Option<String>,
    /// Log level of pocketdock's own diagnostics.
    pub log_level: String,
}

impl Default for PocketDockConfig {
    fn default() -> Self {
        Self {
            project_name: String::new(),
            default_profile: "minimal-python".to_string(),
            default_persist: false,
            auto_log: true,
            max_log_size: "10MB".to_string(),
            max_logs_per_instance: 100,
            retention_days: 30,
            socket: None,
            log_level: "info".to_string(),
        }
    }
}

/// The keys one file sets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigLayer {
    /// `project_name`.
    pub project_name: Option<String>,
    /// `default_profile`.
    pub default_profile: Option<String>,
    /// `default_persist`.
    pub default_persist: Option<bool>,
    /// `auto_log` (usually under `logging:`).
    pub auto_log: Option<bool>,
    /// `max_log_size` (usually under `logging:`).
    pub max_log_size: Option<String>,
    /// `max_logs_per_instance` (usually under `logging:`).
    pub max_logs_per_instance: Option<u32>,
    /// `retention_days` (usually under `logging:`).
    pub retention_days: Option<u32>,
    /// `socket`.
    pub socket: Option<String>,
    /// `log_level`.
    pub log_level: Option<String>,
}

impl ConfigLayer {
    /// Parse one file's text; `origin` (its path) is used in error messages.
    pub fn parse(yaml: &str, origin: &str) -> Result<Self> {
        let err = |detail: String| Error::Config {
            path: origin.to_string(),
            detail,
        };
        let doc: Value =
            serde_yaml::from_str(yaml).map_err(|e| err(format!("invalid YAML: {e}")))?;
        let map = match doc {
            Value::Null => return Ok(Self::default()),
            Value::Mapping(m) => m,
            _ => return Err(err("the document is not a mapping of keys to values".into())),
        };
        let mut layer = Self::default();
        for (key, value) in &map {
            let Some(key) = key.as_str() else {
                continue;
            };
            if key == "logging" {
                match value {
                    Value::Mapping(inner) => {
                        for (k, v) in inner {
                            if let Some(k) = k.as_str() {
                                layer
                                    .set(k, v)
                                    .map_err(|d| err(format!("logging.{k}: {d}")))?;
                            }
                        }
                    }
                    Value::Null => {}
                    _ => return Err(err("logging: must be a mapping".into())),
                }
            } else {
                layer
                    .set(key, value)
                    .map_err(|d| err(format!("{key}: {d}")))?;
            }
        }
        Ok(layer)
    }

    fn set(&mut self, key: &str, value: &Value) -> std::result::Result<(), String> {
        if value.is_null() {
            return Ok(());
        }
        match key {
            "project_name" => self.project_name = Some(string(value)?),
            "default_profile" => self.default_profile = Some(string(value)?),
            "default_persist" => self.default_persist = Some(boolean(value)?),
            "auto_log" => self.auto_log = Some(boolean(value)?),
            "max_log_size" => {
                let s = match value {
                    Value::Number(n) if n.is_u64() => n.to_string(),
                    Value::String(s) => s.clone(),
                    _ => return Err("must be a size such as \"10MB\"".into()),
                };
                parse_size(&s).map_err(|e| e.to_string())?;
                self.max_log_size = Some(s);
            }
            "max_logs_per_instance" => self.max_logs_per_instance = Some(count(value)?),
            "retention_days" => self.retention_days = Some(count(value)?),
            "socket" => self.socket = Some(string(value)?),
            "log_level" => self.log_level = Some(string(value)?),
            _ => {}
        }
        Ok(())
    }
}

fn string(v: &Value) -> std::result::Result<String, String> {
    v.as_str()
        .map(str::to_string)
        .ok_or_else(|| "must be a string (quote it)".to_string())
}

fn boolean(v: &Value) -> std::result::Result<bool, String> {
    v.as_bool()
        .ok_or_else(|| "must be true or false".to_string())
}

fn count(v: &Value) -> std::result::Result<u32, String> {
    v.as_u64()
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| "must be a non-negative integer".to_string())
}

impl PocketDockConfig {
    /// Defaults overridden by one file (named `pocketdock.yaml` in errors).
    pub fn parse(yaml: &str) -> Result<Self> {
        let mut config = Self::default();
        config.apply(&ConfigLayer::parse(yaml, DEFAULT_ORIGIN)?);
        Ok(config)
    }

    /// Defaults < install file < project file, key by key.
    pub fn load(install: Option<&ConfigLayer>, project: Option<&ConfigLayer>) -> Self {
        let mut config = Self::default();
        for layer in [install, project].into_iter().flatten() {
            config.apply(layer);
        }
        config
    }

    /// Override every key that `layer` sets.
    pub fn apply(&mut self, layer: &ConfigLayer) {
        fn set<T: Clone>(dst: &mut T, src: Option<&T>) {
            if let Some(v) = src {
                dst.clone_from(v);
            }
        }
        set(&mut self.project_name, layer.project_name.as_ref());
        set(&mut self.default_profile, layer.default_profile.as_ref());
        set(&mut self.default_persist, layer.default_persist.as_ref());
        set(&mut self.auto_log, layer.auto_log.as_ref());
        set(&mut self.max_log_size, layer.max_log_size.as_ref());
        set(
            &mut self.max_logs_per_instance,
            layer.max_logs_per_instance.as_ref(),
        );
        set(&mut self.retention_days, layer.retention_days.as_ref());
        if let Some(s) = &layer.socket {
            self.socket = Some(s.clone());
        }
        set(&mut self.log_level, layer.log_level.as_ref());
    }

    /// `max_log_size` in bytes (10 MiB if the value is somehow invalid; parsing validates it).
    pub fn max_log_size_bytes(&self) -> u64 {
        parse_size(&self.max_log_size).unwrap_or(10 * 1024 * 1024)
    }
}

/// The project name the Python pocketdock derives: the file's `project_name` when it is a non-empty
/// string, else `dir_name` (also when the file is missing, empty or invalid).
pub fn project_name_or(yaml: Option<&str>, dir_name: &str) -> String {
    yaml.and_then(|y| serde_yaml::from_str::<Value>(y).ok())
        .and_then(|doc| {
            doc.get("project_name")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| dir_name.to_string())
}

/// The file `pocketdock init` writes (the exact text of the Python pocketdock). A name that would
/// not read back as the same string in plain YAML (spaces, `:`, `#`, quotes, `true`, `42`, ...) is
/// written double-quoted.
pub fn template(project_name: &str) -> String {
    format!(
        "# Project configuration for pocketdock\n\
         project_name: {}\n\
         default_profile: minimal-python\n\
         default_persist: false\n\
         \n\
         logging:\n  \
         auto_log: true\n  \
         max_log_size: \"10MB\"\n  \
         max_logs_per_instance: 100\n  \
         retention_days: 30\n",
        yaml_scalar(project_name)
    )
}

/// `s` as a YAML scalar that reads back as the string `s`.
fn yaml_scalar(s: &str) -> String {
    let plain_chars = s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if plain_chars {
        let reads_back = serde_yaml::from_str::<Value>(&format!("k: {s}"))
            .ok()
            .and_then(|doc| doc.get("k").and_then(Value::as_str).map(|v| v == s));
        if reads_back == Some(true) {
            return s.to_string();
        }
    }
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_string())
}

/// Parse a size such as `"10MB"`, `"512k"`, `"1.5 GiB"` or `"1048576"` into bytes.
///
/// Units are binary and case-insensitive, as in Docker's `--memory`: `b`, `k`/`kb`/`kib`
/// (1024), `m`/`mb`/`mib`, `g`/`gb`/`gib`, `t`/`tb`/`tib`. A fraction is allowed
/// (rounded down to whole bytes). Whitespace between number and unit is allowed.
pub fn parse_size(s: &str) -> Result<u64> {
    let bad = |why: &str| Error::invalid("size", format!("{s:?}: {why}"));
    let t = s.trim();
    let num_len = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(num_len);
    let unit = unit.trim().to_ascii_lowercase();
    let mult: u64 = match unit.as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        _ => return Err(bad("unknown unit (use b, k, m, g or t)")),
    };
    let (int_part, frac_part) = match num.split_once('.') {
        Some((i, f)) => (i, f),
        None => (num, ""),
    };
    if int_part.is_empty() && frac_part.is_empty() {
        return Err(bad("no number"));
    }
    if frac_part.contains('.') || frac_part.len() > 18 {
        return Err(bad("not a number"));
    }
    let int: u64 = if int_part.is_empty() {
        0
    } else {
        int_part.parse().map_err(|_| bad("not a number"))?
    };
    let whole = int.checked_mul(mult).ok_or_else(|| bad("too large"))?;
    let frac = if frac_part.is_empty() {
        0
    } else {
        let f: u128 = frac_part.parse().map_err(|_| bad("not a number"))?;
        let scale = 10u128.pow(frac_part.len() as u32);
        u64::try_from(f * u128::from(mult) / scale).map_err(|_| bad("too large"))?
    };
    whole.checked_add(frac).ok_or_else(|| bad("too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(yaml: &str) -> ConfigLayer {
        ConfigLayer::parse(yaml, "test.yaml").unwrap()
    }

    #[test]
    fn defaults_match_the_reference() {
        let c = PocketDockConfig::default();
        assert_eq!(c.project_name, "");
        assert_eq!(c.default_profile, "minimal-python");
        assert!(!c.default_persist);
        assert!(c.auto_log);
        assert_eq!(c.max_log_size, "10MB");
        assert_eq!(c.max_logs_per_instance, 100);
        assert_eq!(c.retention_days, 30);
        assert_eq!(c.socket, None);
        assert_eq!(c.log_level, "info");
        assert_eq!(PocketDockConfig::load(None, None), c);
        assert_eq!(c.max_log_size_bytes(), 10 * 1024 * 1024);
    }

    #[test]
    fn project_file_overrides_and_logging_is_flattened() {
        let c = PocketDockConfig::parse(
            "project_name: my-app\ndefault_profile: dev\ndefault_persist: true\n\
             unknown_key: 1\nlogging:\n  auto_log: false\n  max_log_size: \"50MB\"\n  \
             retention_days: 7\n",
        )
        .unwrap();
        assert_eq!(c.project_name, "my-app");
        assert_eq!(c.default_profile, "dev");
        assert!(c.default_persist);
        assert!(!c.auto_log);
        assert_eq!(c.max_log_size, "50MB");
        assert_eq!(c.retention_days, 7);
        assert_eq!(c.max_logs_per_instance, 100);
        assert_eq!(c.log_level, "info");
    }

    #[test]
    fn precedence_is_defaults_install_project() {
        let install = layer("socket: /custom/sock\nlog_level: debug\ndefault_profile: dev\n");
        let project = layer("default_profile: agent\nsocket: null\n");
        let c = PocketDockConfig::load(Some(&install), Some(&project));
        assert_eq!(c.default_profile, "agent");
        assert_eq!(c.log_level, "debug");
        assert_eq!(c.socket.as_deref(), Some("/custom/sock"));
        let c = PocketDockConfig::load(Some(&install), None);
        assert_eq!(c.default_profile, "dev");
    }

    #[test]
    fn empty_file_is_an_empty_layer() {
        assert_eq!(layer(""), ConfigLayer::default());
        assert_eq!(layer("# only a comment\n"), ConfigLayer::default());
        assert_eq!(layer("logging:\n"), ConfigLayer::default());
    }

    #[test]
    fn broken_files_are_typed_errors() {
        for (yaml, needle) in [
            (": invalid: yaml: {[", "invalid YAML"),
            ("- a\n- b\n", "not a mapping"),
            ("just a string", "not a mapping"),
            ("default_persist: maybe", "default_persist"),
            ("retention_days: -1", "retention_days"),
            (
                "logging:\n  max_logs_per_instance: lots\n",
                "logging.max_logs_per_instance",
            ),
            ("logging: [1]", "logging"),
            ("max_log_size: 10XB", "max_log_size"),
            ("project_name: 42", "project_name"),
        ] {
            match ConfigLayer::parse(yaml, "/p/.pocketdock/pocketdock.yaml") {
                Err(Error::Config { path, detail }) => {
                    assert_eq!(path, "/p/.pocketdock/pocketdock.yaml");
                    assert!(detail.contains(needle), "{yaml:?}: {detail}");
                }
                other => panic!("{yaml:?}: {other:?}"),
            }
        }
        assert!(matches!(
            PocketDockConfig::parse("[1"),
            Err(Error::Config { .. })
        ));
    }

    #[test]
    fn integer_max_log_size_is_bytes() {
        let c = PocketDockConfig::parse("max_log_size: 2048").unwrap_or_default();
        assert_eq!(c.max_log_size_bytes(), 2048);
    }

    #[test]
    fn template_is_exact_and_reads_back() {
        assert_eq!(
            template("my-widget"),
            "# Project configuration for pocketdock\nproject_name: my-widget\n\
             default_profile: minimal-python\ndefault_persist: false\n\nlogging:\n  \
             auto_log: true\n  max_log_size: \"10MB\"\n  max_logs_per_instance: 100\n  \
             retention_days: 30\n"
        );
        for name in [
            "my-widget",
            "a: b # c",
            "true",
            "42",
            "it's \"q\"",
            "",
            "ünïcode",
            "x\ny",
        ] {
            let c = PocketDockConfig::parse(&template(name)).unwrap();
            assert_eq!(c.project_name, name);
            assert_eq!(c.default_profile, "minimal-python");
            assert!(!c.default_persist);
            assert!(c.auto_log);
        }
    }

    #[test]
    fn project_name_fallbacks() {
        assert_eq!(
            project_name_or(Some("project_name: cool-project"), "dir"),
            "cool-project"
        );
        for yaml in [
            None,
            Some(""),
            Some(": invalid: yaml: {["),
            Some("project_name: ''"),
            Some("project_name: 42"),
        ] {
            assert_eq!(project_name_or(yaml, "dir"), "dir", "{yaml:?}");
        }
    }

    #[test]
    fn sizes() {
        let ok = [
            ("10MB", 10 << 20),
            ("10mb", 10 << 20),
            ("10 MiB", 10 << 20),
            ("512k", 512 << 10),
            ("1.5GB", 3 << 29),
            ("0.5k", 512),
            ("1024", 1024),
            ("7b", 7),
            (" 2 t ", 2 << 40),
            (".5m", 1 << 19),
        ];
        for (s, want) in ok {
            assert_eq!(parse_size(s).ok(), Some(want), "{s}");
        }
        for s in [
            "",
            "MB",
            "-1MB",
            "1.2.3",
            "10XB",
            "99999999999999999999",
            "20000000t",
            "1e3",
        ] {
            assert!(parse_size(s).is_err(), "{s}");
        }
    }
}
