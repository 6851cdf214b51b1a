//! File tools: write, read, list.

use base64::Engine as _;
use pocketdock_tokio::TransferOptions;

use super::types::{
    Encoding, ListFilesArgs, ListFilesOutput, ReadArgs, ReadOutput, WriteArgs, WriteOutput,
};
use super::{invalid, ToolError};
use crate::budget::{head_tail, Stored};
use crate::scope::Scope;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Where `list_files` looks when the call names no directory.
const HOME: &str = "/home/sandbox";

/// `write_file`.
pub async fn write(scope: &Scope, a: WriteArgs) -> Result<WriteOutput, ToolError> {
    let bytes = match a.encoding.unwrap_or(Encoding::Text) {
        Encoding::Text => a.content.into_bytes(),
        Encoding::Base64 => B64
            .decode(a.content.trim())
            .map_err(|e| invalid("write_file", format!("content is not base64: {e}")))?,
    };
    let sb = scope.sandbox(&a.sandbox)?;
    sb.container.write_file(&a.path, &bytes).await?;
    Ok(WriteOutput {
        path: a.path,
        bytes: bytes.len(),
    })
}

/// `read_file`.
pub async fn read(scope: &Scope, a: ReadArgs) -> Result<ReadOutput, ToolError> {
    let sb = scope.sandbox(&a.sandbox)?;
    let opts = TransferOptions {
        max_bytes: Some(scope.registry.opts.max_output as u64),
        ..TransferOptions::default()
    };
    let data = sb.container.read_file_with(&a.path, &opts).await?;
    let budget = scope.registry.opts.output_budget;
    let size = data.len();
    let encoding = a.encoding.unwrap_or(if std::str::from_utf8(&data).is_ok() {
        Encoding::Text
    } else {
        Encoding::Base64
    });
    let fits = match encoding {
        Encoding::Text => size <= budget,
        Encoding::Base64 => size.div_ceil(3) * 4 <= budget,
    };
    if fits {
        let content = match encoding {
            Encoding::Text => String::from_utf8_lossy(&data).into_owned(),
            Encoding::Base64 => B64.encode(&data),
        };
        return Ok(ReadOutput {
            path: a.path,
            size,
            encoding,
            content,
            elided_bytes: 0,
            output_id: None,
        });
    }
    let mut store = scope.outputs();
    let id = store.put(Stored {
        stdout: Vec::new(),
        stderr: Vec::new(),
    });
    let (content, elided) = match encoding {
        Encoding::Text => {
            let shown = head_tail(
                &data,
                budget,
                &format!("the whole file is readable with read_output(output_id=\"{id}\")"),
            );
            (shown.text, shown.elided_bytes)
        }
        // Base64 cannot be cut in the middle: only the first page is sent.
        Encoding::Base64 => {
            let page = (budget / 4 * 3).min(size);
            (B64.encode(&data[..page]), (size - page) as u64)
        }
    };
    store.put_as(
        &id,
        Stored {
            stdout: data,
            stderr: Vec::new(),
        },
    );
    Ok(ReadOutput {
        path: a.path,
        size,
        encoding,
        content,
        elided_bytes: elided,
        output_id: Some(id),
    })
}

/// `list_files`.
pub async fn list(scope: &Scope, a: ListFilesArgs) -> Result<ListFilesOutput, ToolError> {
    let path = a.path.unwrap_or_else(|| HOME.to_string());
    let sb = scope.sandbox(&a.sandbox)?;
    let mut entries = sb.container.list_files(&path).await?;
    let budget = scope.registry.opts.output_budget;
    let mut used = 0;
    let keep = entries
        .iter()
        .take_while(|e| {
            used += e.len() + 4;
            used <= budget
        })
        .count();
    let omitted = entries.len() - keep;
    entries.truncate(keep);
    Ok(ListFilesOutput {
        path,
        entries,
        omitted,
    })
}
