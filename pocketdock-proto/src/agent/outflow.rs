//! Flow control of a streamed command's output: what the host has queued for its consumer and
//! the bytes it owes the agent as credit.
//!
//! A command spawned with a window ([`SpawnRequest::window`](super::SpawnRequest::window)) may
//! have at most [`STREAM_WINDOW`] bytes of output sent and not yet credited back. The host
//! credits a byte once its consumer took it (or once the output cap dropped it), in batches of
//! at least a quarter of the window, so the queue here never holds more than the window and a
//! slow consumer slows the command, not the host's memory or the other commands.

use std::collections::VecDeque;

use bytes::Bytes;

use crate::demux::StreamKind;

/// Bytes of output a streamed command may have in flight between the agent and its consumer.
pub const STREAM_WINDOW: u32 = 2 * 1024 * 1024;

/// Credit goes back to the agent in batches of at least this many bytes (one frame per batch,
/// and never so late that the agent waits while the queue is empty).
const CREDIT_BATCH: u32 = STREAM_WINDOW / 4;

/// One streamed command's queue and the credit it owes.
#[derive(Debug, Default)]
pub(crate) struct Outflow {
    queue: VecDeque<(StreamKind, Bytes)>,
    owed: u32,
    tails_taken: bool,
}

impl Outflow {
    /// `arrived` bytes of output came in, of which `handed` is the part to hand out (the output
    /// cap may have dropped or held back the rest, which is credited at once). Returns whether
    /// the queue was empty and now is not: the only moment a consumer may be waiting for it
    /// (one that finds pieces takes them all before it waits again), so the only one worth a
    /// wake-up.
    pub(crate) fn arrived(&mut self, stream: StreamKind, handed: Bytes, arrived: usize) -> bool {
        let dropped = arrived.saturating_sub(handed.len());
        self.owe(dropped);
        if handed.is_empty() {
            return false;
        }
        let was_empty = self.queue.is_empty();
        self.queue.push_back((stream, handed));
        was_empty
    }

    /// Queue the tails the output cap held back, once, when the output has ended. Returns
    /// whether this was the first call.
    pub(crate) fn take_tails(&mut self, tails: Vec<(StreamKind, Bytes)>) -> bool {
        if self.tails_taken {
            return false;
        }
        self.tails_taken = true;
        self.queue.extend(tails);
        true
    }

    /// The next chunk for the consumer; its bytes become owed credit.
    pub(crate) fn pop(&mut self) -> Option<(StreamKind, Bytes)> {
        let chunk = self.queue.pop_front()?;
        self.owe(chunk.1.len());
        Some(chunk)
    }

    /// The credit to send now, if a batch is due.
    pub(crate) fn credit_due(&mut self) -> Option<u32> {
        (self.owed >= CREDIT_BATCH).then(|| std::mem::take(&mut self.owed))
    }

    fn owe(&mut self, bytes: usize) {
        self.owed = self
            .owed
            .saturating_add(u32::try_from(bytes).unwrap_or(u32::MAX));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credit_is_owed_for_what_the_consumer_took_and_what_the_cap_dropped() {
        let mut o = Outflow::default();
        let piece = Bytes::from(vec![0u8; 64 * 1024]);
        assert!(
            o.arrived(StreamKind::Stdout, piece.clone(), piece.len()),
            "empty to not"
        );
        for _ in 1..7 {
            assert!(!o.arrived(StreamKind::Stdout, piece.clone(), piece.len()));
        }
        assert_eq!(o.credit_due(), None, "nothing taken yet");
        for _ in 0..7 {
            assert!(o.pop().is_some());
        }
        assert_eq!(o.credit_due(), None, "448 KiB is under a batch");
        o.arrived(StreamKind::Stderr, Bytes::new(), 64 * 1024);
        assert_eq!(
            o.credit_due(),
            Some(CREDIT_BATCH),
            "the dropped bytes complete it"
        );
        assert_eq!(o.credit_due(), None);
        assert!(o.pop().is_none(), "an empty handed part is not queued");
    }

    #[test]
    fn a_queue_never_outgrows_the_window_when_the_agent_keeps_to_it() {
        // The agent sends at most the window beyond what was credited; the host credits in
        // batches, so what it holds is bounded by the window.
        let mut o = Outflow::default();
        let (mut in_flight, mut held_max) = (0u64, 0usize);
        let piece = 64 * 1024;
        for round in 0..200 {
            while in_flight + piece as u64 <= u64::from(STREAM_WINDOW) {
                let _ = o.arrived(StreamKind::Stdout, Bytes::from(vec![0u8; piece]), piece);
                in_flight += piece as u64;
            }
            held_max = held_max.max(o.queue.iter().map(|c| c.1.len()).sum());
            // A slow consumer: one chunk a round, more when the round is even.
            for _ in 0..=(round % 2) {
                o.pop();
            }
            if let Some(n) = o.credit_due() {
                in_flight -= u64::from(n);
            }
        }
        assert!(held_max <= STREAM_WINDOW as usize);
    }

    #[test]
    fn tails_are_queued_once() {
        let mut o = Outflow::default();
        assert!(o.take_tails(vec![(StreamKind::Stdout, Bytes::from_static(b"end"))]));
        assert!(!o.take_tails(vec![(StreamKind::Stdout, Bytes::from_static(b"again"))]));
        assert_eq!(o.pop().map(|c| c.1), Some(Bytes::from_static(b"end")));
        assert!(o.pop().is_none());
    }
}
