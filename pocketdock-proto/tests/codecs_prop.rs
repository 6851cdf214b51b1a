//! Property tests of the codecs: whatever the data and however it is split, decoding what was
//! encoded gives the data back.

use bytes::{Bytes, BytesMut};
use pocketdock_proto::demux::{encode_frame, DemuxMode, Demuxer};
use pocketdock_proto::http::{encode_chunk, Chunk, ChunkedDecoder, CHUNKED_END};
use pocketdock_proto::StreamKind;
use proptest::prelude::*;

fn kind(n: u8) -> StreamKind {
    match n % 4 {
        0 => StreamKind::Stdin,
        1 => StreamKind::Stdout,
        2 => StreamKind::Stderr,
        _ => StreamKind::SystemErr,
    }
}

proptest! {
    #[test]
    fn chunked_round_trip(pieces in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 0..12),
                          step in 1usize..64) {
        let mut wire = Vec::new();
        for p in &pieces {
            wire.extend_from_slice(&encode_chunk(p));
        }
        wire.extend_from_slice(CHUNKED_END);
        let mut dec = ChunkedDecoder::new(4096);
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        let mut done = false;
        for piece in wire.chunks(step) {
            buf.extend_from_slice(piece);
            while let Some(c) = dec.decode(&mut buf).map_err(|e| TestCaseError::fail(e.to_string()))? {
                match c {
                    Chunk::Data(d) => out.extend_from_slice(&d),
                    Chunk::End => { done = true; break; }
                }
            }
        }
        prop_assert!(done);
        prop_assert_eq!(out, pieces.concat());
    }

    #[test]
    fn demux_round_trip(frames in prop::collection::vec((any::<u8>(), prop::collection::vec(any::<u8>(), 0..500)), 0..10),
                        step in 1usize..100) {
        let mut wire = Vec::new();
        for (k, p) in &frames {
            wire.extend(encode_frame(kind(*k), p));
        }
        let mut d = Demuxer::new(DemuxMode::Multiplexed);
        let mut got: Vec<(StreamKind, Vec<u8>)> = Vec::new();
        for piece in wire.chunks(step) {
            let mut b = Bytes::copy_from_slice(piece);
            while let Some((k, data)) = d.next_chunk(&mut b).map_err(|e| TestCaseError::fail(e.to_string()))? {
                got.push((k, data.to_vec()));
            }
        }
        prop_assert!(d.finish().is_ok());
        // Merge adjacent pieces of one stream on both sides, dropping empty frames.
        let merge = |v: Vec<(StreamKind, Vec<u8>)>| {
            let mut out: Vec<(StreamKind, Vec<u8>)> = Vec::new();
            for (k, data) in v {
                if data.is_empty() { continue; }
                match out.last_mut() {
                    Some((lk, ld)) if *lk == k => ld.extend(data),
                    _ => out.push((k, data)),
                }
            }
            out
        };
        let want = merge(frames.iter().map(|(k, p)| (kind(*k), p.clone())).collect());
        prop_assert_eq!(merge(got), want);
    }

    #[test]
    fn demux_never_panics_on_garbage(data in prop::collection::vec(any::<u8>(), 0..2000), step in 1usize..50) {
        let mut d = Demuxer::new(DemuxMode::Multiplexed);
        let mut total = 0usize;
        for piece in data.chunks(step) {
            let mut b = Bytes::copy_from_slice(piece);
            while let Ok(Some((_, c))) = d.next_chunk(&mut b) {
                total += c.len();
            }
        }
        prop_assert!(total <= data.len());
    }
}
