//! Image commands: build, export, import. Long work shows progress on stderr when it is a
//! terminal.

use std::collections::VecDeque;

use pocketdock_blocking::{list_profiles, resolve_profile, BuildContext, BuildOptions, Error};
use pocketdock_proto::build_retry::NOTE_PREFIX;

use crate::cli::{BuildArgs, ExportArgs, ImportArgs};
use crate::commands::{Ctx, Failure, Outcome};
use crate::output::{self, short};
use crate::{progress, vlog};

/// Lines of build output kept to show when a build fails.
const FAILURE_CONTEXT_LINES: usize = 15;

/// `KEY=VALUE` options given as `flag`, split (an empty VALUE is kept; an empty KEY is refused).
fn key_values(flag: &str, given: &[String]) -> Result<Vec<(String, String)>, Failure> {
    given
        .iter()
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => Err(Failure::Usage(format!("{flag} {kv:?} is not KEY=VALUE"))),
        })
        .collect()
}

/// `build [PROFILE...] [--all] [--base IMAGE] [--tag TAG] [--build-arg KEY=VALUE...]`.
pub fn build(ctx: &Ctx, a: &BuildArgs) -> Outcome {
    let names: Vec<String> = if a.profiles.is_empty() || a.all {
        list_profiles().iter().map(|p| p.name.to_string()).collect()
    } else {
        a.profiles.clone()
    };
    // Every name is checked before anything is built.
    let profiles = names
        .iter()
        .map(|n| resolve_profile(n))
        .collect::<Result<Vec<_>, Error>>()?;
    if a.tag.is_some() && profiles.len() != 1 {
        return Err(Failure::Usage("--tag needs exactly one profile".into()));
    }
    let labels = key_values("--label", &a.labels)?;
    let build_args = key_values("--build-arg", &a.args)?;
    let engine = ctx.engine()?;
    for p in profiles {
        let tag = a.tag.clone().unwrap_or_else(|| p.image_tag.to_string());
        println!("Building {tag} ...");
        let mut options = BuildOptions::tagged(&tag);
        options.build_args.extend(build_args.iter().cloned());
        if let Some(base) = &a.base {
            options.build_args.insert("BASE".into(), base.clone());
        }
        options.labels.extend(labels.iter().cloned());
        options
            .labels
            .insert("pocketdock.profile".into(), p.name.into());
        options.no_cache = a.no_cache;
        let pb = progress::spinner(format!("building {tag}"));
        let mut recent: VecDeque<String> = VecDeque::new();
        let built = engine.build_image(&BuildContext::profile(p.name), &options, |ev| {
            let Some(text) = ev.stream.as_deref().or(ev.status.as_deref()) else {
                return;
            };
            for line in text.lines().map(str::trim_end).filter(|l| !l.is_empty()) {
                if line.starts_with("Step ") || line.starts_with("STEP ") {
                    pb.set_message(format!("{tag}: {}", short(line, 70)));
                }
                if line.starts_with(NOTE_PREFIX) {
                    // pocketdock's own note (a build run again after an engine race) is always
                    // shown.
                    pb.suspend(|| eprintln!("{line}"));
                } else if output::is_verbose() {
                    pb.suspend(|| eprintln!("  | {line}"));
                }
                if recent.len() == FAILURE_CONTEXT_LINES {
                    recent.pop_front();
                }
                recent.push_back(line.to_string());
            }
        });
        pb.finish_and_clear();
        match built {
            Ok(b) => output::success(&format!("Built {tag} ({})", short(&b.id, 19))),
            Err(e) => {
                if !output::is_verbose() && !recent.is_empty() {
                    eprintln!("Last lines of the build output:");
                    for l in &recent {
                        eprintln!("  | {l}");
                    }
                }
                return Err(e.into());
            }
        }
    }
    Ok(0)
}

/// `export (--image I | --profile P | --all) -o PATH`: every image in one archive.
pub fn export(ctx: &Ctx, a: &ExportArgs) -> Outcome {
    let mut images: Vec<String> = a.image.clone();
    for p in &a.profile {
        images.push(resolve_profile(p)?.image_tag.to_string());
    }
    let engine = ctx.engine()?;
    if a.all {
        for p in list_profiles() {
            match engine.inspect_image(p.image_tag) {
                Ok(_) => images.push(p.image_tag.to_string()),
                Err(Error::ImageNotFound(_)) => {
                    vlog!("{} is not built: not exported", p.image_tag);
                }
                Err(e) => return Err(e.into()),
            }
        }
        if images.is_empty() {
            return Err(Failure::msg(
                "no profile image is built: nothing to export",
                Some("build them first with 'pocketdock build'"),
            ));
        }
    }
    let gzip = a
        .output
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("gz"));
    println!("Exporting {} ...", images.join(", "));
    let pb = progress::bytes(format!("exporting to {}", a.output.display()), None);
    let bar = pb.clone();
    let done = engine.export_images_with(&images, &a.output, gzip, |n| bar.set_position(n));
    pb.finish_and_clear();
    let done = done?;
    output::success(&format!(
        "Exported to {} ({} image(s), {}{})",
        done.path.display(),
        done.images.len().max(images.len()),
        progress::human_bytes(done.file_bytes),
        if done.gzip { ", gzip" } else { "" }
    ));
    Ok(0)
}

/// `import FILE`.
pub fn import(ctx: &Ctx, a: &ImportArgs) -> Outcome {
    let engine = ctx.engine()?;
    let size = std::fs::metadata(&a.file).ok().map(|m| m.len());
    println!("Importing from {} ...", a.file.display());
    let pb = progress::bytes(format!("importing {}", a.file.display()), size);
    let bar = pb.clone();
    let loaded = engine.import_images_with(&a.file, move |n| bar.set_position(n));
    pb.finish_and_clear();
    let loaded = loaded?;
    output::success(&format!("Imported from {}", a.file.display()));
    for l in &loaded {
        println!("  {l}");
    }
    Ok(0)
}
