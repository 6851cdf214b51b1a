//! Project commands: init, status, logs, doctor. None of them starts a container.

use pocketdock_blocking::{init_project, Error, HistoryEntry, Project};

use crate::cli::{InitArgs, LogsArgs};
use crate::commands::{engine_origin, socket_origin, Ctx, Failure, Outcome};
use crate::output::{self, Cell, Color};
use crate::vlog;

/// The project containing the current directory, or [`Error::ProjectNotInitialized`].
fn current_project() -> Result<Project, Error> {
    let p = Project::discover(None)?.ok_or(Error::ProjectNotInitialized)?;
    vlog!("project {} at {}", p.name(), p.root().display());
    Ok(p)
}

/// `init [PATH] [--name NAME]`.
pub fn init(a: &InitArgs) -> Outcome {
    let root = init_project(a.path.as_deref(), a.name.as_deref())?;
    output::success(&format!("Project initialized at {}", root.display()));
    Ok(0)
}

/// `status --json`.
#[derive(Debug, serde::Serialize)]
struct StatusJson<'a> {
    project: &'a str,
    root: String,
    instances: usize,
    containers: usize,
    running: usize,
    stopped: usize,
}

/// `status [--json]`.
pub fn status(ctx: &Ctx, json: bool) -> Outcome {
    let project = current_project()?;
    let instances = project.instance_names()?.len();
    let items = ctx
        .project_engine(&project)?
        .list_containers(Some(project.name()))?;
    let running = items.iter().filter(|i| i.status == "running").count();
    let s = StatusJson {
        project: project.name(),
        root: project.root().display().to_string(),
        instances,
        containers: items.len(),
        running,
        stopped: items.len() - running,
    };
    if json {
        output::json(&s)?;
        return Ok(0);
    }
    output::fields(
        "Project status",
        &[
            ("Project", s.project.to_string()),
            ("Root", s.root.clone()),
            ("Instances", s.instances.to_string()),
            (
                "Containers",
                format!(
                    "{} ({} running, {} stopped)",
                    s.containers, s.running, s.stopped
                ),
            ),
        ],
    );
    Ok(0)
}

/// One `logs --json` entry: the `history.jsonl` line plus `_instance`.
#[derive(Debug, serde::Serialize)]
struct LogEntry<'a> {
    #[serde(flatten)]
    entry: &'a HistoryEntry,
    #[serde(rename = "_instance")]
    instance: &'a str,
}

/// `logs [CONTAINER] [--last N] [--type T] [--json]`.
pub fn logs(a: &LogsArgs) -> Outcome {
    let project = current_project()?;
    let names = project.instance_names()?;
    let selected: Vec<String> = match &a.container {
        Some(c) if names.contains(c) => vec![c.clone()],
        Some(c) => {
            return Err(Failure::msg(
                format!("No instance directory found for '{c}'."),
                Some("only persistent containers created in this project keep a history; see 'pocketdock status'"),
            ))
        }
        None => names,
    };
    let mut entries: Vec<(String, HistoryEntry)> = Vec::new();
    for name in &selected {
        for e in project.history(name)? {
            if a.kind.as_deref().is_none_or(|k| e.kind.as_str() == k) {
                entries.push((name.clone(), e));
            }
        }
    }
    if a.last > 0 && entries.len() > a.last {
        entries.drain(..entries.len() - a.last);
    }
    if a.json {
        let out: Vec<LogEntry<'_>> = entries
            .iter()
            .map(|(i, e)| LogEntry {
                entry: e,
                instance: i,
            })
            .collect();
        output::json(&out)?;
        return Ok(0);
    }
    if entries.is_empty() {
        println!("No log entries found.");
        return Ok(0);
    }
    let rows: Vec<Vec<Cell>> = entries
        .iter()
        .map(|(i, e)| {
            let command: String = e.command.replace('\n', " ").chars().take(60).collect();
            vec![
                Cell::from(i.as_str()),
                Cell::from(e.kind.as_str()),
                Cell::from(command),
                Cell::colored(
                    if e.timed_out {
                        "timeout".to_string()
                    } else {
                        e.exit_code.to_string()
                    },
                    if e.exit_code == 0 && !e.timed_out {
                        Color::Green
                    } else {
                        Color::Red
                    },
                ),
                Cell::from(format!("{:.0}ms", e.duration_ms)),
                Cell::from(e.timestamp.as_str()),
            ]
        })
        .collect();
    output::table(
        &[
            "INSTANCE",
            "TYPE",
            "COMMAND",
            "EXIT",
            "DURATION",
            "TIMESTAMP",
        ],
        &rows,
    );
    Ok(0)
}

/// `doctor --json`: the Python pocketdock's three keys first, then the extra checks.
#[derive(Debug, serde::Serialize)]
struct DoctorJson<'a> {
    orphaned_containers: &'a [String],
    stale_instance_dirs: &'a [String],
    healthy: usize,
    project: &'a str,
    root: String,
    ok: bool,
    pending_instance_dirs: &'a [String],
    unreadable_metadata: Vec<NameDetail<'a>>,
    id_mismatches: &'a [String],
    data_path_mismatches: Vec<NameDetail<'a>>,
    ephemeral_containers: &'a [String],
    stopped_containers: &'a [String],
    problems: Vec<String>,
    engine_socket: String,
    socket_source: &'static str,
    engine: EngineReport,
    /// What the look for orphans this doctor ran removed and killed.
    reaped: &'a pocketdock_blocking::ReapReport,
}

/// The engine as `doctor` sees it: where it is, how it is reached, and how fast it answers.
#[derive(Debug, serde::Serialize)]
struct EngineReport {
    address: String,
    transport: &'static str,
    remote: bool,
    kind: String,
    version: String,
    api_version: String,
    round_trip_ms: f64,
}

impl EngineReport {
    /// One `GET /_ping` timed (the connection included: that is what each call pays), and
    /// `GET /version`.
    fn probe(engine: &pocketdock_blocking::Engine) -> Result<Self, Error> {
        let t0 = std::time::Instant::now();
        engine.ping()?;
        let round_trip_ms = t0.elapsed().as_secs_f64() * 1000.0;
        let v = engine.version()?;
        Ok(Self {
            address: engine.address().to_string(),
            transport: engine.transport(),
            remote: engine.is_remote(),
            kind: format!("{:?}", v.engine()),
            version: v.version.clone(),
            api_version: v.api_version.clone(),
            round_trip_ms: (round_trip_ms * 10.0).round() / 10.0,
        })
    }
}

#[derive(Debug, serde::Serialize)]
struct NameDetail<'a> {
    name: &'a str,
    detail: &'a str,
}

fn name_details(v: &[(String, String)]) -> Vec<NameDetail<'_>> {
    v.iter()
        .map(|(name, detail)| NameDetail { name, detail })
        .collect()
}

/// `doctor [--json]`.
pub fn doctor(ctx: &Ctx, json: bool) -> Outcome {
    let project = current_project()?;
    let engine = ctx.project_engine(&project)?;
    let reaped = engine.reap_orphans()?;
    let r = engine.doctor_project(&project)?;
    let report = EngineReport::probe(&engine)?;
    if json {
        output::json(&DoctorJson {
            orphaned_containers: &r.orphaned_containers,
            stale_instance_dirs: &r.stale_instance_dirs,
            healthy: r.healthy,
            project: &r.project,
            root: r.root.display().to_string(),
            ok: r.is_healthy(),
            pending_instance_dirs: &r.pending_instance_dirs,
            unreadable_metadata: name_details(&r.unreadable_metadata),
            id_mismatches: &r.id_mismatches,
            data_path_mismatches: name_details(&r.data_path_mismatches),
            ephemeral_containers: &r.ephemeral_containers,
            stopped_containers: &r.stopped_containers,
            problems: r.problems(),
            engine_socket: engine.socket().display().to_string(),
            socket_source: socket_origin(engine.source()),
            engine: report,
            reaped: &reaped,
        })?;
        return Ok(0);
    }
    let color = output::stdout_color();
    println!(
        "Doctor report: project {} ({})",
        r.project,
        r.root.display()
    );
    println!("  Engine: {}", engine_origin(&engine));
    println!(
        "  {} {}, API {}, over {}, round trip {:.1} ms",
        report.kind, report.version, report.api_version, report.transport, report.round_trip_ms
    );
    if report.remote {
        println!(
            "  Remote engine: instance directories stay on this machine; volumes name paths \
             and published ports bind on the engine's machine."
        );
    }
    super::containers::print_reaped(&reaped);
    if r.healthy > 0 {
        println!(
            "  {} {} container(s)",
            Color::Green.paint("Healthy:", color),
            r.healthy
        );
    }
    if !r.orphaned_containers.is_empty() {
        println!(
            "  {} {}",
            Color::Yellow.paint("Orphaned containers:", color),
            r.orphaned_containers.join(", ")
        );
    }
    if !r.stale_instance_dirs.is_empty() {
        println!(
            "  {} {}",
            Color::Yellow.paint("Stale instance dirs:", color),
            r.stale_instance_dirs.join(", ")
        );
    }
    for n in &r.pending_instance_dirs {
        println!("  - instance directory {n} is from an interrupted create");
    }
    for (n, why) in &r.unreadable_metadata {
        println!("  - instance directory {n}: {why}");
    }
    for n in &r.id_mismatches {
        println!("  - instance.toml of {n} records another container id");
    }
    for (n, label) in &r.data_path_mismatches {
        println!("  - container {n} has data-path {label:?}, not its instance directory");
    }
    if !r.stopped_containers.is_empty() {
        println!("  Stopped: {}", r.stopped_containers.join(", "));
    }
    if !r.ephemeral_containers.is_empty() {
        println!(
            "  Ephemeral (no instance directory needed): {}",
            r.ephemeral_containers.join(", ")
        );
    }
    if r.is_healthy() && r.healthy == 0 {
        println!("  Nothing to report.");
    }
    Ok(0)
}
