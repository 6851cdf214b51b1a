//! A command's stdout or stderr, read in pieces of at most [`MAX_DATA`] and sent as frames as
//! they come, one thread per pipe.

use std::io::{ErrorKind, Read};
use std::sync::Arc;

use pocketdock_proto::agent::{encode_header, Kind, HEADER, MAX_DATA};

use crate::agent::{Agent, Ending};
use crate::commands::Running;

/// Pump `pipe` as `kind` frames of `running` until its end, then count the pipe closed (and
/// send the `Exit` frame when that was the last thing the command waited for). Without a thread
/// (the system refused one) the pipe is closed at once: the command sees a broken pipe.
pub fn start(
    agent: &Arc<Agent>,
    running: &Arc<Running>,
    kind: Kind,
    pipe: impl Read + Send + 'static,
) {
    let (pump_agent, pump_running) = (Arc::clone(agent), Arc::clone(running));
    let started = std::thread::Builder::new()
        .name(format!("{kind:?}-{}", running.id()).to_lowercase())
        .stack_size(crate::THREAD_STACK)
        .spawn(move || {
            pump(&pump_agent, &pump_running, kind, pipe);
            closed(&pump_agent, &pump_running);
        });
    if started.is_err() {
        closed(agent, running);
    }
}

fn pump(agent: &Agent, running: &Running, kind: Kind, mut pipe: impl Read) {
    // The output is read right behind room for a frame header, so no byte of it is copied on
    // its way out.
    let mut buf = vec![0u8; HEADER + MAX_DATA];
    loop {
        let n = match pipe.read(&mut buf[HEADER..]) {
            Ok(0) => return,
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            // A read error on a pipe is its end for us.
            Err(_) => return,
        };
        // A streamed command's output goes out only as far as the host credits it; meanwhile
        // its pipe fills and the command waits, as on a terminal nobody reads.
        let mut sent = 0;
        while sent < n {
            let may = running.window().map_or(n - sent, |w| w.take(n - sent));
            // The header of what is left goes into the bytes just before it: the previous
            // header and output already sent.
            let frame = &mut buf[sent..HEADER + sent + may];
            if let Some((header, _)) = frame.split_first_chunk_mut::<HEADER>() {
                encode_header(header, kind, running.id(), may);
            }
            if agent.output.send_encoded(frame).is_err() {
                agent.stop(Ending::HostGone);
                return;
            }
            sent += may;
        }
    }
}

fn closed(agent: &Agent, running: &Arc<Running>) {
    if let Some(report) = agent.commands.pipe_closed(running) {
        agent.send_exit(running.id(), &report);
    }
}
