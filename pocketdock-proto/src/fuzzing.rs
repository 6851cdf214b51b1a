//! Fuzz harness bodies, shared by the cargo-fuzz targets in `fuzz/` and by `cargo test`, which
//! replays the committed seed corpus on stable. Every function must accept any input without
//! panicking, and checks the invariants of its codec.
#![doc(hidden)]

use bytes::{Bytes, BytesMut};

use crate::demux::{DemuxMode, Demuxer};
use crate::http::{ChunkedDecoder, Expect, ResponseDecoder, ResponseEvent};

/// Split points derived from the first input byte, so one input explores many splits.
fn pieces(data: &[u8]) -> (u8, Vec<&[u8]>) {
    let Some((&ctl, rest)) = data.split_first() else {
        return (0, Vec::new());
    };
    let step = usize::from(ctl % 17) + 1;
    (ctl, rest.chunks(step).collect())
}

/// Demultiplex `data` in pieces; payload out never exceeds bytes in.
pub fn fuzz_demux(data: &[u8]) {
    let (ctl, pieces) = pieces(data);
    let mode = if ctl & 0x80 == 0 {
        DemuxMode::Multiplexed
    } else {
        DemuxMode::Raw
    };
    let mut d = Demuxer::new(mode);
    let mut fed = 0usize;
    let mut out = 0usize;
    for p in pieces {
        fed += p.len();
        let mut b = Bytes::copy_from_slice(p);
        loop {
            match d.next_chunk(&mut b) {
                Ok(Some((_, chunk))) => out += chunk.len(),
                Ok(None) => break,
                Err(_) => return,
            }
        }
        assert!(out <= fed, "demux produced more than it was fed");
    }
    let _ = d.finish();
}

/// Decode an HTTP response in pieces; body bytes out never exceed bytes in.
pub fn fuzz_http_response(data: &[u8]) {
    let (ctl, pieces) = pieces(data);
    let expect = match ctl % 3 {
        0 => Expect::Normal,
        1 => Expect::Hijack,
        _ => Expect::HeadOnly,
    };
    let mut dec = ResponseDecoder::new(expect);
    let mut fed = 0usize;
    let mut out = 0usize;
    let mut fed_pieces = 0usize;
    let mut feed_and_drain = |dec: &mut ResponseDecoder, piece: Option<&[u8]>| -> bool {
        match piece {
            Some(p) => {
                // Both ways in, alternately: copied from a slice, and taken over whole.
                fed_pieces += 1;
                if fed_pieces % 2 == 1 {
                    dec.feed(p);
                } else {
                    dec.feed_bytes(Bytes::copy_from_slice(p));
                }
                fed += p.len();
            }
            None => dec.feed_eof(),
        }
        loop {
            match dec.next_event() {
                Ok(Some(ResponseEvent::Data(d))) => out += d.len(),
                Ok(Some(ResponseEvent::End)) | Err(_) => return false,
                Ok(Some(ResponseEvent::Head(_))) => {}
                Ok(None) => break,
            }
        }
        assert!(out <= fed, "decoder produced more than it was fed");
        true
    };
    for p in pieces {
        if !feed_and_drain(&mut dec, Some(p)) {
            return;
        }
    }
    let _ = feed_and_drain(&mut dec, None);
}

/// Decode a chunked body in pieces.
pub fn fuzz_chunked(data: &[u8]) {
    let (_, pieces) = pieces(data);
    let mut dec = ChunkedDecoder::new(4096);
    let mut buf = BytesMut::new();
    let mut fed = 0usize;
    let mut out = 0usize;
    for p in pieces {
        fed += p.len();
        buf.extend_from_slice(p);
        loop {
            match dec.decode(&mut buf) {
                Ok(Some(crate::http::Chunk::Data(d))) => out += d.len(),
                Ok(Some(crate::http::Chunk::End)) | Err(_) => return,
                Ok(None) => break,
            }
        }
        assert!(out <= fed);
        assert!(buf.len() <= 4096 + 64 * 1024, "decoder kept too much");
    }
}

/// Read a tar archive fed in pieces and check every entry with an extraction guard; data out
/// never exceeds bytes in.
pub fn fuzz_tar(data: &[u8]) {
    crate::tar::fuzz_body(data);
}

/// Drive a session scanner with operations decoded from `data`: commands with short tokens,
/// abandons, output on stdout/stderr/other streams in pieces, and EOF. Checks that bytes out
/// never exceed bytes in, that captures stay under their cap, and that a completed command's
/// output never contains its own sentinel.
pub fn fuzz_session(data: &[u8]) {
    use crate::demux::StreamKind;
    use crate::session::{SessionConfig, SessionEvent, SessionScanner};

    let echo = data.first().is_some_and(|b| b & 1 == 1);
    let mut s = SessionScanner::new(SessionConfig {
        capture: crate::capture::OutputLimit {
            max_bytes: 256,
            policy: crate::capture::LimitPolicy::KeepRunning,
        },
        max_queued_output: 512,
        echo_command_output: echo,
    });
    let tokens = ["a", "b", "c", "ab"];
    let mut next_token = 0usize;
    let mut fed = 0u64;
    let mut out = 0u64;
    let mut rest = data.get(1..).unwrap_or_default();
    let contains_sentinel = |hay: &[u8], token: &str| {
        let head = format!("\n__PD_{token}_");
        hay.windows(head.len()).enumerate().any(|(i, w)| {
            if w != head.as_bytes() {
                return false;
            }
            let after = hay.get(i + head.len()..).unwrap_or_default();
            let digits = after.iter().take_while(|b| b.is_ascii_digit()).count();
            (1..=10).contains(&digits)
                && after.get(digits..).is_some_and(|t| t.starts_with(b"__\n"))
        })
    };
    while let Some((&op, tail)) = rest.split_first() {
        rest = tail;
        match op % 8 {
            0 => {
                let token = tokens
                    .get(next_token % tokens.len())
                    .copied()
                    .unwrap_or("a");
                next_token += 1;
                let _ = s.command("echo hi", token);
            }
            1 => {
                if let Some(t) = s.pending_token().map(str::to_string) {
                    if let Some(c) = s.abandon(&t) {
                        out += (c.stdout.len() + c.stderr.len()) as u64 + c.elided_bytes;
                    }
                }
            }
            2 if op == 2 => s.finish(),
            _ => {
                let kind = match op % 4 {
                    0 | 1 => StreamKind::Stdout,
                    2 => StreamKind::Stderr,
                    _ => StreamKind::SystemErr,
                };
                let n = usize::from(op >> 3).min(rest.len());
                let (piece, tail) = rest.split_at(n);
                rest = tail;
                fed += piece.len() as u64;
                s.feed(kind, piece);
            }
        }
        while let Some(ev) = s.next_event() {
            match ev {
                SessionEvent::Output {
                    data, in_command, ..
                } => {
                    if !in_command {
                        out += data.len() as u64;
                    }
                }
                SessionEvent::Completed(c) | SessionEvent::Unfinished(c) => {
                    assert!(
                        c.stdout.len() + c.stderr.len() <= 256,
                        "capture over its cap"
                    );
                    assert!(
                        !contains_sentinel(&c.stdout, &c.token),
                        "sentinel in output"
                    );
                    out += (c.stdout.len() + c.stderr.len()) as u64 + c.elided_bytes;
                }
            }
        }
        if !echo {
            assert!(
                out + s.dropped_output_bytes() <= fed,
                "scanner produced more than it was fed"
            );
        }
    }
    s.finish();
    while s.next_event().is_some() {}
}

/// Decode agent frames from `data` in pieces: no panic, no allocation past the frame bound,
/// and the payload out never exceeds the bytes in; every frame decoded re-encodes to the same
/// bytes. A stat reply's payload is also read as the host reads it, into a path stat.
pub fn fuzz_agent_frames(data: &[u8]) {
    use crate::agent::{encode_frame, FrameDecoder, Kind, StatReply, MAX_PAYLOAD};
    let (ctl, pieces) = pieces(data);
    let mut d = FrameDecoder::new();
    let mut fed = 0usize;
    let mut out = BytesMut::new();
    for (i, p) in pieces.into_iter().enumerate() {
        fed += p.len();
        // Both ways of feeding, interleaved as the control byte says.
        if (usize::from(ctl) >> (i % 8)) & 1 == 0 {
            d.feed(p);
        } else {
            d.feed_bytes(Bytes::copy_from_slice(p));
        }
        loop {
            match d.next_frame() {
                Ok(Some(f)) => {
                    assert!(f.payload.len() <= MAX_PAYLOAD);
                    if f.kind == Kind::StatReply {
                        if let Ok(reply) = serde_json::from_slice::<StatReply>(&f.payload) {
                            let _ = reply.path_stat("/fuzz/p");
                        }
                    }
                    encode_frame(&mut out, f.kind, f.id, &f.payload);
                }
                Ok(None) => break,
                Err(_) => return,
            }
        }
        assert!(d.buffered() <= fed);
    }
    assert!(out.len() <= fed);
    let consumed = fed - d.buffered();
    let whole: Vec<u8> = pieces_joined(data);
    assert_eq!(&out[..], &whole[..consumed]);
}

/// The bytes [`pieces`] split, joined again.
fn pieces_joined(data: &[u8]) -> Vec<u8> {
    data.get(1..).unwrap_or_default().to_vec()
}

/// Read a limits probe's output and the owner fields of `data`: no panic, bounded sections,
/// and the comparison with any request runs on whatever was read. The same bytes are tried as
/// a `/proc/<pid>/stat` line, an owner token, container labels and command records.
pub fn fuzz_limits_probe(data: &[u8]) {
    use crate::limits::{unenforced, LimitRequest, LimitsReport};
    use crate::reap;
    let settings = serde_json::from_slice::<serde_json::Value>(data).unwrap_or_default();
    let report = LimitsReport::from_probe(data, &settings);
    let _ = report.cpu_percent();
    let _ = report.bounding_caps();
    for request in [
        LimitRequest::default(),
        LimitRequest::from_host_config(&settings),
        LimitRequest::from_spec(
            &crate::spec::ContainerSpec::new()
                .mem_limit("64m")
                .cpu_percent(50),
        ),
    ] {
        let _ = unenforced(&request, &report);
    }
    let text = String::from_utf8_lossy(data);
    let _ = reap::stat_start_time(&text);
    let _ = reap::running_start_time(&text);
    let _ = reap::Owner::parse_token(&text);
    let _ = reap::RecordLine::parse_all(&text);
    let labels: std::collections::BTreeMap<String, String> = text
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let here = reap::HostView::default();
    let _ = reap::container_verdict(&labels, 0, 1, &here, |_| None);
}
