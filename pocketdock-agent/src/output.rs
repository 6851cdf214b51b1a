//! The agent's stdout: frames written whole, one at a time, from any thread.

use std::fs::File;
use std::io::Write;
use std::sync::{Mutex, PoisonError};

use bytes::BytesMut;
use pocketdock_proto::agent::{encode_frame, Kind};

/// The host can no longer be written to (it closed the connection, or the agent stopped
/// writing after a protocol error): nothing more will ever be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostGone;

/// The frame writer shared by every thread. A frame is written with one `write_all` under the
/// lock, so frames of different commands never interleave on the wire.
#[derive(Debug)]
pub struct Output {
    sink: Mutex<Sink>,
}

#[derive(Debug)]
struct Sink {
    file: File,
    open: bool,
}

impl Output {
    /// Frames go to `file` (the agent's stdout).
    pub fn new(file: File) -> Self {
        Self {
            sink: Mutex::new(Sink { file, open: true }),
        }
    }

    /// Encode and send one frame.
    pub fn send(&self, kind: Kind, id: u32, payload: &[u8]) -> Result<(), HostGone> {
        let mut frame = BytesMut::new();
        encode_frame(&mut frame, kind, id, payload);
        self.send_encoded(&frame)
    }

    /// Send one frame encoded by the caller (who reuses its buffer). A failed write (the host
    /// closed the connection: `EPIPE`, since std ignores SIGPIPE) closes the output for good.
    pub fn send_encoded(&self, frame: &[u8]) -> Result<(), HostGone> {
        let mut sink = self.sink.lock().unwrap_or_else(PoisonError::into_inner);
        if !sink.open {
            return Err(HostGone);
        }
        if sink.file.write_all(frame).is_err() {
            sink.open = false;
            return Err(HostGone);
        }
        Ok(())
    }

    /// Write nothing more: after a protocol error the host must see the stream end, not more
    /// frames.
    pub fn close(&self) {
        self.sink
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .open = false;
    }
}
