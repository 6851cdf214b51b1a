//! `quickstart`, `profiles`, `completions`: no engine needed.

use crate::cli::Cli;
use crate::commands::Outcome;
use crate::output::{self, Cell, Color};

const QUICKSTART: &str = "\
pocketdock quickstart

  pocketdock build minimal-python                 build the default image (once)
  pocketdock create --name my-sandbox --profile minimal-python
  pocketdock run my-sandbox echo hello            run a command (exit code passes through)
  pocketdock run my-sandbox -- ls -la /           argv kept exactly
  pocketdock run my-sandbox 'ls | wc -l'          one word: a shell command line
  pocketdock push my-sandbox ./data /home/sandbox/data
  pocketdock shell my-sandbox                     interactive shell
  pocketdock info my-sandbox                      live status, memory, CPU, processes
  pocketdock shutdown my-sandbox --yes            stop and remove
  pocketdock profiles                             the image profiles

Projects (persistent sandboxes with logs):
  pocketdock init                                 make this directory a project
  pocketdock create --name dev --persist          survives stop; history under .pocketdock/
  pocketdock stop dev && pocketdock resume dev
  pocketdock logs dev

Web demo:
  pocketdock create --name web -p 8080:8000
  pocketdock run --detach web 'cd demo && python3 serve.py'
  open http://localhost:8080

More: pocketdock --help, pocketdock COMMAND --help, docs/cli.md
";

/// `quickstart`.
pub fn quickstart() -> i32 {
    print!("{QUICKSTART}");
    0
}

/// `profiles [--json]`.
pub fn profiles(json: bool) -> Outcome {
    let profiles = pocketdock_blocking::list_profiles();
    if json {
        output::json(&profiles)?;
        return Ok(0);
    }
    let rows: Vec<Vec<Cell>> = profiles
        .iter()
        .map(|p| {
            vec![
                Cell::from(p.name),
                Cell::from(p.image_tag),
                if p.network_default {
                    Cell::colored("enabled", Color::Yellow)
                } else {
                    Cell::from("disabled")
                },
                Cell::from(p.size_estimate),
                Cell::from(p.description),
            ]
        })
        .collect();
    output::table(
        &["NAME", "IMAGE TAG", "NETWORK", "SIZE", "DESCRIPTION"],
        &rows,
    );
    Ok(0)
}

/// `completions SHELL`.
pub fn completions(shell: clap_complete::Shell) -> i32 {
    let mut cmd = <Cli as clap::CommandFactory>::command();
    clap_complete::generate(shell, &mut cmd, "pocketdock", &mut std::io::stdout());
    0
}
