//! The frame reader: the host's frames, decoded from stdin with the bounded decoder and acted
//! on in order. It never blocks on a command (stdin goes through each command's own feed).

use std::io::{ErrorKind, Read};
use std::sync::Arc;

use pocketdock_proto::agent::{Frame, FrameDecoder, Kind, SpawnRequest, StatReply};

use crate::agent::{Agent, Ending};

/// Bytes read from stdin at once; the decoder holds at most one partial frame besides.
const READ_CHUNK: usize = 64 * 1024;

/// Serve the host's frames from `input` until it ends or breaks the protocol. On a protocol
/// error the output is closed before returning: the host sees no frame after the bad one.
pub fn serve(agent: &Arc<Agent>, mut input: impl Read) -> Ending {
    let ending = read_frames(agent, &mut input);
    if matches!(ending, Ending::Malformed(_)) {
        agent.output.close();
    }
    ending
}

fn read_frames(agent: &Arc<Agent>, input: &mut impl Read) -> Ending {
    let mut decoder = FrameDecoder::new();
    let mut buf = vec![0u8; READ_CHUNK];
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => {
                return match decoder.finish() {
                    Ok(()) => Ending::HostGone,
                    Err(e) => Ending::Malformed(e.to_string()),
                }
            }
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => return Ending::HostGone,
        };
        decoder.feed(&buf[..n]);
        loop {
            match decoder.next_frame() {
                Ok(Some(frame)) => {
                    if let Err(ending) = act(agent, frame) {
                        return ending;
                    }
                }
                Ok(None) => break,
                Err(e) => return Ending::Malformed(e.to_string()),
            }
        }
    }
}

/// Act on one frame. Frames about an id that is not running are ignored: the command may have
/// ended while the host wrote them.
fn act(agent: &Arc<Agent>, frame: Frame) -> Result<(), Ending> {
    let id = frame.id;
    match frame.kind {
        Kind::Spawn => {
            let req: SpawnRequest = serde_json::from_slice(&frame.payload)
                .map_err(|e| Ending::Malformed(format!("spawn request {id}: {e}")))?;
            agent.spawn(id, &req)?;
        }
        Kind::Stdin => {
            if let Some(feed) = agent.commands.stdin(id) {
                feed.push(frame.payload);
            }
        }
        Kind::StdinClose => {
            if let Some(feed) = agent.commands.stdin(id) {
                feed.close();
            }
        }
        Kind::Signal => {
            let signal = frame
                .payload_u32()
                .map_err(|e| Ending::Malformed(e.to_string()))?;
            // A number no signal has is refused by kill itself; one past i32 is not sent.
            if let Ok(signal) = i32::try_from(signal) {
                agent.commands.signal(id, signal);
            }
        }
        Kind::Credit => {
            let bytes = frame
                .payload_u32()
                .map_err(|e| Ending::Malformed(e.to_string()))?;
            agent.commands.credit(id, bytes);
        }
        Kind::Ping => agent.output.send(Kind::Pong, id, &[])?,
        Kind::Stat => {
            let path = String::from_utf8_lossy(&frame.payload).into_owned();
            let reply = serde_json::to_vec(&stat(&path))
                .map_err(|e| Ending::Malformed(format!("stat reply {id}: {e}")))?;
            agent.output.send(Kind::StatReply, id, &reply)?;
        }
        Kind::Hello
        | Kind::Started
        | Kind::Stdout
        | Kind::Stderr
        | Kind::Exit
        | Kind::SpawnFailed
        | Kind::Pong
        | Kind::StatReply => {
            return Err(Ending::Malformed(format!(
                "the host sent a {:?} frame, which only the agent sends",
                frame.kind
            )))
        }
    }
    Ok(())
}

/// `lstat` of `path` as the agent's user: a missing path (or one through a file) is
/// `missing`, any other failure is said in `failed` (the host then asks the engine). It runs
/// on the frame reader: one system call on a path of the sandbox's own file system.
fn stat(path: &str) -> StatReply {
    use std::os::unix::fs::MetadataExt;
    let failed = |e: std::io::Error| StatReply {
        failed: Some(e.to_string()),
        ..StatReply::default()
    };
    match std::fs::symlink_metadata(path) {
        Ok(meta) => {
            let link_target = if meta.file_type().is_symlink() {
                match std::fs::read_link(path) {
                    Ok(t) => t.to_string_lossy().into_owned(),
                    Err(e) => return failed(e),
                }
            } else {
                String::new()
            };
            StatReply {
                mode: meta.mode(),
                size: meta.size(),
                link_target,
                ..StatReply::default()
            }
        }
        Err(e) if e.kind() == ErrorKind::NotFound || e.kind() == ErrorKind::NotADirectory => {
            StatReply {
                missing: true,
                ..StatReply::default()
            }
        }
        Err(e) => failed(e),
    }
}
