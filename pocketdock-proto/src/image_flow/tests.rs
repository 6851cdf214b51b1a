//! Unit tests of the image contexts, compression, archive check and export plans.

use super::*;
use crate::error::{Error, Result};
use crate::tar::{
    header_for_dir, header_for_file, header_for_symlink, padding, TarEvent, TarReader,
    END_OF_ARCHIVE,
};

fn file(path: &str, data: &[u8]) -> Vec<u8> {
    let mut out = header_for_file(path, data.len() as u64, &context_meta(0o644, 0))
        .unwrap_or_else(|e| panic!("{e}"));
    out.extend_from_slice(data);
    out.extend_from_slice(padding(data.len() as u64));
    out
}

fn image_archive(manifest_first: bool) -> Vec<u8> {
    let manifest = br#"[{"Config":"c1.json","RepoTags":["a:latest"],"Layers":["l1/layer.tar"]},
        {"Config":"c2.json","RepoTags":["b:1","b:2"],"Layers":["l1/layer.tar","l2/layer.tar"]}]"#;
    let mut a = Vec::new();
    if manifest_first {
        a.extend(file("manifest.json", manifest));
    }
    a.extend(header_for_dir("l1", &context_meta(0o755, 0)).unwrap_or_default());
    a.extend(file("l1/layer.tar", &[7u8; 3000]));
    a.extend(file("c1.json", b"{}"));
    a.extend(
        header_for_symlink("l2/layer.tar", "../l1/layer.tar", &context_meta(0o777, 0))
            .unwrap_or_default(),
    );
    a.extend(file("c2.json", b"{}"));
    if !manifest_first {
        a.extend(file("./manifest.json", manifest));
    }
    a.extend(file("repositories", b"{}"));
    a.extend_from_slice(&END_OF_ARCHIVE);
    a
}

fn check(data: &[u8], split: usize) -> Result<ArchiveSummary> {
    let mut c = ArchiveCheck::new();
    for piece in data.chunks(split.max(1)) {
        c.feed(piece)?;
    }
    c.finish()
}

#[test]
fn complete_archives_pass_at_every_split() {
    for first in [false, true] {
        let a = image_archive(first);
        for split in [1, 7, 512, 513, 4096, a.len()] {
            let s = check(&a, split).unwrap_or_else(|e| panic!("split {split}: {e}"));
            assert_eq!(s.repo_tags(), ["a:latest", "b:1", "b:2"]);
            assert_eq!(s.images.len(), 2);
            assert_eq!(s.entries, 7);
            assert_eq!(s.bytes, a.len() as u64);
        }
    }
}

#[test]
fn truncated_archives_fail_at_every_cut() {
    for first in [false, true] {
        let a = image_archive(first);
        // Every cut before the end-of-archive marker fails; cuts inside the marker are fine
        // (the content is complete).
        let marker = a.len() - END_OF_ARCHIVE.len();
        for cut in (0..marker).step_by(97).chain([marker - 1, 1, 511, 512]) {
            let got = check(&a[..cut], 100);
            assert!(
                matches!(got, Err(Error::Archive(_))),
                "first={first} cut {cut}: {got:?}"
            );
        }
        assert!(check(&a[..marker], 100).is_ok());
    }
}

#[test]
fn inconsistent_or_foreign_archives_fail() {
    let msg = |r: Result<ArchiveSummary>| match r {
        Err(Error::Archive(m)) => m,
        other => panic!("{other:?}"),
    };
    let mut no_layer = file(
        "manifest.json",
        br#"[{"Config":"c.json","RepoTags":[],"Layers":["x/layer.tar"]}]"#,
    );
    no_layer.extend(file("c.json", b"{}"));
    no_layer.extend_from_slice(&END_OF_ARCHIVE);
    assert!(msg(check(&no_layer, 64)).contains("x/layer.tar"));

    let mut plain = file("hello.txt", b"hi");
    plain.extend_from_slice(&END_OF_ARCHIVE);
    assert!(msg(check(&plain, 64)).contains("no manifest.json"));

    let mut bad_json = file("manifest.json", b"[{");
    bad_json.extend_from_slice(&END_OF_ARCHIVE);
    assert!(msg(check(&bad_json, 64)).contains("not valid JSON"));

    let mut empty_list = file("manifest.json", b"[]");
    empty_list.extend_from_slice(&END_OF_ARCHIVE);
    assert!(msg(check(&empty_list, 64)).contains("no image"));

    assert!(check(&[0u8; 1024], 64).is_err(), "only a marker");
    assert!(check(b"", 64).is_err());
    assert!(check(&[b'x'; 4096], 64).is_err(), "not a tar");

    let mut oci = file("oci-layout", b"{}");
    oci.extend(file("index.json", b"{}"));
    oci.extend_from_slice(&END_OF_ARCHIVE);
    assert!(check(&oci, 64).is_ok_and(|s| s.images.is_empty()));
}

#[test]
fn compression_is_detected_by_content() {
    assert_eq!(
        Compression::detect(&[0x1f, 0x8b, 8, 0]).ok(),
        Some(Compression::Gzip)
    );
    assert_eq!(Compression::detect(b"ustar").ok(), Some(Compression::None));
    assert_eq!(Compression::detect(&[0x1f]).ok(), Some(Compression::None));
    for (head, what) in [
        (&b"BZh91AY"[..], "bzip2"),
        (&[0xfd, b'7', b'z', b'X', b'Z', 0][..], "xz"),
        (&[0x28, 0xb5, 0x2f, 0xfd, 0][..], "zstd"),
    ] {
        match Compression::detect(head) {
            Err(Error::Archive(m)) => assert!(m.starts_with(what), "{m}"),
            other => panic!("{other:?}"),
        }
    }
    assert!(Compression::detect(b"").is_err());
    assert!(gzip_for_path(std::path::Path::new("/x/images.tar.gz")));
    assert!(gzip_for_path(std::path::Path::new("a.TGZ")));
    assert!(!gzip_for_path(std::path::Path::new("a.tar")));
    assert!(!gzip_for_path(std::path::Path::new("gz")));
}

fn gunzip_all(data: &[u8], split: usize) -> Result<Vec<u8>> {
    let mut d = GzipDecoder::new();
    let mut out = Vec::new();
    for piece in data.chunks(split.max(1)) {
        let mut rest = piece;
        while !rest.is_empty() {
            let (n, o) = d.decode(rest)?;
            assert!(n > 0);
            assert!(o.len() <= 64 * 1024, "bounded output per call");
            out.extend_from_slice(&o);
            rest = rest.get(n..).unwrap_or_default();
        }
    }
    out.extend_from_slice(&d.finish()?);
    Ok(out)
}

fn gzip_all(data: &[u8], split: usize) -> Vec<u8> {
    let mut e = GzipEncoder::new();
    let mut out = Vec::new();
    for piece in data.chunks(split.max(1)) {
        out.extend_from_slice(&e.encode(piece).unwrap_or_else(|e| panic!("{e}")));
    }
    out.extend_from_slice(&e.finish().unwrap_or_else(|e| panic!("{e}")));
    out
}

#[test]
fn gzip_round_trips_and_refuses_damage() {
    let plain: Vec<u8> = (0..300_000u32)
        .map(|i| (i % 251) as u8 ^ (i / 7) as u8)
        .collect();
    let gz = gzip_all(&plain, 10_000);
    assert_eq!(Compression::detect(&gz).ok(), Some(Compression::Gzip));
    for split in [1usize, 100, 65536, gz.len()] {
        if split == 1 && gz.len() > 50_000 {
            // byte-by-byte over a shorter prefix member is enough
            continue;
        }
        assert_eq!(gunzip_all(&gz, split).ok().as_deref(), Some(&plain[..]));
    }
    // Two members decode as their concatenation.
    let mut two = gzip_all(b"hello ", 3);
    two.extend(gzip_all(b"world", 2));
    assert_eq!(
        gunzip_all(&two, 1).ok().as_deref(),
        Some(&b"hello world"[..])
    );
    // Truncation anywhere is an error, never a short success.
    for cut in (1..gz.len())
        .step_by(gz.len() / 23)
        .chain([gz.len() - 1, gz.len() - 4])
    {
        assert!(
            matches!(gunzip_all(&gz[..cut], 4096), Err(Error::Archive(_))),
            "cut {cut}"
        );
    }
    // A flipped byte in the data or the checksum is an error.
    for at in [gz.len() / 2, gz.len() - 6] {
        let mut bad = gz.clone();
        bad[at] ^= 0x55;
        assert!(gunzip_all(&bad, 4096).is_err(), "flip at {at}");
    }
    // A zip bomb stays bounded per call.
    let zeros = gzip_all(&vec![0u8; 20 << 20], 1 << 20);
    assert!(zeros.len() < 100_000);
    assert_eq!(
        gunzip_all(&zeros, 8192).map(|v| v.len()).ok(),
        Some(20 << 20)
    );
}

#[test]
fn export_plans() {
    let p = ExportPlan::new(&["a", "b:1", "a"]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p.names(), ["a", "b:1"]);
    assert_eq!(p.request().target, "/images/get?names=a&names=b%3A1");
    assert!(ExportPlan::new::<&str>(&[]).is_err());
    for bad in ["", "a b", "a\n"] {
        assert!(ExportPlan::new(&[bad]).is_err(), "{bad:?}");
    }
}

#[test]
fn embedded_contexts_are_complete_and_tar_cleanly() {
    assert_eq!(
        embedded_contexts()
            .iter()
            .map(|c| c.profile)
            .collect::<Vec<_>>(),
        crate::profile::list_profiles()
            .iter()
            .map(|p| p.name)
            .collect::<Vec<_>>()
    );
    for ctx in embedded_contexts() {
        let df = ctx.dockerfile();
        for needle in [
            "ARG BASE=",
            "FROM ${BASE}",
            "USER sandbox",
            "WORKDIR /home/sandbox",
            "trap 'exit 0' TERM",
        ] {
            assert!(df.contains(needle), "{}: no {needle:?}", ctx.profile);
        }
        let tar = ctx.tar().unwrap_or_else(|e| panic!("{e}"));
        let mut r = TarReader::new();
        r.feed(&tar);
        r.finish();
        let mut paths = Vec::new();
        while let Some(ev) = r.next_event().unwrap_or_else(|e| panic!("{e}")) {
            if let TarEvent::Entry(h) = ev {
                assert_eq!((h.uid, h.gid, h.mtime), (0, 0, 0));
                paths.push(h.path);
            }
        }
        assert_eq!(paths.first().map(String::as_str), Some("Dockerfile"));
        if ctx.profile == "minimal-python" {
            assert_eq!(
                paths,
                [
                    "Dockerfile",
                    ".dockerignore",
                    "demo/",
                    "demo/README.md",
                    "demo/index.html",
                    "demo/serve.py",
                    "setup/",
                    "setup/system-packages.sh",
                    "setup/python-packages.sh",
                    "setup/sandbox-user.sh",
                ]
            );
        }
    }
    // Every profile runs the shared setup scripts (one copy, in images/setup/) and makes
    // its sandbox user with them.
    for ctx in embedded_contexts() {
        let df = ctx.dockerfile();
        for needle in [
            "COPY setup/ /tmp/pocketdock-setup/",
            "RUN sh /tmp/pocketdock-setup/sandbox-user.sh && rm -rf /tmp/pocketdock-setup",
            "/tmp/pocketdock-setup/system-packages.sh",
        ] {
            assert!(df.contains(needle), "{}: no {needle:?}", ctx.profile);
        }
    }
    assert!(embedded_context("nope").is_err());
    assert_eq!(embedded_context("dev").map(|c| c.profile).ok(), Some("dev"));
}

/// The embedded files are exactly the files of `images/<profile>/` and `images/setup/`
/// (same bytes, same executable bit).
#[test]
fn embedded_contexts_match_the_images_folders() {
    use std::os::unix::fs::PermissionsExt;
    fn walk(dir: &std::path::Path, base: &std::path::Path, out: &mut Vec<(String, u32)>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .filter_map(std::result::Result::ok)
            .collect();
        entries.sort_by_key(std::fs::DirEntry::path);
        for e in entries {
            let p = e.path();
            let name = e.file_name().to_string_lossy().to_string();
            // What the contexts' .dockerignore files leave out.
            if name == "__pycache__" || p.extension().is_some_and(|e| e.eq_ignore_ascii_case("pyc"))
            {
                continue;
            }
            if p.is_dir() {
                walk(&p, base, out);
            } else {
                let rel = p
                    .strip_prefix(base)
                    .map(|r| r.to_string_lossy().to_string())
                    .unwrap_or_default();
                // Git keeps only the executable bit; the rest depends on the umask.
                let mode = std::fs::metadata(&p).map_or(0, |m| m.permissions().mode());
                out.push((rel, if mode & 0o100 == 0 { 0o644 } else { 0o755 }));
            }
        }
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../images");
    let mut setup = Vec::new();
    walk(&root.join("setup"), &root, &mut setup);
    assert!(!setup.is_empty());
    for ctx in embedded_contexts() {
        let dir = root.join(ctx.profile);
        let mut on_disk = Vec::new();
        walk(&dir, &dir, &mut on_disk);
        on_disk.extend(setup.iter().cloned());
        on_disk.sort();
        let mut embedded: Vec<(String, u32)> = ctx
            .files
            .iter()
            .map(|f| (f.path.to_string(), f.mode))
            .collect();
        embedded.sort();
        assert_eq!(embedded, on_disk, "{}: embed every file", ctx.profile);
        for f in ctx.files {
            let from = if f.path.starts_with("setup/") {
                &root
            } else {
                &dir
            };
            let bytes = std::fs::read(from.join(f.path)).unwrap_or_default();
            assert_eq!(bytes, f.data, "{}/{}", ctx.profile, f.path);
        }
    }
}
