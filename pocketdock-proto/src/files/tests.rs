//! Unit tests of the pure file-transfer helpers.

use std::time::Duration;

use bytes::Bytes;

use super::*;
use crate::error::{Error, ProtocolError, Result};
use crate::result::ExecResult;
use crate::tar::{
    header_for_dir, header_for_file, header_for_hardlink, header_for_symlink, padding, EntryMeta,
    TarEvent, TarReader, END_OF_ARCHIVE,
};

fn exec(code: i64, out: &[u8], err: &str) -> ExecResult {
    ExecResult {
        exit_code: code,
        stdout: out.to_vec(),
        stderr: err.as_bytes().to_vec(),
        ..ExecResult::default()
    }
}

enum E<'a> {
    D(&'a str),
    F(&'a str, &'a [u8]),
    S(&'a str, &'a str),
    H(&'a str, &'a str),
}

fn tar(entries: &[E<'_>]) -> Vec<u8> {
    let meta = EntryMeta {
        mode: 0o4755,
        mtime: 7,
        ..EntryMeta::default()
    };
    let mut a = Vec::new();
    for e in entries {
        let (h, data): (Result<Vec<u8>>, &[u8]) = match e {
            E::D(p) => (header_for_dir(p, &meta), b""),
            E::F(p, d) => (header_for_file(p, d.len() as u64, &meta), d),
            E::S(p, t) => (header_for_symlink(p, t, &meta), b""),
            E::H(p, t) => (header_for_hardlink(p, t, &meta), b""),
        };
        a.extend(h.unwrap_or_else(|e| panic!("{e}")));
        a.extend_from_slice(data);
        a.extend_from_slice(padding(data.len() as u64));
    }
    a.extend_from_slice(&END_OF_ARCHIVE);
    a
}

/// Run an archive through an extractor fed in pieces of `step` bytes.
fn run(archive: &[u8], step: usize, max_bytes: u64) -> (Vec<ExtractAction>, Option<Error>) {
    let mut x = Extractor::new(max_bytes, 100);
    let mut out = Vec::new();
    for piece in archive.chunks(step) {
        x.feed(piece);
        loop {
            match x.next_action() {
                Ok(Some(ExtractAction::Data(d))) => match out.last_mut() {
                    Some(ExtractAction::Data(prev)) => {
                        let mut v = prev.to_vec();
                        v.extend_from_slice(&d);
                        *prev = Bytes::from(v);
                    }
                    _ => out.push(ExtractAction::Data(d)),
                },
                Ok(Some(a)) => out.push(a),
                Ok(None) => break,
                Err(e) => return (out, Some(e)),
            }
        }
    }
    x.finish();
    loop {
        match x.next_action() {
            Ok(Some(a)) => out.push(a),
            Ok(None) => return (out, None),
            Err(e) => return (out, Some(e)),
        }
    }
}

#[test]
fn options_defaults_and_deadline() {
    let o = TransferOptions::new();
    assert_eq!(o.deadline(), Some(DEFAULT_TRANSFER_TIMEOUT));
    assert_eq!(o.max_bytes_or(DEFAULT_READ_LIMIT), DEFAULT_READ_LIMIT);
    assert_eq!(o.max_entries_or_default(), DEFAULT_MAX_ENTRIES);
    assert_eq!(o.clone().no_timeout().deadline(), None);
    assert!(o
        .clone()
        .timeout(Duration::ZERO)
        .validate()
        .is_err_and(|e| matches!(
            e,
            Error::InvalidInput {
                field: "timeout",
                ..
            }
        )));
    assert!(o.validate().is_ok());
}

#[test]
fn path_helpers() {
    assert_eq!(
        split_path("/a/b/"),
        Some(("/a".to_string(), "b".to_string()))
    );
    assert_eq!(split_path("/a"), Some(("/".to_string(), "a".to_string())));
    assert_eq!(
        split_path("/a//b"),
        Some(("/a".to_string(), "b".to_string()))
    );
    assert_eq!(split_path("/"), None);
    assert_eq!(split_path("//"), None);
    assert_eq!(
        resolve_link("/usr/bin/python3", "python3.11"),
        "/usr/bin/python3.11"
    );
    assert_eq!(resolve_link("/x", "y/z"), "/y/z");
    assert_eq!(resolve_link("/a/b", "../c"), "/a/../c");
    assert_eq!(resolve_link("/a/b", "/etc/x"), "/etc/x");
    assert_eq!(host_mode(0o4755), 0o755);
    assert_eq!(container_mode(0o6755), 0o755);
    assert_eq!(container_mode(0o1777), 0o1777);
}

#[test]
fn helper_argv_keeps_paths_out_of_the_script() {
    let evil = "/tmp/a b/'q'/$(touch /tmp/pwned)";
    assert_eq!(owner_command()[..3], ["sh", "-c", OWNER_SCRIPT]);
    assert_eq!(
        owner_command().len(),
        4,
        "the owner helper takes no path at all"
    );
    let l = list_command(evil);
    assert_eq!(l[4], evil);
}

#[test]
fn podman_glob_escaping() {
    assert!(!has_glob_meta("/tmp/a b/$(x)/'q'"));
    for p in ["/a*b", "/a?", "/a[1]", "/x\\y"] {
        assert!(has_glob_meta(p), "{p}");
    }
    assert_eq!(escape_glob("/t/a[1]/b?/x\\y*"), "/t/a\\[1]/b\\?/x\\\\y*");
    assert_eq!(
        link_command("/a*b", "/tmp/l")[2..],
        ["--", "/a*b", "/tmp/l"]
    );
    assert_eq!(unlink_command("/tmp/l")[2..], ["--", "/tmp/l"]);
}

#[test]
fn owner_output() {
    assert_eq!(
        parse_owner(&exec(
            0,
            b"1000
1001
",
            ""
        ))
        .ok(),
        Some(Owner {
            uid: 1000,
            gid: 1001
        })
    );
    assert_eq!(
        parse_owner(&exec(
            0, b"0
0
", ""
        ))
        .ok(),
        Some(Owner { uid: 0, gid: 0 })
    );
    assert!(matches!(
        parse_owner(&exec(1, b"", "id: unknown user")),
        Err(Error::InvalidInput { field: "path", reason }) if reason.contains("unknown user")
    ));
    assert!(parse_owner(&exec(
        0, b"abc
", ""
    ))
    .is_err());
    assert!(parse_owner(&exec(
        0, b"1000
", ""
    ))
    .is_err());
    let mut timed_out = exec(-1, b"", "");
    timed_out.timed_out = true;
    assert!(matches!(
        parse_owner(&timed_out),
        Err(Error::Timeout { .. })
    ));
}

#[test]
fn owner_from_the_configuration() {
    assert_eq!(user_spec(""), UserSpec::Known(Owner { uid: 0, gid: 0 }));
    assert_eq!(
        user_spec("12:34"),
        UserSpec::Known(Owner { uid: 12, gid: 34 })
    );
    assert_eq!(
        user_spec("sandbox"),
        UserSpec::Passwd {
            user: "sandbox".into()
        }
    );
    assert_eq!(user_spec("12"), UserSpec::Passwd { user: "12".into() });
    assert_eq!(user_spec("sandbox:staff"), UserSpec::AskContainer);
    assert_eq!(user_spec("12:staff"), UserSpec::AskContainer);
    let passwd = "root:x:0:0:root:/root:/bin/sh\n# comment\nbroken\nsandbox:x:1000:1001::/home/sandbox:/bin/sh\n";
    assert_eq!(
        owner_from_passwd("sandbox", passwd),
        Some(Owner {
            uid: 1000,
            gid: 1001
        })
    );
    assert_eq!(
        owner_from_passwd("1000", passwd),
        Some(Owner {
            uid: 1000,
            gid: 1001
        })
    );
    assert_eq!(
        owner_from_passwd("777", passwd),
        Some(Owner { uid: 777, gid: 0 })
    );
    assert_eq!(owner_from_passwd("ghost", passwd), None);
    assert_eq!(owner_from_passwd("ghost", ""), None);
}

#[test]
fn what_a_stat_says() {
    use crate::api::archive::PathStat;
    let stat = |mode: u32| PathStat {
        mode,
        ..PathStat::default()
    };
    assert_eq!(dest_kind(&stat((1 << 31) | 0o755)), DestKind::Dir);
    assert_eq!(
        dest_kind(&stat(0o640)),
        DestKind::File { mode: Some(0o640) }
    );
    // Go's sticky bit becomes 0o1000; setuid (1 << 23) is not kept.
    assert_eq!(
        dest_kind(&stat((1 << 20) | (1 << 23) | 0o755)),
        DestKind::File { mode: Some(0o1755) }
    );
    assert!(stat_says_missing(&Error::PathNotFound("/x".into())));
    let engine = |status| Error::Engine {
        op: "stat path",
        status,
        message: String::new(),
    };
    assert!(stat_says_missing(&engine(500)));
    assert!(!stat_says_missing(&engine(409)));
    assert!(!stat_says_missing(&Error::ContainerNotFound("c".into())));
    let ro = upload_error(
        Error::Engine {
            op: "put archive",
            status: 500,
            message: "container rootfs is marked read-only".into(),
        },
        "/tmp",
    );
    assert!(
        matches!(&ro, Error::InvalidInput { field: "path", reason } if reason.contains("read-only")),
        "{ro:?}"
    );
    assert!(matches!(
        upload_error(engine(500), "/tmp"),
        Error::Engine { status: 500, .. }
    ));
    assert!(matches!(
        not_a_directory("/a/b", "/a"),
        Error::InvalidInput { field: "path", reason } if reason.contains("Not a directory")
    ));
}

#[test]
fn list_output() {
    let r = exec(
        0,
        b"/tmp//b.txt\0/tmp//a b\0/tmp//.hidden\0/tmp//new\nline\0",
        "",
    );
    assert_eq!(
        parse_list("/tmp", &r).ok(),
        Some(vec![
            ".hidden".to_string(),
            "a b".to_string(),
            "b.txt".to_string(),
            "new\nline".to_string()
        ])
    );
    assert_eq!(parse_list("/e", &exec(0, b"", "")).ok(), Some(vec![]));
    assert!(matches!(
        parse_list("/f", &exec(3, b"", "")),
        Err(Error::InvalidInput { .. })
    ));
    assert!(matches!(
        parse_list("/no", &exec(4, b"", "")),
        Err(Error::PathNotFound(p)) if p == "/no"
    ));
    assert!(matches!(
        parse_list("/x", &exec(1, b"", "find: Permission denied")),
        Err(Error::InvalidInput { .. })
    ));
    let mut big = exec(0, b"/x/a\0", "");
    big.truncated = true;
    assert!(parse_list("/x", &big).is_err());
}

#[test]
fn push_plans_follow_docker_cp() {
    let plan = |is_dir, name, contents, dest, kind| {
        plan_push(is_dir, name, contents, dest, kind).map(|p| (p.extract_dir, p.root_name))
    };
    let s = |v: &str| Some(v.to_string());
    // file
    assert_eq!(
        plan(false, "a.txt", false, "/home/sandbox", DestKind::Dir).ok(),
        Some(("/home/sandbox".into(), s("a.txt")))
    );
    assert_eq!(
        plan(false, "a.txt", false, "/tmp/new.txt", DestKind::Missing).ok(),
        Some(("/tmp".into(), s("new.txt")))
    );
    assert_eq!(
        plan(false, "a.txt", false, "/tmp/newdir/", DestKind::Missing).ok(),
        Some(("/tmp/newdir/".into(), s("a.txt")))
    );
    assert_eq!(
        plan(
            false,
            "a.txt",
            false,
            "/tmp/old.txt",
            DestKind::File { mode: None }
        )
        .ok(),
        Some(("/tmp".into(), s("old.txt")))
    );
    assert_eq!(
        plan(false, "a.txt", false, "/tmp/l", DestKind::Link).ok(),
        Some(("/tmp".into(), s("l")))
    );
    // directory
    assert_eq!(
        plan(true, "proj", false, "/work", DestKind::Dir).ok(),
        Some(("/work".into(), s("proj")))
    );
    assert_eq!(
        plan(true, "proj", false, "/work/copy", DestKind::Missing).ok(),
        Some(("/work".into(), s("copy")))
    );
    assert_eq!(
        plan(true, "proj", true, "/work", DestKind::Dir).ok(),
        Some(("/work".into(), None))
    );
    assert_eq!(
        plan(true, "proj", true, "/new", DestKind::Missing).ok(),
        Some(("/new".into(), None))
    );
    assert!(plan(true, "proj", false, "/f", DestKind::File { mode: None }).is_err());
    assert!(plan(true, "proj", false, "/l", DestKind::Link).is_err());
    assert!(plan(false, "a", false, "/", DestKind::File { mode: None }).is_err());
    assert!(plan(false, "a", false, "/x/..", DestKind::Missing).is_err());
    assert!(plan(false, "a", false, "rel", DestKind::Missing).is_err());
}

#[test]
fn pull_sources() {
    assert_eq!(pull_source("/tmp/x").ok(), Some((Some("x".into()), false)));
    assert_eq!(pull_source("/tmp/x/").ok(), Some((Some("x".into()), false)));
    assert_eq!(pull_source("/tmp/x/.").ok(), Some((None, true)));
    assert!(pull_source("/").is_err());
    assert!(pull_source("/.").is_err());
    assert!(pull_source("/tmp/..").is_err());
    assert!(pull_source("tmp").is_err());
}

#[test]
fn single_file_at_every_split() {
    let a = tar(&[E::F("hello.txt", b"hello world")]);
    for step in [1, 7, 512, 513, 100_000] {
        let (acts, err) = run(&a, step, 1 << 20);
        assert!(err.is_none(), "{err:?}");
        assert_eq!(
            acts,
            vec![
                ExtractAction::TopFile {
                    mode: 0o755,
                    mtime: 7,
                    size: 11
                },
                ExtractAction::Data(Bytes::from_static(b"hello world")),
                ExtractAction::FileEnd,
                ExtractAction::End
            ]
        );
    }
    // A second entry after a single file is refused.
    let (_, err) = run(&tar(&[E::F("a", b"1"), E::F("b", b"2")]), 512, 100);
    assert!(matches!(err, Some(Error::Archive(_))));
}

#[test]
fn caps_are_checked_from_headers() {
    let a = tar(&[E::F("big", &[7u8; 2000])]);
    let (acts, err) = run(&a, 512, 1999);
    assert!(acts.is_empty());
    assert!(matches!(
        err,
        Some(Error::Protocol(ProtocolError::BodyTooLarge(1999)))
    ));
    let a = tar(&[
        E::D("d/"),
        E::F("d/a", &[1u8; 600]),
        E::F("d/b", &[1u8; 600]),
    ]);
    let (acts, err) = run(&a, 512, 1000);
    assert!(matches!(err, Some(Error::Protocol(_))));
    assert!(acts.contains(&ExtractAction::FileEnd));
    let mut x = Extractor::new(1 << 20, 2);
    x.feed(&a);
    let mut n = 0;
    let err = loop {
        match x.next_action() {
            Ok(Some(_)) => n += 1,
            Ok(None) => break None,
            Err(e) => break Some(e),
        }
    };
    assert!(matches!(err, Some(Error::Archive(m)) if m.contains("more than 2")));
    assert!(n >= 2);
}

#[test]
fn directory_entries_are_rebased_and_checked() {
    let a = tar(&[
        E::D("pulldir/"),
        E::D("pulldir/sub/"),
        E::F("pulldir/sub/x.txt", b"x"),
        E::S("pulldir/l", "sub/x.txt"),
        E::H("pulldir/h", "pulldir/sub/x.txt"),
    ]);
    let (acts, err) = run(&a, 100, 1 << 20);
    assert!(err.is_none(), "{err:?}");
    assert_eq!(
        acts,
        vec![
            ExtractAction::TopDir {
                mode: 0o755,
                mtime: 7
            },
            ExtractAction::Dir {
                path: "sub".into(),
                mode: 0o755,
                mtime: 7
            },
            ExtractAction::File {
                path: "sub/x.txt".into(),
                mode: 0o755,
                mtime: 7,
                size: 1
            },
            ExtractAction::Data(Bytes::from_static(b"x")),
            ExtractAction::FileEnd,
            ExtractAction::Symlink {
                path: "l".into(),
                target: "sub/x.txt".into()
            },
            ExtractAction::Hardlink {
                path: "h".into(),
                source: "sub/x.txt".into()
            },
            ExtractAction::End
        ]
    );
    // "./" as the top (a `dir/.` download).
    let (acts, err) = run(&tar(&[E::D("./"), E::F("./a", b"1")]), 512, 10);
    assert!(err.is_none());
    assert!(acts.contains(&ExtractAction::File {
        path: "a".into(),
        mode: 0o755,
        mtime: 7,
        size: 1
    }));
}

#[test]
fn contents_of_a_directory_on_both_engines() {
    let run_contents = |archive: &[u8]| {
        let mut x = Extractor::contents(1 << 20, 100);
        x.feed(archive);
        x.finish();
        let mut out = Vec::new();
        loop {
            match x.next_action() {
                Ok(Some(a)) => out.push(a),
                Ok(None) => return Ok(out),
                Err(e) => return Err(e),
            }
        }
    };
    let file_a = ExtractAction::File {
        path: "sub/a".into(),
        mode: 0o755,
        mtime: 7,
        size: 1,
    };
    // Docker: "./" first. Podman: the children, without a top entry.
    for a in [
        tar(&[E::D("./"), E::D("./sub/"), E::F("./sub/a", b"1")]),
        tar(&[E::D("sub"), E::F("sub/a", b"1")]),
        tar(&[E::F("sub/a", b"1")]),
    ] {
        let acts = run_contents(&a).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            matches!(acts.first(), Some(ExtractAction::TopDir { .. })),
            "{acts:?}"
        );
        assert!(acts.contains(&file_a), "{acts:?}");
        assert_eq!(acts.last(), Some(&ExtractAction::End));
    }
    // An empty directory may come as an empty archive.
    assert_eq!(
        run_contents(&END_OF_ARCHIVE).ok(),
        Some(vec![
            ExtractAction::TopDir {
                mode: 0o755,
                mtime: 0
            },
            ExtractAction::End
        ])
    );
    // Escapes are refused there too, also as the very first entry.
    for a in [
        tar(&[E::F("../x", b"1")]),
        tar(&[E::F("/abs", b"1")]),
        tar(&[E::S("l", "../..")]),
    ] {
        assert!(matches!(run_contents(&a), Err(Error::Archive(_))));
    }
}

#[test]
fn write_file_archive_is_one_whole_entry() {
    assert_eq!(
        write_target("/a/b.txt").ok(),
        Some(("/a".to_string(), "b.txt".to_string()))
    );
    for bad in ["/", "/a/", "/a/..", "rel", "/a/."] {
        assert!(write_target(bad).is_err(), "{bad}");
    }
    let prep = |kind| Prepared {
        uid: 1000,
        gid: 1000,
        kind,
    };
    let data = vec![7u8; UPLOAD_CHUNK + 10];
    let (total, pieces) = write_file_archive("/a/b", "b", &[], &data, &prep(DestKind::Missing), 0)
        .unwrap_or_else(|e| panic!("{e}"));
    let bytes: Vec<u8> = pieces.flat_map(|b| b.to_vec()).collect();
    assert_eq!(bytes.len() as u64, total);
    assert_eq!(total % 512, 0);
    let mut reader = TarReader::new();
    reader.feed(&bytes);
    let mut file = None;
    while let Some(ev) = reader.next_event().unwrap_or_else(|e| panic!("{e}")) {
        if let TarEvent::Entry(h) = ev {
            file = Some((h.path.clone(), h.mode, h.uid, h.size));
        }
    }
    assert_eq!(file, Some(("b".into(), 0o644, 1000, data.len() as u64)));
    let kept = write_file_archive(
        "/a/b",
        "b",
        &[],
        b"x",
        &prep(DestKind::File { mode: Some(0o4755) }),
        0,
    );
    let (_, pieces) = kept.unwrap_or_else(|e| panic!("{e}"));
    let head: Vec<u8> = pieces.take(1).flat_map(|b| b.to_vec()).collect();
    assert_eq!(head.get(100..107), Some(&b"0000755"[..]), "setuid dropped");
    assert!(write_file_archive("/a/b", "b", &[], b"x", &prep(DestKind::Dir), 0).is_err());
}

/// The parents a write creates are entries of its archive, before the file, outermost first,
/// each `0755` and the default user's.
#[test]
fn write_file_archive_creates_missing_parents_as_the_owner() {
    let prep = Prepared {
        uid: 1000,
        gid: 1001,
        kind: DestKind::Missing,
    };
    let missing = vec!["a".to_string(), "b c".to_string()];
    let (total, pieces) = write_file_archive("/t/a/b c/f", "f", &missing, b"data", &prep, 7)
        .unwrap_or_else(|e| panic!("{e}"));
    let bytes: Vec<u8> = pieces.flat_map(|b| b.to_vec()).collect();
    assert_eq!(bytes.len() as u64, total);
    let mut reader = TarReader::new();
    reader.feed(&bytes);
    let mut entries = Vec::new();
    while let Some(ev) = reader.next_event().unwrap_or_else(|e| panic!("{e}")) {
        if let TarEvent::Entry(h) = ev {
            entries.push((h.path.clone(), h.mode, h.uid, h.gid, h.mtime));
        }
    }
    assert_eq!(
        entries,
        [
            ("a/".to_string(), 0o755, 1000, 1001, 7),
            ("a/b c/".to_string(), 0o755, 1000, 1001, 7),
            ("a/b c/f".to_string(), 0o644, 1000, 1001, 7),
        ]
    );
    let owner = Owner { uid: 5, gid: 6 };
    assert_eq!(parent_entries(&[], owner, 0).ok(), Some(Vec::new()));
    assert_eq!(archive_prefix(&missing), "a/b c");
    assert_eq!(under_prefix("", "x"), "x");
    assert_eq!(under_prefix("a/b", "x"), "a/b/x");
}

#[test]
fn escapes_are_refused() {
    let cases: Vec<Vec<u8>> = vec![
        tar(&[E::D("d/"), E::F("d/../../x", b"1")]),
        tar(&[E::D("d/"), E::F("/abs/x", b"1")]),
        tar(&[E::D("d/"), E::F("other/x", b"1")]),
        tar(&[E::D("d/"), E::S("d/evil", "../../..")]),
        tar(&[E::D("d/"), E::S("d/evil", "..")]),
        tar(&[E::D("d/"), E::S("d/evil", "/etc")]),
        tar(&[E::D("d/"), E::S("d/e", "."), E::F("d/e/x", b"1")]),
        tar(&[E::D("d/"), E::H("d/h", "../../etc/passwd")]),
        tar(&[E::D("d/"), E::H("d/h", "/etc/passwd")]),
        tar(&[E::D("d/"), E::H("d/h", "e/x")]),
        tar(&[E::D("d/"), E::F("d", b"1")]),
        tar(&[E::F("../x", b"1")]),
        tar(&[E::F("a/b", b"1")]),
    ];
    for (i, a) in cases.iter().enumerate() {
        let (_, err) = run(a, 512, 1 << 20);
        assert!(matches!(err, Some(Error::Archive(_))), "case {i}: {err:?}");
    }
    let (_, err) = run(&[], 512, 10);
    assert!(matches!(err, Some(Error::Archive(_))));
}

#[test]
fn top_symlink_and_other() {
    let (acts, _) = run(&tar(&[E::S("python3", "python3.11")]), 512, 10);
    assert_eq!(
        acts.first(),
        Some(&ExtractAction::TopSymlink {
            target: "python3.11".into()
        })
    );
}
