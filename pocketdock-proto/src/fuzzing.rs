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
    let mut feed_and_drain = |dec: &mut ResponseDecoder, piece: Option<&[u8]>| -> bool {
        match piece {
            Some(p) => {
                fed += p.len();
                dec.feed(p);
            }
            None => dec.feed_eof(),
        }
        loop {
            match dec.next_event() {
                Ok(Some(ResponseEvent::Data(d))) => out += d.len(),
                Ok(Some(ResponseEvent::End)) => return false,
                Ok(Some(ResponseEvent::Head(_))) => {}
                Ok(None) => break,
                Err(_) => return false,
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
