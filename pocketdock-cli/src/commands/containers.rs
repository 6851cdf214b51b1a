//! Container commands: list, info, create, reboot, stop, resume, shutdown, snapshot, prune.
//!
//! Only `resume` (and `reboot`, which restarts by definition) ever starts a stopped container:
//! every other command finds the container with [`Engine::attach`] / `find_container`.

use std::time::Instant;

use pocketdock_blocking::{ContainerListItem, ContainerSpec};
use pocketdock_proto::api::containers::ContainerInspect;
use pocketdock_proto::spec::NetworkMode;

use crate::cli::{
    CreateArgs, InfoArgs, ListArgs, PruneArgs, RebootArgs, ShutdownArgs, SnapshotArgs,
};
use crate::commands::{confirm, engine_origin, require_terminal, Ctx, Outcome};
use crate::output::{self, short, Cell, Color};
use crate::vlog;

/// Label holding a container's default `run` timeout in seconds (set by `create --timeout`).
pub const LABEL_TIMEOUT: &str = "pocketdock-cli.timeout";

/// Default `run` timeout when the container has no label (the Python pocketdock's 30 s).
pub const DEFAULT_TIMEOUT_SECS: u64 = 30;

/// One row of `list --json`: the Python pocketdock's seven keys, then the full id.
#[derive(Debug, serde::Serialize)]
struct ListRow<'a> {
    id: &'a str,
    name: &'a str,
    status: &'a str,
    image: &'a str,
    created_at: &'a str,
    persist: bool,
    project: &'a str,
    full_id: &'a str,
}

impl<'a> From<&'a ContainerListItem> for ListRow<'a> {
    fn from(i: &'a ContainerListItem) -> Self {
        Self {
            id: &i.id,
            name: &i.name,
            status: &i.status,
            image: &i.image,
            created_at: &i.created_at,
            persist: i.persist,
            project: &i.project,
            full_id: &i.full_id,
        }
    }
}

fn status_cell(status: &str) -> Cell {
    Cell::colored(
        status,
        if status == "running" {
            Color::Green
        } else {
            Color::Yellow
        },
    )
}

/// `list [--json] [--project P]`.
pub fn list(ctx: &Ctx, a: &ListArgs) -> Outcome {
    let items = ctx.engine()?.list_containers(a.project.as_deref())?;
    vlog!("{} container(s)", items.len());
    if a.json {
        let rows: Vec<ListRow<'_>> = items.iter().map(ListRow::from).collect();
        output::json(&rows)?;
    } else if items.is_empty() {
        println!("No containers found.");
    } else {
        let rows: Vec<Vec<Cell>> = items
            .iter()
            .map(|i| {
                vec![
                    Cell::from(i.name.as_str()),
                    Cell::from(i.id.as_str()),
                    status_cell(&i.status),
                    Cell::from(i.image.as_str()),
                    Cell::from(if i.persist { "yes" } else { "no" }),
                    Cell::from(i.project.as_str()),
                ]
            })
            .collect();
        output::table(
            &["NAME", "ID", "STATUS", "IMAGE", "PERSIST", "PROJECT"],
            &rows,
        );
    }
    Ok(0)
}

/// `info CONTAINER [--json]`: never starts a stopped container.
pub fn info(ctx: &Ctx, a: &InfoArgs) -> Outcome {
    let engine = ctx.engine()?;
    let c = engine.attach(&a.container)?;
    vlog!("container {} is {}", a.container, c.id());
    let mut i = c.info()?;
    i.agent = Some(crate::relay::describe(c.id()));
    if a.json {
        output::json(&i)?;
        return Ok(0);
    }
    let color = output::stdout_color();
    let mut rows = vec![
        ("ID", short(&i.id, 12).to_string()),
        ("Name", i.name.clone()),
        (
            "Status",
            match i.uptime {
                Some(u) => format!(
                    "{} (up {})",
                    status_cell(&i.status)
                        .color
                        .map_or(i.status.clone(), |c| c.paint(&i.status, color)),
                    human_duration(u)
                ),
                None => status_cell(&i.status)
                    .color
                    .map_or(i.status.clone(), |c| c.paint(&i.status, color)),
            },
        ),
        ("Image", i.image.clone()),
        ("Created", i.created_at.clone()),
    ];
    if !i.memory_usage.is_empty() {
        rows.push((
            "Memory",
            format!(
                "{} / {} ({:.1}%)",
                i.memory_usage, i.memory_limit, i.memory_percent
            ),
        ));
    }
    if i.status == "running" {
        rows.push(("CPU", format!("{:.1}%", i.cpu_percent)));
    }
    if i.pids > 0 {
        rows.push(("PIDs", i.pids.to_string()));
    }
    rows.push((
        "Network",
        match (i.network, i.ip_address.is_empty()) {
            (false, _) => "off".to_string(),
            (true, true) => "on".to_string(),
            (true, false) => format!("on ({})", i.ip_address),
        },
    ));
    if !i.ports.is_empty() {
        let ports: Vec<String> = i
            .ports
            .iter()
            .map(|(h, c)| format!("{h}->{c}/tcp"))
            .collect();
        rows.push(("Ports", ports.join(", ")));
    }
    if let Some(l) = &i.limits {
        limit_rows(l, &mut rows);
    }
    rows.push(("Engine", engine_origin(&engine)));
    if let Some(path) = &i.agent {
        rows.push(("Commands", path.to_string()));
    }
    output::fields(&i.name, &rows);
    if !i.processes.is_empty() {
        println!("  Processes:");
        for p in &i.processes {
            let pid = p.get("PID").unwrap_or("?");
            let cmd = p
                .get("COMMAND")
                .or_else(|| p.get("CMD"))
                .unwrap_or_default();
            println!("    {pid:>6}  {cmd}");
        }
    }
    Ok(0)
}

/// The rows of `info` that say what the sandbox enforces.
fn limit_rows(l: &pocketdock_blocking::LimitsReport, rows: &mut Vec<(&'static str, String)>) {
    if !l.verified {
        rows.push((
            "Limits",
            format!(
                "not verified: {}",
                l.probe_error.as_deref().unwrap_or("unknown")
            ),
        ));
        return;
    }
    let bytes = |r: pocketdock_blocking::Reading| match r.limit() {
        Some(n) => pocketdock_proto::spec::format_bytes(n),
        None => r.to_string(),
    };
    rows.push((
        "Limits",
        format!(
            "memory {}, swap {}, pids {}, cpu {} (cgroup {:?})",
            bytes(l.memory),
            bytes(l.swap),
            l.pids,
            l.cpu_percent()
                .map_or_else(|| l.cpu_quota_us.to_string(), |p| format!("{p:.0}%")),
            l.cgroup
        ),
    ));
    rows.push((
        "Privileges",
        format!(
            "capabilities {:?}, no_new_privs {}",
            l.bounding_caps(),
            l.no_new_privs
                .map_or("unknown", |b| if b { "on" } else { "off" })
        ),
    ));
    rows.push((
        "Way out",
        if l.network_isolated() {
            "none (lo only, no default route)".to_string()
        } else {
            format!(
                "interfaces {}, default route {}",
                l.interfaces.join(" "),
                if l.default_route { "yes" } else { "no" }
            )
        },
    ));
    for p in &l.ports {
        rows.push((
            "Bound port",
            format!("{}:{} -> {}", p.host_ip, p.host_port, p.container),
        ));
    }
    for u in &l.unenforced {
        rows.push(("NOT ENFORCED", u.to_string()));
    }
}

/// What a look for orphans did, one line each.
pub fn print_reaped(r: &pocketdock_blocking::ReapReport) {
    for c in &r.containers {
        println!("  reaped container {} ({})", c.name, c.reason);
    }
    for c in &r.commands {
        println!(
            "  killed {} process(es) left by gone process {} in {}",
            c.processes,
            c.owner_pid,
            short(&c.container, 12)
        );
    }
    for e in &r.errors {
        output::warn(&format!("reaping: {e}"));
    }
}

/// `1h 2m 3s` style.
fn human_duration(secs: f64) -> String {
    #[expect(clippy::cast_sign_loss, reason = "clamped to zero first")]
    let s = secs.max(0.0) as u64;
    let (d, h, m, s) = (s / 86_400, s / 3600 % 24, s / 60 % 60, s % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) => format!("{m}m {s}s"),
        (0, _, _) => format!("{h}h {m}m"),
        _ => format!("{d}d {h}h"),
    }
}

/// `create ...`.
pub fn create(ctx: &Ctx, a: &CreateArgs) -> Outcome {
    let mut spec = ContainerSpec::new();
    spec.image.clone_from(&a.image);
    spec.name.clone_from(&a.name);
    spec.mem_limit.clone_from(&a.mem_limit);
    spec.cpu_percent = a.cpu_percent;
    spec.persist = a.persist.then_some(true);
    spec.project.clone_from(&a.project);
    spec.profile.clone_from(&a.profile);
    spec.devices.clone_from(&a.devices);
    spec.workdir.clone_from(&a.workdir);
    spec.user.clone_from(&a.user);
    spec.volumes.clone_from(&a.volumes);
    spec.ports.clone_from(&a.ports);
    spec.env.clone_from(&a.env);
    if a.network {
        spec.network = Some(NetworkMode::Bridge);
    } else if a.no_network {
        spec.network = Some(NetworkMode::Off);
    }
    spec.ttl = a.ttl.map(std::time::Duration::from_secs);
    spec.allow_unenforced_limits = a.allow_unenforced_limits;
    // The container outlives this command: only its TTL (if any) ends it.
    spec.outlive_owner = true;
    if a.timeout != DEFAULT_TIMEOUT_SECS {
        spec.labels
            .insert(LABEL_TIMEOUT.to_string(), a.timeout.to_string());
    }
    let engine = ctx.engine()?;
    let started = Instant::now();
    let c = engine.create_container(spec)?;
    vlog!(
        "created and started in {:.0} ms",
        started.elapsed().as_secs_f64() * 1000.0
    );
    let (name, id, persist) = (c.name().to_string(), c.id().to_string(), c.persist());
    let dir = c.instance_dir().map(|d| d.display().to_string());
    let project = c.project().to_string();
    for u in c
        .limits()
        .map(|l| l.unenforced.as_slice())
        .unwrap_or_default()
    {
        output::warn(&format!("limit not enforced: {u}"));
    }
    c.keep();
    output::success(&format!("Container {name} created ({})", short(&id, 12)));
    if persist {
        match dir {
            Some(d) => println!("  persistent, project {project}: instance directory {d}"),
            None => println!("  persistent (outside any project: no instance directory)"),
        }
    }
    Ok(0)
}

/// `reboot CONTAINER [--fresh]`.
pub fn reboot(ctx: &Ctx, a: &RebootArgs) -> Outcome {
    let mut c = ctx.engine()?.attach(&a.container)?;
    let old = c.id().to_string();
    c.reboot(a.fresh)?;
    if a.fresh {
        vlog!("recreated: {} -> {}", short(&old, 12), short(c.id(), 12));
    }
    output::success(&format!(
        "Container {} rebooted ({})",
        a.container,
        if a.fresh { "fresh" } else { "in-place" }
    ));
    Ok(0)
}

/// `stop CONTAINER`.
pub fn stop(ctx: &Ctx, name: &str) -> Outcome {
    let engine = ctx.engine()?;
    if let Ok(found) = engine.find_container(name) {
        crate::relay::stop(&found.id);
    }
    engine.stop_container(name)?;
    output::success(&format!("Container {name} stopped"));
    Ok(0)
}

/// `resume CONTAINER`: starts it when stopped.
pub fn resume(ctx: &Ctx, name: &str) -> Outcome {
    let c = ctx.engine()?.resume_container(name)?;
    output::success(&format!("Container {name} resumed ({})", short(c.id(), 12)));
    Ok(0)
}

/// `shutdown CONTAINER [-y]`: destroys the container (persistent ones too, with their instance
/// directory), as the Python pocketdock CLI does.
pub fn shutdown(ctx: &Ctx, a: &ShutdownArgs) -> Outcome {
    let question = format!("Shutdown and remove container '{}'?", a.container);
    if !a.yes {
        // Refuse before touching the engine.
        require_terminal(&question)?;
    }
    let engine = ctx.engine()?;
    let found = engine.find_container(&a.container)?;
    let labels = pocketdock_proto::spec::Labels::from_map(&found.config.labels).unwrap_or_default();
    vlog!(
        "container {} is {} ({}, persist {})",
        a.container,
        found.id,
        found.state.status,
        labels.persist
    );
    if !a.yes {
        let what = if labels.persist {
            format!(
                "Shutdown and remove persistent container '{}' (its instance directory too)?",
                a.container
            )
        } else {
            question
        };
        if !confirm(&what)? {
            println!("Aborted.");
            return Ok(0);
        }
    }
    crate::relay::stop(&found.id);
    let report = engine.destroy_container(&found.id)?;
    output::success(&format!("Container {} shut down and removed", a.container));
    if let Some(dir) = &report.removed_dir {
        println!("  removed its instance directory {}", dir.display());
    }
    if let Some(why) = &report.refused_data_path {
        output::warn(&format!("left its data-path label alone: {why}"));
    }
    Ok(0)
}

/// `snapshot CONTAINER IMAGE_NAME`.
pub fn snapshot(ctx: &Ctx, a: &SnapshotArgs) -> Outcome {
    let c = ctx.engine()?.attach(&a.container)?;
    let id = c.snapshot(&a.image_name)?;
    output::success(&format!(
        "Snapshot saved as {} ({})",
        a.image_name,
        short(&id, 19)
    ));
    Ok(0)
}

/// `prune [-y] [--project P]`.
pub fn prune(ctx: &Ctx, a: &PruneArgs) -> Outcome {
    let question = match &a.project {
        Some(p) => format!("Remove all stopped pocketdock containers of project {p}?"),
        None => "Remove all stopped pocketdock containers?".to_string(),
    };
    if !a.yes && !confirm(&question)? {
        println!("Aborted.");
        return Ok(0);
    }
    let engine = ctx.engine()?;
    let reaped = engine.reap_orphans()?;
    let n = engine.prune(a.project.as_deref())?;
    output::success(&format!("Removed {n} container(s)"));
    print_reaped(&reaped);
    Ok(0)
}

/// The default `run` timeout of a found container: its `pocketdock-cli.timeout` label, else
/// 30 s.
pub fn label_timeout(inspect: &ContainerInspect) -> u64 {
    inspect
        .config
        .labels
        .get(LABEL_TIMEOUT)
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|s| *s > 0)
        .unwrap_or(DEFAULT_TIMEOUT_SECS)
}

#[cfg(test)]
mod tests {
    #[test]
    fn durations() {
        assert_eq!(super::human_duration(5.2), "5s");
        assert_eq!(super::human_duration(65.0), "1m 5s");
        assert_eq!(super::human_duration(3700.0), "1h 1m");
        assert_eq!(super::human_duration(90_000.0), "1d 1h");
    }
}
