//! `push` and `pull`: files and directories between the host and a container, streamed through
//! the engine's archive endpoint (bytes moved shown on stderr when it is a terminal).

use std::time::Duration;

use pocketdock_blocking::TransferOptions;

use crate::cli::{PullArgs, PushArgs};
use crate::commands::{Ctx, Outcome};
use crate::{output, progress, vlog};

/// `push CONTAINER SRC DST`.
pub fn push(ctx: &Ctx, a: &PushArgs) -> Outcome {
    let c = ctx.engine()?.attach(&a.container)?;
    vlog!("container {} is {}", a.container, c.id());
    // A single file's size is known (the archive adds only its headers): a bar; else a counter.
    let size = std::fs::metadata(&a.src)
        .ok()
        .filter(std::fs::Metadata::is_file)
        .map(|m| m.len());
    let pb = progress::bytes(
        format!("pushing {} to {}:{}", a.src.display(), a.container, a.dst),
        size,
    );
    let bar = pb.clone();
    let opts = TransferOptions::new()
        .timeout(Duration::from_secs(a.timeout))
        .on_progress(move |n| bar.set_position(size.map_or(n, |s| n.min(s))));
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
    let pb = progress::bytes(
        format!("pulling {}:{} to {}", a.container, a.src, a.dst.display()),
        None,
    );
    let bar = pb.clone();
    let opts = TransferOptions::new()
        .timeout(Duration::from_secs(a.timeout))
        .max_bytes(a.max_bytes)
        .on_progress(move |n| bar.set_position(n));
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
