//! `read_output`: pages of an output a result shortened.

use base64::Engine as _;

use super::types::{Encoding, ReadOutputArgs, ReadOutputOutput, Stream};
use super::{invalid, ToolError};
use crate::budget::{ceil_boundary, floor_boundary};
use crate::scope::Scope;

/// `read_output`.
#[expect(clippy::unused_async, reason = "every tool body has the same shape")]
pub async fn read(scope: &Scope, a: ReadOutputArgs) -> Result<ReadOutputOutput, ToolError> {
    let budget = scope.registry.opts.output_budget as u64;
    let length = a.length.unwrap_or(budget).min(budget);
    if length == 0 {
        return Err(invalid("read_output", "length must be at least 1"));
    }
    let stored = scope.outputs().get(&a.output_id).ok_or_else(|| {
        ToolError::NotFound(format!(
            "no output {:?} in this session (it may have been dropped to make room for newer \
             ones)",
            a.output_id
        ))
    })?;
    let data = match a.stream.unwrap_or(Stream::Stdout) {
        Stream::Stdout => &stored.stdout,
        Stream::Stderr => &stored.stderr,
    };
    let total = data.len() as u64;
    let offset = a.offset.unwrap_or(0);
    if offset > total {
        return Err(invalid(
            "read_output",
            format!("offset {offset} is past the end ({total} bytes)"),
        ));
    }
    let encoding = a.encoding.unwrap_or(Encoding::Text);
    let start = offset as usize;
    let (start, end) = match encoding {
        Encoding::Text => {
            let start = ceil_boundary(data, start);
            let want = (start as u64 + length).min(total) as usize;
            let mut end = floor_boundary(data, want);
            if end <= start && want > start {
                // A page shorter than one character still moves on.
                end = ceil_boundary(data, want);
            }
            (start, end)
        }
        Encoding::Base64 => {
            let len = (length / 4 * 3).max(3);
            (start, (start as u64 + len).min(total) as usize)
        }
    };
    let page = &data[start..end];
    let content = match encoding {
        Encoding::Text => String::from_utf8_lossy(page).into_owned(),
        Encoding::Base64 => base64::engine::general_purpose::STANDARD.encode(page),
    };
    Ok(ReadOutputOutput {
        content,
        encoding,
        offset: start as u64,
        next_offset: (end < data.len()).then_some(end as u64),
        total_bytes: total,
    })
}
