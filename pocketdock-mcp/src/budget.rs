//! The output budget: how much of a command's output goes back to the model in one tool
//! result, and the store that keeps the full output readable in pages.
//!
//! A result over the budget keeps the head and the tail of each stream (a stream that needs
//! less than half the budget leaves the rest to the other) and says how many bytes were left
//! out in between and under which id the whole output can be read (`read_output`). Cuts fall
//! on UTF-8 character boundaries.

use std::collections::VecDeque;
use std::sync::Arc;

/// One stream as the model sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shown {
    /// The text (head, a line saying what was left out, tail).
    pub text: String,
    /// Bytes left out of `text`.
    pub elided_bytes: u64,
}

/// Stdout and stderr as the model sees them, and where the full output is kept when some was
/// left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presented {
    /// Stdout.
    pub stdout: Shown,
    /// Stderr.
    pub stderr: Shown,
    /// Id for `read_output` when anything was left out.
    pub output_id: Option<String>,
}

/// The full output of one command (or one file), kept for paging.
#[derive(Debug, Default)]
pub struct Stored {
    /// Stdout bytes (a file's bytes).
    pub stdout: Vec<u8>,
    /// Stderr bytes.
    pub stderr: Vec<u8>,
}

/// Full outputs of one session, the newest kept within a byte limit (the oldest are dropped
/// first; the newest is always kept, whatever its size).
#[derive(Debug)]
pub struct OutputStore {
    entries: VecDeque<(String, Arc<Stored>)>,
    bytes: usize,
    limit: usize,
    next: u64,
}

impl OutputStore {
    /// An empty store keeping about `limit` bytes.
    pub fn new(limit: usize) -> Self {
        Self {
            entries: VecDeque::new(),
            bytes: 0,
            limit,
            next: 0,
        }
    }

    /// Keep `stored`; returns its id (`out-1`, `out-2`, ...).
    pub fn put(&mut self, stored: Stored) -> String {
        self.next += 1;
        let id = format!("out-{}", self.next);
        self.bytes += stored.stdout.len() + stored.stderr.len();
        self.entries.push_back((id.clone(), Arc::new(stored)));
        while self.bytes > self.limit && self.entries.len() > 1 {
            if let Some((_, old)) = self.entries.pop_front() {
                self.bytes -= old.stdout.len() + old.stderr.len();
            }
        }
        id
    }

    /// The output kept under `id`, if it is still kept.
    pub fn get(&self, id: &str) -> Option<Arc<Stored>> {
        self.entries
            .iter()
            .find(|(k, _)| k == id)
            .map(|(_, v)| Arc::clone(v))
    }
}

/// How `budget` bytes are split between two streams of `a` and `b` bytes.
pub fn shares(budget: usize, a: usize, b: usize) -> (usize, usize) {
    if a + b <= budget {
        return (a, b);
    }
    let half = budget / 2;
    if a <= half {
        (a, budget - a)
    } else if b <= half {
        (budget - b, b)
    } else {
        (half, budget - half)
    }
}

fn is_continuation(b: u8) -> bool {
    b & 0b1100_0000 == 0b1000_0000
}

/// The largest character boundary at or before `i`.
pub fn floor_boundary(data: &[u8], mut i: usize) -> usize {
    i = i.min(data.len());
    let mut steps = 0;
    while i > 0 && i < data.len() && is_continuation(data[i]) && steps < 3 {
        i -= 1;
        steps += 1;
    }
    i
}

/// The smallest character boundary at or after `i`.
pub fn ceil_boundary(data: &[u8], mut i: usize) -> usize {
    i = i.min(data.len());
    let mut steps = 0;
    while i < data.len() && is_continuation(data[i]) && steps < 3 {
        i += 1;
        steps += 1;
    }
    i
}

/// `data` within `share` bytes: all of it, or its head and tail around a line naming what
/// was left out (`what` says where to read it: the stream of an output id).
pub fn head_tail(data: &[u8], share: usize, what: &str) -> Shown {
    if data.len() <= share {
        return Shown {
            text: String::from_utf8_lossy(data).into_owned(),
            elided_bytes: 0,
        };
    }
    let head_end = floor_boundary(data, share / 2);
    let tail_start = ceil_boundary(data, data.len() - (share - share / 2)).max(head_end);
    let elided = tail_start - head_end;
    Shown {
        text: format!(
            "{}\n[... {elided} bytes elided; {what} ...]\n{}",
            String::from_utf8_lossy(&data[..head_end]),
            String::from_utf8_lossy(&data[tail_start..]),
        ),
        elided_bytes: elided as u64,
    }
}

/// Present `stdout` and `stderr` within `budget` bytes, keeping the whole in `store` when
/// anything is left out.
pub fn present(
    budget: usize,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    store: &mut OutputStore,
) -> Presented {
    let (s_out, s_err) = shares(budget, stdout.len(), stderr.len());
    if s_out == stdout.len() && s_err == stderr.len() {
        return Presented {
            stdout: head_tail(&stdout, s_out, ""),
            stderr: head_tail(&stderr, s_err, ""),
            output_id: None,
        };
    }
    let id = store.put(Stored {
        stdout: Vec::new(),
        stderr: Vec::new(),
    });
    let what = |stream: &str| {
        format!("the whole {stream} is readable with read_output(output_id=\"{id}\", stream=\"{stream}\")")
    };
    let shown_out = head_tail(&stdout, s_out, &what("stdout"));
    let shown_err = head_tail(&stderr, s_err, &what("stderr"));
    store.put_as(&id, Stored { stdout, stderr });
    Presented {
        stdout: shown_out,
        stderr: shown_err,
        output_id: Some(id),
    }
}

impl OutputStore {
    /// Put `stored` under an id handed out before (the id is known before the bytes move in).
    pub fn put_as(&mut self, id: &str, stored: Stored) {
        let added = stored.stdout.len() + stored.stderr.len();
        if let Some(slot) = self.entries.iter_mut().find(|(k, _)| k == id) {
            slot.1 = Arc::new(stored);
            self.bytes += added;
        }
        while self.bytes > self.limit && self.entries.len() > 1 {
            if let Some((_, old)) = self.entries.pop_front() {
                self.bytes -= old.stdout.len() + old.stderr.len();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_output_is_whole_and_not_stored() {
        let mut store = OutputStore::new(1000);
        let p = present(100, b"hello\n".to_vec(), b"warn\n".to_vec(), &mut store);
        assert_eq!(p.stdout.text, "hello\n");
        assert_eq!(p.stderr.text, "warn\n");
        assert_eq!(p.output_id, None);
        assert!(store.get("out-1").is_none());
    }

    #[test]
    fn big_output_keeps_head_and_tail_and_the_whole() {
        let mut store = OutputStore::new(1 << 20);
        let out: Vec<u8> = (0..10_000u32)
            .map(|i| b"abcdefghijklmnopqrstuvwxyz"[(i % 26) as usize])
            .collect();
        let p = present(1000, out.clone(), Vec::new(), &mut store);
        assert_eq!(p.stdout.elided_bytes, 9000);
        assert!(p
            .stdout
            .text
            .starts_with(&String::from_utf8_lossy(&out[..500]).into_owned()));
        assert!(p
            .stdout
            .text
            .ends_with(&String::from_utf8_lossy(&out[9500..]).into_owned()));
        assert!(p.stdout.text.contains("9000 bytes elided"));
        let id = p.output_id.unwrap_or_default();
        assert_eq!(store.get(&id).map(|s| s.stdout.clone()), Some(out));
    }

    #[test]
    fn a_small_stream_leaves_its_share_to_the_other() {
        assert_eq!(shares(100, 10, 500), (10, 90));
        assert_eq!(shares(100, 500, 10), (90, 10));
        assert_eq!(shares(100, 500, 500), (50, 50));
        assert_eq!(shares(100, 30, 40), (30, 40));
    }

    #[test]
    fn cuts_fall_on_character_boundaries() {
        let data = "é".repeat(100).into_bytes();
        let shown = head_tail(&data, 11, "x");
        assert!(!shown.text.contains('\u{FFFD}'));
        assert_eq!(floor_boundary(&data, 5), 4);
        assert_eq!(ceil_boundary(&data, 5), 6);
    }

    #[test]
    fn the_oldest_outputs_go_first() {
        let mut store = OutputStore::new(10);
        let a = store.put(Stored {
            stdout: vec![0; 8],
            stderr: Vec::new(),
        });
        let b = store.put(Stored {
            stdout: vec![0; 8],
            stderr: Vec::new(),
        });
        assert!(store.get(&a).is_none());
        assert!(store.get(&b).is_some());
    }
}
