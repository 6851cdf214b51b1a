//! The file flows (`read_file` with its link hops, `pull`, `write_file`, `push`) against a
//! scripted engine on a virtual clock: the recorded archive downloads of both engines delivered
//! at every split point, link chains up to and past the hop limit, loops, links that climb out
//! of their directory, Podman's glob paths with their temporary symlink, and the upload loops.

mod support;

use pocketdock_proto::demux::encode_frame;
use pocketdock_proto::files::{
    ExtractAction, Owner, PullEvent, PullOp, PutEvent, PutOp, ReadFileOp, TransferOptions,
    FIRST_WRITE, MAX_LINK_HOPS,
};
use pocketdock_proto::tar::{
    header_for_dir, header_for_file, header_for_symlink, padding, EntryMeta, END_OF_ARCHIVE,
};
use pocketdock_proto::{Error, StreamKind};
use support::{
    drive, every_delivery, json, reply, transcript, transcript_request_line, Delivery, Reply,
    Script, ENGINES,
};

const PASSWD: &[u8] = b"root:x:0:0:root:/root:/bin/sh\nsandbox:x:1000:1000:sandbox:/home/sandbox:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n";

/// One entry of a scripted archive.
enum Entry<'a> {
    Dir(&'a str),
    File(&'a str, &'a [u8]),
    Link(&'a str, &'a str),
}

/// A `200` archive download of `entries`.
fn archive(entries: &[Entry<'_>]) -> Vec<u8> {
    let meta = EntryMeta {
        mode: 0o644,
        mtime: 7,
        ..EntryMeta::default()
    };
    let mut tar = Vec::new();
    for e in entries {
        let (h, data): (_, &[u8]) = match e {
            Entry::Dir(p) => (header_for_dir(p, &meta), b""),
            Entry::File(p, d) => (header_for_file(p, d.len() as u64, &meta), d),
            Entry::Link(p, t) => (header_for_symlink(p, t, &meta), b""),
        };
        tar.extend(h.unwrap_or_else(|e| panic!("{e}")));
        tar.extend_from_slice(data);
        tar.extend_from_slice(padding(data.len() as u64));
    }
    tar.extend_from_slice(&END_OF_ARCHIVE);
    let mut v = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/x-tar\r\nContent-Length: {}\r\n\r\n",
        tar.len()
    )
    .into_bytes();
    v.extend(tar);
    v
}

/// The archive request of `path` (percent-encoded as the query encoder does for these names).
fn get(container: &str, path: &str) -> String {
    format!(
        "GET /containers/{container}/archive?path={}",
        path.replace('/', "%2F")
    )
}

/// The three replies of a helper command that prints `stdout` and exits with `code`.
fn helper(container: &str, stdout: &[u8], code: i64) -> Vec<Reply> {
    let mut start = b"HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n".to_vec();
    if !stdout.is_empty() {
        start.extend(encode_frame(StreamKind::Stdout, stdout));
    }
    vec![
        reply(
            format!("POST /containers/{container}/exec"),
            json("201 Created", r#"{"Id":"e1"}"#),
        ),
        reply("POST /exec/e1/start", start),
        reply(
            "GET /exec/e1/json",
            json(
                "200 OK",
                &format!(r#"{{"Running":false,"ExitCode":{code},"Pid":1}}"#),
            ),
        ),
    ]
}

fn read(container: &str, path: &str) -> ReadFileOp {
    ReadFileOp::new(container, path, &TransferOptions::default(), "seed")
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Every delivery of `script`, plus a few chunk sizes.
fn deliveries(script: &[Reply]) -> Vec<Delivery> {
    let mut all = every_delivery(script);
    all.extend([Delivery::Chunks(7), Delivery::Chunks(512)]);
    all
}

#[test]
fn read_file_follows_a_link_to_the_recorded_file_at_every_split() {
    for engine in ENGINES {
        let c = format!("pd-transcript-{engine}");
        let script = vec![
            reply(get(&c, "/etc/pw"), archive(&[Entry::Link("pw", "passwd")])),
            reply(
                transcript_request_line(engine, "archive-get"),
                transcript(engine, "archive-get"),
            ),
        ];
        for delivery in deliveries(&script) {
            let out = drive(read(&c, "/etc/pw"), script.clone(), delivery);
            let data = out
                .result
                .unwrap_or_else(|e| panic!("{engine} {delivery:?}: {e}"));
            assert_eq!(data, PASSWD, "{engine} {delivery:?}");
            assert_eq!(out.requests.len(), 2);
        }
    }
}

#[test]
fn read_file_of_the_recorded_archive_directly() {
    for engine in ENGINES {
        let c = format!("pd-transcript-{engine}");
        let script = vec![reply(
            transcript_request_line(engine, "archive-get"),
            transcript(engine, "archive-get"),
        )];
        for delivery in deliveries(&script) {
            let out = drive(read(&c, "/etc/passwd"), script.clone(), delivery);
            assert_eq!(out.result.ok().as_deref(), Some(PASSWD), "{delivery:?}");
        }
    }
}

/// A chain `/l0 -> l1 -> ... -> l<n>` ending in a file at `/l<n>`.
fn chain(n: usize) -> Vec<Reply> {
    let mut script: Vec<Reply> = (0..n)
        .map(|i| {
            let name = format!("l{i}");
            let next = format!("l{}", i + 1);
            reply(
                get("c", &format!("/{name}")),
                archive(&[Entry::Link(&name, &next)]),
            )
        })
        .collect();
    let last = format!("l{n}");
    script.push(reply(
        get("c", &format!("/{last}")),
        archive(&[Entry::File(&last, b"end")]),
    ));
    script
}

#[test]
fn read_file_follows_up_to_the_hop_limit_and_no_further() {
    let out = drive(
        read("c", "/l0"),
        chain(MAX_LINK_HOPS),
        Delivery::Chunks(100),
    );
    assert_eq!(out.result.ok().as_deref(), Some(&b"end"[..]));
    assert_eq!(out.requests.len(), MAX_LINK_HOPS + 1);

    // One more link: the last link is not fetched, the error names where the chain stood.
    let mut script = chain(MAX_LINK_HOPS + 1);
    script.pop();
    let out = drive(read("c", "/l0"), script, Delivery::Whole);
    match out.result {
        Err(Error::InvalidInput {
            field: "path",
            reason: ref message,
        }) => {
            assert!(message.contains("more than 16 symbolic links"), "{message}");
            assert!(message.contains("/l17"), "{message}");
        }
        ref other => panic!("{other:?}"),
    }
    assert_eq!(out.requests.len(), MAX_LINK_HOPS + 1);
}

#[test]
fn read_file_link_loops_end_at_the_hop_limit() {
    // `/a -> b`, `/b -> a`, forever.
    let script = [
        reply(get("c", "/a"), archive(&[Entry::Link("a", "b")])),
        reply(get("c", "/b"), archive(&[Entry::Link("b", "/a")])),
    ];
    let looped: Vec<Reply> = script
        .iter()
        .cycle()
        .take(MAX_LINK_HOPS + 1)
        .cloned()
        .collect();
    for delivery in [Delivery::Whole, Delivery::Chunks(1)] {
        let out = drive(read("c", "/a"), looped.clone(), delivery);
        assert!(
            matches!(out.result, Err(Error::InvalidInput { field: "path", .. })),
            "{:?}",
            out.result
        );
        assert_eq!(out.requests.len(), MAX_LINK_HOPS + 1);
    }
    // A link to itself is a loop of one.
    let own = reply(get("c", "/s"), archive(&[Entry::Link("s", "s")])).repeat();
    let out = drive(read("c", "/s"), vec![own], Delivery::Whole);
    assert!(matches!(out.result, Err(Error::InvalidInput { .. })));
    assert_eq!(out.requests.len(), MAX_LINK_HOPS + 1);
}

#[test]
fn read_file_links_climbing_out_are_resolved_in_the_container() {
    // A relative target climbing above `/` is asked of the engine as it is (the engine resolves
    // `..` inside the container's root); an absolute one replaces the path.
    let script = vec![
        reply(
            get("c", "/a/b"),
            archive(&[Entry::Link("b", "../../../etc/x")]),
        ),
        reply(
            get("c", "/a/../../../etc/x"),
            archive(&[Entry::Link("x", "/y")]),
        ),
        reply(get("c", "/y"), archive(&[Entry::File("y", b"inside")])),
    ];
    let out = drive(read("c", "/a/b"), script, Delivery::Chunks(3));
    assert_eq!(out.result.ok().as_deref(), Some(&b"inside"[..]));
}

#[test]
fn read_file_errors_name_the_path_of_the_hop() {
    let script = vec![
        reply(get("c", "/a"), archive(&[Entry::Link("a", "gone")])),
        reply(
            get("c", "/gone"),
            json(
                "404 Not Found",
                r#"{"message":"no such file or directory"}"#,
            ),
        ),
    ];
    let out = drive(read("c", "/a"), script, Delivery::Whole);
    assert!(
        matches!(&out.result, Err(Error::PathNotFound(p)) if p == "/gone"),
        "{:?}",
        out.result
    );
    let dir = vec![reply(get("c", "/d"), archive(&[Entry::Dir("d/")]))];
    let out = drive(read("c", "/d"), dir, Delivery::Whole);
    assert!(matches!(out.result, Err(Error::InvalidInput { .. })));
    // Cut inside the file's data: an error, never a short file.
    let mut cut = archive(&[Entry::File("f", &[b'x'; 600])]);
    cut.truncate(cut.len() - 1500);
    let text =
        String::from_utf8_lossy(&cut).replace("Content-Length: 2560", "Content-Length: 1060");
    let out = drive(
        read("c", "/f"),
        vec![reply(get("c", "/f"), text.into_bytes())],
        Delivery::Whole,
    );
    assert!(out.result.is_err(), "{:?}", out.result);
}

#[test]
fn read_file_cap_is_checked_before_the_data() {
    let opts = TransferOptions::new().max_bytes(4);
    let op = ReadFileOp::new("c", "/f", &opts, "seed").unwrap_or_else(|e| panic!("{e}"));
    let script = vec![reply(
        get("c", "/f"),
        archive(&[Entry::File("f", b"12345")]),
    )];
    let out = drive(op, script, Delivery::Whole);
    assert!(
        matches!(
            out.result,
            Err(Error::Protocol(
                pocketdock_proto::ProtocolError::BodyTooLarge(4)
            ))
        ),
        "{:?}",
        out.result
    );
}

#[test]
fn podman_glob_paths_go_through_a_temporary_link_removed_afterwards() {
    let c = "pd-transcript-podman";
    let version = || {
        reply(
            transcript_request_line("podman", "version"),
            transcript("podman", "version"),
        )
    };
    let mut script = vec![version()];
    script.extend(helper(c, b"", 0)); // ln -s
    script.push(reply(
        format!("GET /containers/{c}/archive?path=%2Ftmp%2F.pocketdock-link-"),
        archive(&[Entry::File(".pocketdock-link-x", b"star")]),
    ));
    script.extend(helper(c, b"", 0)); // rm -f
    for delivery in [Delivery::Whole, Delivery::Chunks(5)] {
        let out = drive(read(c, "/tmp/a*b"), script.clone(), delivery);
        assert_eq!(out.result.ok().as_deref(), Some(&b"star"[..]));
        let argv = |i: usize| String::from_utf8_lossy(&out.sent[i]).to_string();
        assert!(argv(1).contains(r#""ln","-s","--","/tmp/a*b","/tmp/.pocketdock-link-seed"#));
        assert!(argv(5).contains(r#""rm","-f","--","/tmp/.pocketdock-link-seed"#));
    }
    // The link is removed when the download fails too, and the error names the caller's path.
    let mut failing = vec![version()];
    failing.extend(helper(c, b"", 0));
    failing.push(reply(
        format!("GET /containers/{c}/archive"),
        json(
            "404 Not Found",
            r#"{"message":"no such file or directory"}"#,
        ),
    ));
    failing.extend(helper(c, b"", 0));
    let out = drive(read(c, "/tmp/a*b"), failing, Delivery::Whole);
    assert!(matches!(&out.result, Err(Error::PathNotFound(p)) if p == "/tmp/a*b"));
    assert_eq!(out.requests.len(), 8);
    // `?` and `[` are escaped on Podman; Docker takes every path literally.
    let escaped = vec![
        version(),
        reply(
            format!("GET /containers/{c}/archive?path=%2Ftmp%2Fq%5C%3F"),
            archive(&[Entry::File("q?", b"q")]),
        ),
    ];
    let out = drive(read(c, "/tmp/q?"), escaped, Delivery::Whole);
    assert_eq!(out.result.ok().as_deref(), Some(&b"q"[..]));
    let d = "pd-transcript-docker";
    let literal = vec![
        reply(
            transcript_request_line("docker", "version"),
            transcript("docker", "version"),
        ),
        reply(
            format!("GET /containers/{d}/archive?path=%2Ftmp%2Fa%2Ab"),
            archive(&[Entry::File("a*b", b"lit")]),
        ),
    ];
    let out = drive(read(d, "/tmp/a*b"), literal, Delivery::Whole);
    assert_eq!(out.result.ok().as_deref(), Some(&b"lit"[..]));
}

fn pull(src: &str) -> PullOp {
    PullOp::new("c", src, &TransferOptions::default(), "seed").unwrap_or_else(|e| panic!("{e}"))
}

/// The extraction actions of a pull's events, with data pieces joined.
fn actions(events: &[PullEvent]) -> Vec<ExtractAction> {
    let mut out: Vec<ExtractAction> = Vec::new();
    for e in events {
        if let PullEvent::Extract(a) = e {
            match (out.last_mut(), a) {
                (Some(ExtractAction::Data(prev)), ExtractAction::Data(d)) => {
                    let mut v = prev.to_vec();
                    v.extend_from_slice(d);
                    *prev = v.into();
                }
                _ => out.push(a.clone()),
            }
        }
    }
    out
}

#[test]
fn pull_follows_a_top_link_and_streams_a_tree_at_every_split() {
    let script = vec![
        reply(get("c", "/app"), archive(&[Entry::Link("app", "srv/app")])),
        reply(
            get("c", "/srv/app"),
            archive(&[
                Entry::Dir("app/"),
                Entry::File("app/a.txt", b"hello"),
                Entry::Link("app/cur", "a.txt"),
            ]),
        ),
    ];
    let mut first: Option<Vec<ExtractAction>> = None;
    for delivery in deliveries(&script) {
        let out = drive(pull("/app"), script.clone(), delivery);
        assert!(out.result.is_ok(), "{delivery:?}: {:?}", out.result);
        let got = actions(&out.events);
        assert!(matches!(got.first(), Some(ExtractAction::TopDir { .. })));
        assert_eq!(got.last(), Some(&ExtractAction::End));
        assert!(got.contains(&ExtractAction::Data(bytes::Bytes::from_static(b"hello"))));
        let received: Vec<u64> = out
            .events
            .iter()
            .filter_map(|e| match e {
                PullEvent::Received(n) => Some(*n),
                PullEvent::Extract(_) => None,
            })
            .collect();
        // Counted per hop: the last count is the whole second archive.
        let second = &script[1].bytes;
        let tar_len = second.len()
            - (second
                .windows(4)
                .position(|w| w == b"\r\n\r\n")
                .unwrap_or(0)
                + 4);
        assert_eq!(received.last(), Some(&(tar_len as u64)), "{delivery:?}");
        match &first {
            Some(f) => assert_eq!(f, &got, "{delivery:?}"),
            None => first = Some(got),
        }
    }
}

#[test]
fn pull_refuses_links_out_of_the_tree_and_other_tops() {
    let escape = vec![reply(
        get("c", "/d"),
        archive(&[Entry::Dir("d/"), Entry::Link("d/out", "../../etc/passwd")]),
    )];
    let out = drive(pull("/d"), escape, Delivery::Chunks(64));
    assert!(
        matches!(out.result, Err(Error::Archive(_))),
        "{:?}",
        out.result
    );

    let mut fifo_head =
        header_for_file("p", 0, &EntryMeta::default()).unwrap_or_else(|e| panic!("{e}"));
    fifo_head[156] = b'6';
    let sum: u32 = fifo_head
        .iter()
        .enumerate()
        .map(|(i, b)| {
            if (148..156).contains(&i) {
                u32::from(b' ')
            } else {
                u32::from(*b)
            }
        })
        .sum();
    fifo_head[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    let mut tar = fifo_head;
    tar.extend_from_slice(&END_OF_ARCHIVE);
    let mut resp = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", tar.len()).into_bytes();
    resp.extend(tar);
    let out = drive(
        pull("/p"),
        vec![reply(get("c", "/p"), resp)],
        Delivery::Whole,
    );
    assert!(
        matches!(out.result, Err(Error::InvalidInput { field: "src", .. })),
        "{:?}",
        out.result
    );
}

#[test]
fn pull_host_failure_ends_the_flow_with_its_error() {
    let script = vec![reply(get("c", "/f"), archive(&[Entry::File("f", b"data")]))];
    let out = Script::new(script).run_with(pull("/f"), |op, e| {
        if matches!(e, PullEvent::Extract(ExtractAction::TopFile { .. })) {
            op.fail(Error::HostPath {
                path: "/host/f".into(),
                detail: "read-only".into(),
            });
        }
    });
    assert!(
        matches!(out.result, Err(Error::HostPath { .. })),
        "{:?}",
        out.result
    );
}

/// Base64 of `data` (standard alphabet, padded), as the engines send a path stat.
fn base64(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in data.chunks(3) {
        let n = c
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for k in 0..4 {
            if k <= c.len() {
                out.push(char::from(A[(n >> (18 - 6 * k) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The request line prefix of a path stat (`HEAD` of the archive endpoint).
fn head(container: &str, path: &str) -> String {
    format!(
        "HEAD /containers/{container}/archive?path={}",
        path.replace('/', "%2F")
    )
}

/// A path stat answer: Go `os.FileMode` `mode`, link target `link`. The `Content-Length` of a
/// `HEAD` answer announces a body that never comes.
fn stat(container: &str, path: &str, mode: u32, link: &str) -> Reply {
    let stat = format!(r#"{{"name":"x","size":9,"mode":{mode},"mtime":"","linkTarget":"{link}"}}"#);
    reply(
        head(container, path),
        format!(
            "HTTP/1.1 200 OK\r\nX-Docker-Container-Path-Stat: {}\r\nContent-Length: 9\r\n\r\n",
            base64(stat.as_bytes())
        ),
    )
}

/// A path stat answer of Go's directory bit and `0755`.
const DIR: u32 = (1 << 31) | 0o755;
/// Go's symlink bit.
const LINK: u32 = (1 << 27) | 0o777;

/// `HEAD` of a missing path (`status` 404 on Podman; Docker says 500 below a file).
fn no_stat(container: &str, path: &str, status: &str) -> Reply {
    reply(
        head(container, path),
        format!("HTTP/1.1 {status}\r\nContent-Length: 30\r\n\r\n"),
    )
}

fn put(container: &str, dir: &str) -> Reply {
    reply(
        format!(
            "PUT /containers/{container}/archive?path={}",
            dir.replace('/', "%2F")
        ),
        json("200 OK", ""),
    )
}

/// The body of the upload among `sent` (the last request).
fn put_body(sent: &[Vec<u8>]) -> Vec<u8> {
    let put = sent.last().cloned().unwrap_or_default();
    let at = put.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or(0) + 4;
    put[at..].to_vec()
}

/// The entries of an uploaded tar: path, mode, uid, gid.
fn entries_of(tar: &[u8]) -> Vec<(String, u32, u64, u64)> {
    let mut reader = pocketdock_proto::tar::TarReader::new();
    reader.feed(tar);
    let mut out = Vec::new();
    while let Some(ev) = reader.next_event().unwrap_or_else(|e| panic!("{e}")) {
        if let pocketdock_proto::tar::TarEvent::Entry(h) = ev {
            out.push((h.path.clone(), h.mode, h.uid, h.gid));
        }
    }
    out
}

fn write_op<'a>(path: &str, data: &'a [u8]) -> PutOp<'a> {
    PutOp::write("c", path, data, &TransferOptions::default(), 9, "seed")
        .unwrap_or_else(|e| panic!("{e}"))
        .known_owner(Some(OWNER))
}

const OWNER: Owner = Owner {
    uid: 1000,
    gid: 1001,
};

/// The `sandbox` user of [`PASSWD`].
const OWNER_1000: Owner = Owner {
    uid: 1000,
    gid: 1000,
};

/// Over an existing file the whole write is one stat and one `PUT`, nothing run in the
/// container; the file keeps its mode, at every split point of the answers.
#[test]
fn write_file_over_a_file_is_one_stat_and_one_put() {
    let data = vec![b'z'; 300_000];
    let script = vec![stat("c", "/home/u/f.txt", 0o750, ""), put("c", "/home/u")];
    for delivery in [Delivery::Whole, Delivery::Chunks(1), Delivery::Chunks(11)] {
        let out = drive(write_op("/home/u/f.txt", &data), script.clone(), delivery);
        assert!(out.result.is_ok(), "{:?}", out.result);
        assert_eq!(out.sent.len(), 2, "a stat and a PUT, no exec");
        let body = put_body(&out.sent);
        assert_eq!(body.len(), 512 + 300_000 + 32 + 1024);
        assert_eq!(&body[..6], b"f.txt\0");
        assert_eq!(&body[512..512 + 10], &[b'z'; 10]);
        assert_eq!(
            entries_of(&body),
            [("f.txt".to_string(), 0o750, 1000, 1001)]
        );
        let sent: Vec<u64> = out
            .events
            .iter()
            .filter_map(|e| match e {
                PutEvent::Sent(n) => Some(*n),
                _ => None,
            })
            .collect();
        assert_eq!(sent.last(), Some(&(body.len() as u64)));
        assert!(sent.len() >= 3, "{sent:?}");
    }
}

/// A new file in a missing directory: the walk up stops at the first directory that exists,
/// and the archive creates the rest, as the owner.
#[test]
fn write_file_creates_missing_parents_from_the_archive() {
    let script = vec![
        no_stat("c", "/t/a/b/f", "404 Not Found"),
        no_stat("c", "/t/a/b", "404 Not Found"),
        no_stat("c", "/t/a", "404 Not Found"),
        stat("c", "/t", DIR, ""),
        put("c", "/t"),
    ];
    for delivery in every_delivery(&script) {
        let out = drive(write_op("/t/a/b/f", b"new"), script.clone(), delivery);
        assert!(out.result.is_ok(), "{:?}", out.result);
        assert_eq!(
            entries_of(&put_body(&out.sent)),
            [
                ("a/".to_string(), 0o755, 1000, 1001),
                ("a/b/".to_string(), 0o755, 1000, 1001),
                ("a/b/f".to_string(), 0o644, 1000, 1001),
            ]
        );
    }
    // A new file in an existing directory: two stats, no directory entry.
    let out = drive(
        write_op("/t/f", b"new"),
        vec![
            no_stat("c", "/t/f", "404 Not Found"),
            stat("c", "/t", DIR, ""),
            put("c", "/t"),
        ],
        Delivery::Whole,
    );
    assert!(out.result.is_ok(), "{:?}", out.result);
    assert_eq!(
        entries_of(&put_body(&out.sent)),
        [("f".to_string(), 0o644, 1000, 1001)]
    );
}

/// What stops a write before any upload: a directory at the path, a file in the way of its
/// parents (Docker's `500` and Podman's `404` alike), a link to a directory.
#[test]
fn write_file_refusals_need_no_upload() {
    let out = drive(
        write_op("/home/u", b"x"),
        vec![stat("c", "/home/u", DIR, "")],
        Delivery::Whole,
    );
    assert!(matches!(
        out.result,
        Err(Error::InvalidInput { field: "path", .. })
    ));
    for status in ["404 Not Found", "500 Internal Server Error"] {
        let out = drive(
            write_op("/t/f/sub/y", b"x"),
            vec![
                no_stat("c", "/t/f/sub/y", status),
                no_stat("c", "/t/f/sub", status),
                stat("c", "/t/f", 0o644, ""),
            ],
            Delivery::Whole,
        );
        assert!(
            matches!(&out.result, Err(Error::InvalidInput { field: "path", reason }) if reason.contains("Not a directory")),
            "{:?}",
            out.result
        );
        assert!(!out.sent.iter().any(|r| r.starts_with(b"PUT")));
    }
    let out = drive(
        write_op("/l", b"x"),
        vec![stat("c", "/l", LINK, "/d"), stat("c", "/d", DIR, "")],
        Delivery::Whole,
    );
    assert!(matches!(out.result, Err(Error::InvalidInput { .. })));
    // A link to a file is replaced by the new file (with the default mode).
    let out = drive(
        write_op("/l", b"x"),
        vec![
            stat("c", "/l", LINK, "/f"),
            stat("c", "/f", 0o700, ""),
            put("c", "/"),
        ],
        Delivery::Whole,
    );
    assert!(out.result.is_ok(), "{:?}", out.result);
    assert_eq!(
        entries_of(&put_body(&out.sent)),
        [("l".to_string(), 0o644, 1000, 1001)]
    );
    // `..` among the directories to create is refused.
    let out = drive(
        write_op("/t/x/../y/f", b"x"),
        vec![
            no_stat("c", "/t/x/../y/f", "404 Not Found"),
            no_stat("c", "/t/x/../y", "404 Not Found"),
            no_stat("c", "/t/x/..", "404 Not Found"),
        ],
        Delivery::Whole,
    );
    assert!(matches!(out.result, Err(Error::InvalidInput { .. })));
}

/// A read-only destination: the engine's refusal is a clear error on `path`.
#[test]
fn write_file_into_a_read_only_file_system_is_invalid_input() {
    for message in [
        "container rootfs is marked read-only",
        "copier: put: error creating \\\"/ro/f\\\": open /ro/f: read-only file system",
    ] {
        let out = drive(
            write_op("/ro/f", b"x"),
            vec![
                no_stat("c", "/ro/f", "404 Not Found"),
                stat("c", "/ro", DIR, ""),
                reply(
                    "PUT /containers/c/archive?path=%2Fro",
                    json(
                        "500 Internal Server Error",
                        &format!(r#"{{"message":"{message}"}}"#),
                    ),
                ),
            ],
            Delivery::Whole,
        );
        assert!(
            matches!(&out.result, Err(Error::InvalidInput { field: "path", reason }) if reason.contains("read-only")),
            "{:?}",
            out.result
        );
    }
}

fn inspect_user(user: &str) -> Reply {
    reply(
        "GET /containers/c/json",
        json(
            "200 OK",
            &format!(r#"{{"Id":"c","Config":{{"User":"{user}","Image":"i"}}}}"#),
        ),
    )
}

/// Without a known owner the first upload reads it from the container's configuration (a
/// named user or a bare uid through the container's `/etc/passwd`), hands it out to be kept,
/// and goes on; nothing runs in the container.
#[test]
fn write_file_reads_an_unknown_owner_from_the_configuration() {
    let cases: &[(&str, Option<&[u8]>, Owner)] = &[
        ("", None, Owner { uid: 0, gid: 0 }),
        (
            "1234:5678",
            None,
            Owner {
                uid: 1234,
                gid: 5678,
            },
        ),
        ("sandbox", Some(PASSWD), OWNER_1000),
        (
            "65534",
            Some(PASSWD),
            Owner {
                uid: 65534,
                gid: 65534,
            },
        ),
        ("4321", Some(PASSWD), Owner { uid: 4321, gid: 0 }),
    ];
    for (user, passwd, want) in cases {
        let op = PutOp::write("c", "/t/f", b"x", &TransferOptions::default(), 9, "seed")
            .unwrap_or_else(|e| panic!("{e}"));
        let mut script = vec![inspect_user(user)];
        if let Some(passwd) = passwd {
            script.push(reply(
                get("c", "/etc/passwd"),
                archive(&[Entry::File("passwd", passwd)]),
            ));
        }
        script.extend([stat("c", "/t/f", 0o644, ""), put("c", "/t")]);
        let out = drive(op, script, Delivery::Whole);
        assert!(out.result.is_ok(), "{user}: {:?}", out.result);
        assert_eq!(out.events.first(), Some(&PutEvent::Owner(*want)), "{user}");
        assert!(
            !out.sent.iter().any(|r| r.starts_with(b"POST")),
            "{user}: an exec ran"
        );
        assert_eq!(
            entries_of(&put_body(&out.sent)),
            [("f".to_string(), 0o644, want.uid, want.gid)]
        );
    }
}

/// What the configuration cannot settle (a group by name, a name `/etc/passwd` lacks, no
/// `/etc/passwd`) is asked of the container once, with `id`.
#[test]
fn write_file_asks_the_container_what_the_configuration_cannot_say() {
    let missing = b"HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: 26\r\n\r\n{\"message\":\"no such file\"}".to_vec();
    let cases: Vec<(&str, Option<Vec<u8>>)> = vec![
        ("sandbox:staff", None),
        ("ghost", Some(archive(&[Entry::File("passwd", PASSWD)]))),
        ("sandbox", Some(missing)),
    ];
    for (user, passwd) in cases {
        let op = PutOp::write("c", "/t/f", b"x", &TransferOptions::default(), 9, "seed")
            .unwrap_or_else(|e| panic!("{e}"));
        let mut script = vec![inspect_user(user)];
        if let Some(passwd) = passwd {
            script.push(reply(get("c", "/etc/passwd"), passwd));
        }
        script.extend(helper("c", b"1000\n1001\n", 0));
        script.extend([stat("c", "/t/f", 0o644, ""), put("c", "/t")]);
        let out = drive(op, script, Delivery::Whole);
        assert!(out.result.is_ok(), "{user}: {:?}", out.result);
        assert_eq!(out.events.first(), Some(&PutEvent::Owner(OWNER)), "{user}");
    }
}

#[test]
fn push_asks_the_host_for_its_source_then_every_piece() {
    let op = PutOp::push(
        "c",
        "/dst",
        (true, "tree", false),
        &TransferOptions::default(),
        9,
        "seed",
    )
    .unwrap_or_else(|e| panic!("{e}"))
    .known_owner(Some(OWNER));
    let script = vec![stat("c", "/dst", DIR, ""), put("c", "/dst")];
    let mut pieces = vec![&b"piece-two"[..], &b"piece-one"[..]];
    let out = Script::new(script)
        .delivery(Delivery::Chunks(4))
        .run_with(op, |op, e| match e {
            PutEvent::Stat { .. } => unreachable!("no caller stats were offered"),
            PutEvent::NeedBody => match pieces.pop() {
                Some(p) => op.push_body(bytes::Bytes::from_static(p)),
                None => op.finish_body(),
            },
            PutEvent::Source { .. } | PutEvent::Sent(_) | PutEvent::Owner(_) => {}
        });
    assert!(out.result.is_ok(), "{:?}", out.result);
    assert_eq!(
        out.events.first(),
        Some(&PutEvent::Source {
            root_name: Some("tree".into()),
            under: String::new(),
            prepared: pocketdock_proto::files::Prepared {
                uid: 1000,
                gid: 1001,
                kind: pocketdock_proto::files::DestKind::Dir,
            },
        })
    );
    let wire = String::from_utf8_lossy(&out.sent[1]).to_string();
    assert!(wire.contains("Transfer-Encoding: chunked"));
    assert!(
        wire.ends_with("9\r\npiece-one\r\n9\r\npiece-two\r\n0\r\n\r\n"),
        "{wire}"
    );
    assert!(out.events.contains(&PutEvent::Sent(18)));

    // A host read error is the result: before the first write nothing is uploaded at all;
    // later it cuts the upload.
    for pieces_before in [0usize, 1] {
        let op = PutOp::push(
            "c",
            "/dst",
            (false, "f", false),
            &TransferOptions::default(),
            9,
            "s",
        )
        .unwrap_or_else(|e| panic!("{e}"))
        .known_owner(Some(OWNER));
        let mut script = vec![
            no_stat("c", "/dst", "404 Not Found"),
            stat("c", "/", DIR, ""),
        ];
        if pieces_before > 0 {
            script.push(put("c", "/"));
        }
        let mut given = 0;
        let out = Script::new(script).try_run_with(op, |op, e| {
            if *e == PutEvent::NeedBody {
                if given < pieces_before {
                    given += 1;
                    op.push_body(bytes::Bytes::from(vec![0u8; FIRST_WRITE]));
                } else {
                    op.fail(Error::HostPath {
                        path: "/src/f".into(),
                        detail: "unreadable".into(),
                    });
                }
            }
        });
        let out = out.unwrap_or_else(|_| panic!("stuck"));
        assert!(
            matches!(out.result, Err(Error::HostPath { .. })),
            "{:?}",
            out.result
        );
        assert_eq!(
            out.sent.iter().any(|r| r.starts_with(b"PUT")),
            pieces_before > 0
        );
    }
}

/// A push to a missing nested path: the archive's first piece creates the parents, and the
/// host tree goes under them with its new name; a directory onto a file is refused first.
#[test]
fn push_to_a_missing_nested_path_creates_its_parents_from_the_archive() {
    let op = PutOp::push(
        "c",
        "/t/p/q/new",
        (true, "tree", false),
        &TransferOptions::default(),
        9,
        "seed",
    )
    .unwrap_or_else(|e| panic!("{e}"))
    .known_owner(Some(OWNER));
    let script = vec![
        no_stat("c", "/t/p/q/new", "404 Not Found"),
        no_stat("c", "/t/p/q", "404 Not Found"),
        no_stat("c", "/t/p", "404 Not Found"),
        stat("c", "/t", DIR, ""),
        put("c", "/t"),
    ];
    let out = Script::new(script).run_with(op, |op, e| {
        if *e == PutEvent::NeedBody {
            op.push_body(bytes::Bytes::from(END_OF_ARCHIVE.to_vec()));
            op.finish_body();
        }
    });
    assert!(out.result.is_ok(), "{:?}", out.result);
    assert!(out.events.iter().any(|e| matches!(
        e,
        PutEvent::Source { root_name: Some(n), under, .. } if n == "new" && under == "p/q"
    )));
    let body = put_body(&out.sent);
    let text = String::from_utf8_lossy(&body);
    assert!(text.contains("p/\0"), "{text}");
    assert!(text.contains("p/q/\0"), "{text}");

    // A directory onto a file is refused before any upload.
    let op = PutOp::push(
        "c",
        "/t/f",
        (true, "tree", false),
        &TransferOptions::default(),
        9,
        "seed",
    )
    .unwrap_or_else(|e| panic!("{e}"))
    .known_owner(Some(OWNER));
    let out = Script::new(vec![stat("c", "/t/f", 0o644, "")]).run(op);
    assert!(matches!(out.result, Err(Error::InvalidInput { .. })));
}

/// What a caller with its own view of the container (the agent) answers to a path stat.
#[derive(Clone, Copy)]
enum Answer {
    /// Go `os.FileMode` and link target.
    Known(u32, &'static str),
    Missing,
    /// It could not say.
    Unknown,
}

impl Answer {
    fn given(self, path: &str) -> Option<Result<pocketdock_proto::api::archive::PathStat, Error>> {
        match self {
            Self::Known(mode, link) => Some(Ok(pocketdock_proto::api::archive::PathStat {
                mode,
                link_target: link.into(),
                ..Default::default()
            })),
            Self::Missing => Some(Err(Error::PathNotFound(path.into()))),
            Self::Unknown => None,
        }
    }
}

/// Run `op` asking its stats of `answers` (path → answer; a path not listed is not answered,
/// as a caller that ignores the event); the paths asked, in order, and the outcome.
fn with_caller_stats(
    op: PutOp<'_>,
    script: Vec<Reply>,
    answers: &[(&str, Answer)],
) -> (Vec<String>, support::Outcome<PutEvent, ()>) {
    let mut asked = Vec::new();
    let out = Script::new(script).run_with(op.stats_from_caller(true), |op, e| {
        if let PutEvent::Stat { path } = e {
            asked.push(path.clone());
            if let Some((_, a)) = answers.iter().find(|(p, _)| p == path) {
                op.stat_answer(a.given(path));
            }
        }
    });
    (asked, out)
}

/// A caller that answers the path stats (the in-sandbox agent) makes a write one `PUT`: the
/// same plan as with the engine's stats (mode kept, links followed, parents created, a
/// directory refused), and the engine's stat only for a path the caller could not say.
#[test]
fn write_file_with_the_callers_stats_is_one_put() {
    // Over a file: its mode is kept, nothing but the PUT goes to the engine.
    let (asked, out) = with_caller_stats(
        write_op("/home/u/f.txt", b"data"),
        vec![put("c", "/home/u")],
        &[("/home/u/f.txt", Answer::Known(0o750, ""))],
    );
    assert!(out.result.is_ok(), "{:?}", out.result);
    assert_eq!(asked, ["/home/u/f.txt"]);
    assert_eq!(out.sent.len(), 1, "the PUT alone");
    assert_eq!(
        entries_of(&put_body(&out.sent)),
        [("f.txt".to_string(), 0o750, 1000, 1001)]
    );
    // A missing nested path: the walk asks the caller too, and the archive makes the parents.
    let (asked, out) = with_caller_stats(
        write_op("/t/a/b/f", b"new"),
        vec![put("c", "/t")],
        &[
            ("/t/a/b/f", Answer::Missing),
            ("/t/a/b", Answer::Missing),
            ("/t/a", Answer::Missing),
            ("/t", Answer::Known(DIR, "")),
        ],
    );
    assert!(out.result.is_ok(), "{:?}", out.result);
    assert_eq!(asked, ["/t/a/b/f", "/t/a/b", "/t/a", "/t"]);
    assert_eq!(
        entries_of(&put_body(&out.sent)),
        [
            ("a/".to_string(), 0o755, 1000, 1001),
            ("a/b/".to_string(), 0o755, 1000, 1001),
            ("a/b/f".to_string(), 0o644, 1000, 1001),
        ]
    );
    // A link to a directory is refused before any request.
    let (_, out) = with_caller_stats(
        write_op("/l", b"x"),
        vec![],
        &[
            ("/l", Answer::Known(LINK, "/d")),
            ("/d", Answer::Known(DIR, "")),
        ],
    );
    assert!(matches!(
        out.result,
        Err(Error::InvalidInput { field: "path", .. })
    ));
    assert!(out.sent.is_empty());
    // The caller could not say (`None`), or did not answer: the engine's stat is asked.
    for answers in [&[("/r/f", Answer::Unknown)][..], &[][..]] {
        let (asked, out) = with_caller_stats(
            write_op("/r/f", b"x"),
            vec![stat("c", "/r/f", 0o600, ""), put("c", "/r")],
            answers,
        );
        assert!(out.result.is_ok(), "{:?}", out.result);
        assert_eq!(asked, ["/r/f"]);
        assert_eq!(out.sent.len(), 2, "the engine's stat, then the PUT");
        assert_eq!(
            entries_of(&put_body(&out.sent)),
            [("f".to_string(), 0o600, 1000, 1001)]
        );
    }
}
