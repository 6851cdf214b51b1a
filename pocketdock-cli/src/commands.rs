//! What each command does.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use pocketdock_blocking::{ContainerSpec, Engine, Error, Lang, Result, RunOptions, StreamKind};
use pocketdock_proto::spec::{NetworkMode, PortMapping, Volume};

use crate::cli::{Cli, Command, CreateArgs, ListArgs, RunArgs, ShutdownArgs};
use crate::output;

/// Run the parsed command; returns the process exit code.
pub fn dispatch(cli: &Cli) -> Result<i32> {
    match &cli.command {
        Command::Create(a) => create(cli, a),
        Command::Run(a) => run(cli, a),
        Command::Shutdown(a) => shutdown(cli, a),
        Command::List(a) => list(cli, a),
        Command::Profiles(a) => profiles(a.json),
        Command::Quickstart => {
            print!("{QUICKSTART}");
            Ok(0)
        }
        Command::Info(a) => info(cli, a),
        Command::Reboot(a) => {
            let mut c = engine(cli)?.attach(&a.container)?;
            c.reboot(a.fresh)?;
            output::success(&format!(
                "Container {} rebooted ({})",
                a.container,
                if a.fresh { "fresh" } else { "in-place" }
            ));
            Ok(0)
        }
        Command::Snapshot(a) => {
            let c = engine(cli)?.attach(&a.container)?;
            let id = c.snapshot(&a.image_name)?;
            output::success(&format!(
                "Snapshot saved as {} ({})",
                a.image_name,
                id.get(..19).unwrap_or(&id)
            ));
            Ok(0)
        }
        Command::Completions(a) => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(a.shell, &mut cmd, "pocketdock", &mut std::io::stdout());
            Ok(0)
        }
    }
}

const QUICKSTART: &str = "\
pocketdock quickstart

  pocketdock build minimal-python                 build the default image (once)
  pocketdock create --name my-sandbox --profile minimal-python
  pocketdock run my-sandbox echo hello            run a command (exit code passes through)
  pocketdock run my-sandbox -- ls -la /           argv kept exactly after --
  pocketdock shell my-sandbox                     interactive shell
  pocketdock info my-sandbox                      live status, memory, CPU, processes
  pocketdock shutdown my-sandbox --yes            stop and remove
  pocketdock profiles                             the image profiles

Web demo:
  pocketdock create --name web -p 8080:8000
  pocketdock run --detach web 'cd demo && python3 serve.py'
  open http://localhost:8080
";

fn info(cli: &Cli, a: &crate::cli::InfoArgs) -> Result<i32> {
    let c = engine(cli)?.attach(&a.container)?;
    let i = c.info()?;
    if a.json {
        output::json(&i)?;
        return Ok(0);
    }
    println!("{}", i.name);
    println!("  ID:      {}", i.id.get(..12).unwrap_or(&i.id));
    println!("  Status:  {}", i.status);
    println!("  Image:   {}", i.image);
    if !i.memory_usage.is_empty() {
        println!(
            "  Memory:  {} / {} ({:.1}%)",
            i.memory_usage, i.memory_limit, i.memory_percent
        );
    }
    if i.cpu_percent > 0.0 {
        println!("  CPU:     {:.1}%", i.cpu_percent);
    }
    if i.pids > 0 {
        println!("  PIDs:    {}", i.pids);
    }
    if !i.ip_address.is_empty() {
        println!("  IP:      {}", i.ip_address);
    }
    if !i.ports.is_empty() {
        let ports: Vec<String> = i
            .ports
            .iter()
            .map(|(h, c)| format!("{h}->{c}/tcp"))
            .collect();
        println!("  Ports:   {}", ports.join(", "));
    }
    if let Some(u) = i.uptime {
        println!("  Uptime:  {u:.0}s");
    }
    Ok(0)
}

fn engine(cli: &Cli) -> Result<Engine> {
    Engine::detect_with(cli.socket.as_deref(), None)
}

fn create(cli: &Cli, a: &CreateArgs) -> Result<i32> {
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
    for v in &a.volumes {
        spec.volumes.push(parse_volume(v)?);
    }
    for p in &a.ports {
        spec.ports.push(PortMapping::parse(p)?);
    }
    for e in &a.env {
        let (k, v) = e
            .split_once('=')
            .ok_or_else(|| Error::invalid("env", format!("{e:?} is not KEY=VALUE")))?;
        spec.env.push((k.to_string(), v.to_string()));
    }
    if a.network {
        spec.network = Some(NetworkMode::Bridge);
    } else if a.no_network {
        spec.network = Some(NetworkMode::Off);
    }
    if a.timeout == 0 {
        return Err(Error::invalid("timeout", "must be at least 1 second"));
    }
    let c = engine(cli)?.create_container(spec)?;
    let (name, id) = (c.name().to_string(), c.id().to_string());
    c.keep();
    output::success(&format!(
        "Container {name} created ({})",
        id.get(..12).unwrap_or(&id)
    ));
    Ok(0)
}

fn parse_volume(v: &str) -> Result<Volume> {
    let parts: Vec<&str> = v.split(':').collect();
    match parts.as_slice() {
        [host, container] | [host, container, "rw"] => Ok(Volume::new(*host, *container)),
        [host, container, "ro"] => Ok(Volume::read_only(*host, *container)),
        _ => Err(Error::invalid(
            "volume",
            format!("{v:?} is not HOST:CONTAINER[:ro]"),
        )),
    }
}

fn run(cli: &Cli, a: &RunArgs) -> Result<i32> {
    let engine = engine(cli)?;
    let c = engine.attach(&a.container)?;
    let mut opts = RunOptions::new();
    if let Some(t) = a.timeout {
        if t == 0 {
            return Err(Error::invalid("timeout", "must be at least 1 second"));
        }
        opts = opts.timeout(Duration::from_secs(t));
    }
    if let Some(m) = a.max_output {
        opts = opts.max_output(m);
    }
    if let Some(l) = &a.lang {
        opts = opts.lang(l.parse::<Lang>()?);
    }
    // One argument is a command line for the interpreter (sh -c, or python with --lang);
    // several are an argv, passed on exactly as given.
    let command: pocketdock_blocking::Command = match a.command.as_slice() {
        [one] => one.clone().into(),
        many => many.to_vec().into(),
    };
    if a.detach {
        let p = c.detach(command, &opts)?;
        output::success(&format!("Process started (exec ID: {})", p.id()));
        return Ok(0);
    }
    let result = if a.stream {
        let mut s = c.stream(command, &opts)?;
        let mut out = std::io::stdout();
        let mut err = std::io::stderr();
        for chunk in s.by_ref() {
            let chunk = chunk?;
            let _ = if chunk.stream == StreamKind::Stdout {
                out.write_all(&chunk.data).and_then(|()| out.flush())
            } else {
                err.write_all(&chunk.data).and_then(|()| err.flush())
            };
        }
        s.finish()?
    } else {
        let r = c.run_with(command, &opts)?;
        let _ = std::io::stdout().write_all(&r.stdout);
        let _ = std::io::stderr().write_all(&r.stderr);
        r
    };
    if result.truncated {
        eprintln!(
            "pocketdock: output truncated ({} bytes not kept)",
            result.elided_bytes
        );
    }
    if result.timed_out {
        eprintln!("pocketdock: command timed out and was killed");
        return Ok(crate::EXIT_TIMEOUT);
    }
    Ok(i32::try_from(result.exit_code).unwrap_or(crate::EXIT_FAILURE))
}

/// Ask on a terminal; refuse without one (unless `-y` was given).
fn confirm(question: &str) -> Result<bool> {
    if !std::io::stdin().is_terminal() {
        return Err(Error::invalid(
            "yes",
            "not a terminal: pass -y/--yes to confirm",
        ));
    }
    eprint!("{question} [y/N]: ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    let a = answer.trim().to_ascii_lowercase();
    Ok(a == "y" || a == "yes")
}

fn shutdown(cli: &Cli, a: &ShutdownArgs) -> Result<i32> {
    if !a.yes && !confirm(&format!("Shutdown and remove container '{}'?", a.container))? {
        println!("Aborted.");
        return Ok(0);
    }
    let engine = engine(cli)?;
    let c = engine.attach(&a.container)?;
    engine.remove_container(c.id(), true)?;
    output::success(&format!("Container {} shut down and removed", a.container));
    Ok(0)
}

fn list(cli: &Cli, a: &ListArgs) -> Result<i32> {
    #[derive(serde::Serialize)]
    struct Row {
        id: String,
        name: String,
        status: String,
        image: String,
        created_at: String,
        persist: bool,
        project: String,
    }
    let engine = engine(cli)?;
    let mut labels = vec![format!("{}=true", pocketdock_proto::spec::LABEL_MANAGED)];
    if let Some(p) = &a.project {
        labels.push(format!("{}={p}", pocketdock_proto::spec::LABEL_PROJECT));
    }
    let items = engine.list_raw(&labels)?;
    let rows: Vec<Row> = items
        .iter()
        .map(|i| {
            let l = pocketdock_proto::spec::Labels::from_map(&i.labels).unwrap_or_default();
            Row {
                id: i.id.clone(),
                name: if l.instance.is_empty() {
                    i.names
                        .first()
                        .map(|n| pocketdock_proto::api::strip_slash(n).to_string())
                        .unwrap_or_default()
                } else {
                    l.instance
                },
                status: i.state.clone(),
                image: i.image.clone(),
                created_at: l.created_at,
                persist: l.persist,
                project: l.project.unwrap_or_default(),
            }
        })
        .collect();
    if a.json {
        output::json(&rows)?;
    } else if rows.is_empty() {
        println!("No containers found.");
    } else {
        output::table(
            &["NAME", "ID", "STATUS", "IMAGE", "PERSIST", "PROJECT"],
            &rows
                .iter()
                .map(|r| {
                    vec![
                        r.name.clone(),
                        r.id.get(..12).unwrap_or(&r.id).to_string(),
                        r.status.clone(),
                        r.image.clone(),
                        if r.persist { "yes" } else { "no" }.to_string(),
                        r.project.clone(),
                    ]
                })
                .collect::<Vec<_>>(),
        );
    }
    Ok(0)
}

fn profiles(json: bool) -> Result<i32> {
    let profiles = pocketdock_proto::profile::list_profiles();
    if json {
        output::json(&profiles)?;
    } else {
        output::table(
            &["NAME", "IMAGE TAG", "NETWORK", "SIZE", "DESCRIPTION"],
            &profiles
                .iter()
                .map(|p| {
                    vec![
                        p.name.to_string(),
                        p.image_tag.to_string(),
                        if p.network_default {
                            "enabled"
                        } else {
                            "disabled"
                        }
                        .to_string(),
                        p.size_estimate.to_string(),
                        p.description.to_string(),
                    ]
                })
                .collect::<Vec<_>>(),
        );
    }
    Ok(0)
}
