//! `push` and `pull`: files and directories between the host and a container, streamed through
//! the engine's archive endpoint (a spinner on stderr when it is a terminal).

use std::time::Duration;

use pocketdock_blocking::TransferOptions;

use crate::cli::{PullArgs, PushArgs};
use crate::commands::{Ctx, Outcome};
use crate::{output, progress, vlog};

/// `push CONTAINER SRC DST`.
pub fn push(ctx: &Ctx, a: &PushArgs) -> Outcome {
    let c = ctx.engine()?.attach(&a.container)?;
    vlog!("container {} is {}", a.container, c.id());
    let size = std::fs::metadata(&a.src)
        .ok()
        .filter(std::fs::Metadata::is_file)
        .map(|m| format!(" ({})", progress::human_bytes(m.len())))
        .unwrap_or_default();
    let pb = progress::spinner(format!(
        "pushing {}{size} to {}:{}",
        a.src.display(),
        a.container,
        a.dst
    ));
    let opts = TransferOptions::new().timeout(Duration::from_secs(a.timeout));
    let done = c.push_with(&a.src, &a.dst, &opts);
    pb.finish_and_clear();
    done?;
    output::success(&format!(
        "Copied {} -> {}:{}",
        a.src.display(),
        a.container,
        a.dst
    ));
    Ok(0)
}

/// `pull CONTAINER SRC DST`.
pub fn pull(ctx: &Ctx, a: &PullArgs) -> Outcome {
    let c = ctx.engine()?.attach(&a.container)?;
    vlog!("container {} is {}", a.container, c.id());
    let pb = progress::spinner(format!(
        "pulling {}:{} to {}",
        a.container,
        a.src,
        a.dst.display()
    ));
    let opts = TransferOptions::new()
        .timeout(Duration::from_secs(a.timeout))
        .max_bytes(a.max_bytes);
    let done = c.pull_with(&a.src, &a.dst, &opts);
    pb.finish_and_clear();
    done?;
    output::success(&format!(
        "Copied {}:{} -> {}",
        a.container,
        a.src,
        a.dst.display()
    ));
    Ok(0)
}
