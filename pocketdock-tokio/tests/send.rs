//! Compile-time checks: the futures and handles can cross threads (`tokio::spawn` needs
//! `Send + 'static` futures; a container shared by tasks needs `Sync`).

use pocketdock_tokio::{
    BuildContext, BuildOptions, Container, ContainerSpec, Engine, ExecStream, Process, RunOptions,
    TtyExec, TtyOptions, TtyReader, TtyWriter,
};

fn send<T: Send>(_: &T) {}
fn send_sync<T: Send + Sync>() {}
fn send_only<T: Send>() {}

#[expect(
    dead_code,
    reason = "compile-time check: the body only has to type-check, it never runs"
)]
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
    send(&c.write_file("/x", "y"));
    send(&c.read_file("/x"));
    send(&c.push("/x", "/y"));
    send(&c.pull("/x", "/y"));
    send(&c.open_tty(&["sh"], &TtyOptions::default()));
    send(&e.build_image(
        &BuildContext::profile("minimal-python"),
        &BuildOptions::default(),
        |_| {},
    ));
    send(&e.import_images("/x.tar"));
    send(&e.export_images(&["x"], "/x.tar", false));
}

#[test]
fn handles_are_send_and_sync() {
    send_sync::<Engine>();
    send_sync::<Container>();
    send_sync::<Process>();
    send_only::<ExecStream>();
    send_sync::<TtyExec>();
    send_only::<TtyReader>();
    send_sync::<TtyWriter>();
}
