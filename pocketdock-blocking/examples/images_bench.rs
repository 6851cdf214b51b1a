//! Benchmark (not a test): client memory and time of image build, export and import.
//!
//! ```text
//! images_bench build  TAG MIB         build TAG FROM pocketdock/busybox with MIB MiB of random data
//! images_bench export PATH gzip|tar IMAGE...   save IMAGE... into one archive at PATH
//! images_bench import PATH            load every image of PATH
//! images_bench remove IMAGE           remove IMAGE
//! ```
//!
//! The engine comes from `POCKETDOCK_SOCKET` (or auto-detection). Each run prints one line with
//! the sizes, the time and the process's peak RSS (`VmHWM` of `/proc/self/status`).
//! `scripts/bench-images.sh` runs it on both engines with a ~200 MB image.

use std::time::Instant;

use pocketdock_blocking::{BuildContext, BuildOptions, Engine, Error, Result};

#[path = "support/measure.rs"]
mod measure;

use measure::peak_rss_kib;

fn usage() -> Error {
    Error::invalid(
        "arguments",
        "images_bench build TAG MIB | export PATH gzip|tar IMAGE... | import PATH | remove IMAGE",
    )
}

fn main() -> Result<()> {
    let engine = Engine::detect()?;
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| args.get(i).map(String::as_str).ok_or_else(usage);
    let t0 = Instant::now();
    let what = match arg(0)? {
        "build" => {
            let tag = arg(1)?;
            let mib: u32 = arg(2)?.parse().map_err(|_| usage())?;
            let dir = std::env::temp_dir().join(format!("pocketdock-bench-{}", std::process::id()));
            std::fs::create_dir_all(&dir)?;
            std::fs::write(
                dir.join("Dockerfile"),
                format!(
                    "FROM pocketdock/busybox\n\
                     RUN dd if=/dev/urandom of=/payload bs=1048576 count={mib} 2>/dev/null\n"
                ),
            )?;
            let mut lines = 0usize;
            let r =
                engine.build_image(&BuildContext::dir(&dir), &BuildOptions::tagged(tag), |_| {
                    lines += 1;
                });
            let _ = std::fs::remove_dir_all(&dir);
            let built = r?;
            format!("build {tag}: {} ({lines} progress events)", built.id)
        }
        "export" => {
            let path = arg(1)?;
            let gzip = match arg(2)? {
                "gzip" => true,
                "tar" => false,
                _ => return Err(usage()),
            };
            let images: Vec<&str> = args.iter().skip(3).map(String::as_str).collect();
            let e = engine.export_images(&images, path, gzip)?;
            format!(
                "export {} image(s) to {path}: tar {} MiB, file {} MiB",
                e.images.len(),
                e.tar_bytes >> 20,
                e.file_bytes >> 20
            )
        }
        "import" => {
            let path = arg(1)?;
            let size = std::fs::metadata(path).map_or(0, |m| m.len());
            let names = engine.import_images(path)?;
            format!("import {path} ({} MiB): {}", size >> 20, names.join(", "))
        }
        "remove" => {
            let image = arg(1)?;
            engine.remove_image(image, true)?;
            format!("remove {image}")
        }
        _ => return Err(usage()),
    };
    println!(
        "{what} in {:.1} s; peak RSS {} KiB",
        t0.elapsed().as_secs_f64(),
        peak_rss_kib()
    );
    Ok(())
}
