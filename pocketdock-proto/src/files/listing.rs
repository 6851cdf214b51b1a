//! `list_files`: the fixed `find` script, its argv and the parser of its NUL-separated output.

use crate::error::{Error, Result};
use crate::result::ExecResult;

use super::options::LIST_MAX_OUTPUT;
use super::prepare::{helper_failed, helper_timed_out, ARG0};

/// The helper script of `list_files` (see [`list_command`]).
pub const LIST_SCRIPT: &str = r#"if [ -d "$1" ]; then exec find "$1/" -mindepth 1 -maxdepth 1 -print0; fi
if [ -e "$1" ] || [ -L "$1" ]; then exit 3; fi
exit 4
"#;

/// The argv listing the directory `path`: NUL-separated paths of its entries (hidden ones
/// included), exit 3 when `path` is not a directory, exit 4 when it does not exist.
pub fn list_command(path: &str) -> Vec<String> {
    vec![
        "sh".into(),
        "-c".into(),
        LIST_SCRIPT.into(),
        ARG0.into(),
        path.into(),
    ]
}

/// Interpret the result of [`list_command`]: entry names (no `.`/`..`, no directories' trailing
/// `/`), sorted bytewise; names that are not UTF-8 are converted lossily. A missing path is
/// [`Error::PathNotFound`]; a path that is not a directory is [`Error::InvalidInput`].
pub fn parse_list(path: &str, r: &ExecResult) -> Result<Vec<String>> {
    if let Some(e) = helper_timed_out(r) {
        return Err(e);
    }
    match r.exit_code {
        0 if r.truncated => Err(Error::invalid(
            "path",
            format!("the listing of {path:?} exceeds {LIST_MAX_OUTPUT} bytes"),
        )),
        0 => {
            let mut names: Vec<String> = r
                .stdout
                .split(|&b| b == 0)
                .filter_map(|p| {
                    let name = p.rsplit(|&b| b == b'/').next().unwrap_or(p);
                    (!name.is_empty() && name != b"." && name != b"..")
                        .then(|| String::from_utf8_lossy(name).into_owned())
                })
                .collect();
            names.sort();
            names.dedup();
            Ok(names)
        }
        3 => Err(Error::invalid(
            "path",
            format!("{path:?} is not a directory"),
        )),
        4 => Err(Error::PathNotFound(path.to_string())),
        _ => Err(helper_failed("listing", path, r)),
    }
}
