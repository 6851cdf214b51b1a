//! Compile-time checks: the futures and handles can cross threads (`tokio::spawn` needs
//! `Send + 'static` futures; a container shared by tasks needs `Sync`).

use pocketdock_tokio::{Container, ContainerSpec, Engine, ExecStream, Process, RunOptions};

fn send<T: Send>(_: &T) {}
fn send_sync<T: Send + Sync>() {}
fn send_only<T: Send>() {}

#[allow(dead_code)]
fn futures_are_send(c: &mut Container, e: &Engine, p: &Process) {
    let opts = RunOptions::new();
    send(&e.ping());
    send(&e.create_container(ContainerSpec::new()));
    send(&e.attach("x"));
    send(&e.list_containers(None));
    send(&e.resume_container("x"));
    send(&c.run("x"));
    send(&c.run_with("x", &opts));
    send(&c.detach("x", &opts));
    send(&c.info());
    send(&c.snapshot("x"));
    send(&p.wait(None));
    send(&p.kill(9));
    send(&c.reboot(false));
    send(&c.shutdown(false));
}

#[test]
fn handles_are_send_and_sync() {
    send_sync::<Engine>();
    send_sync::<Container>();
    send_sync::<Process>();
    send_only::<ExecStream>();
}
