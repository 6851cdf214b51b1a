//! Replays the committed cargo-fuzz seed corpus (and any crash regressions added to it) on stable.

use std::path::Path;

fn replay(target: &str, f: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry
            .expect("the corpus directory should be readable")
            .path();
        let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        f(&data);
        // Every prefix too: truncation at any point must be handled.
        for cut in 0..data.len().min(600) {
            f(&data[..cut]);
        }
        n += 1;
    }
    assert!(n > 0, "no seeds for {target}");
}

#[test]
fn demux_corpus() {
    replay("demux", pocketdock_proto::fuzzing::fuzz_demux);
}

#[test]
fn http_response_corpus() {
    replay(
        "http_response",
        pocketdock_proto::fuzzing::fuzz_http_response,
    );
}

#[test]
fn chunked_corpus() {
    replay("chunked", pocketdock_proto::fuzzing::fuzz_chunked);
}

#[test]
fn sentinel_corpus() {
    replay("sentinel", pocketdock_proto::fuzzing::fuzz_session);
}

#[test]
fn tar_entry_corpus() {
    replay("tar_entry", pocketdock_proto::fuzzing::fuzz_tar);
}

#[test]
fn agent_frames_corpus() {
    replay("agent_frames", pocketdock_proto::fuzzing::fuzz_agent_frames);
}

#[test]
fn limits_probe_corpus() {
    replay("limits_probe", pocketdock_proto::fuzzing::fuzz_limits_probe);
}
