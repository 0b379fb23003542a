//! A real Ballista cluster: `backfill cluster scheduler` and two `backfill cluster
//! executor` processes on 127.0.0.1, the fixture's backfill run through `--scheduler`.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use super::{engine_free_results, execute_ok, SHORT};
use crate::common::{root, warehouse_copy};
use crate::execute::shadow_rows;

/// A free loopback port (the system's pick; released for the node to bind).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The cluster's processes, killed when the test ends however it ends.
struct Nodes(Vec<Child>);

impl Drop for Nodes {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Start `backfill --warehouse WH cluster ARGS` with Ballista's executor log on stderr.
fn node(wh: &std::path::Path, args: &[String]) -> Child {
    Command::new(assert_cmd::cargo::cargo_bin("backfill"))
        .current_dir(root())
        .arg("--warehouse")
        .arg(wh)
        .arg("cluster")
        .args(args)
        .env("RUST_LOG", "ballista_executor=info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Read `child`'s stderr until a line contains `text` (the executor's own log says
/// when the scheduler has registered it); then drain the rest on a thread.
fn wait_for(child: &mut Child, text: &str) {
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    loop {
        let Some(line) = lines.next() else { panic!("the node ended before saying `{text}`") };
        if line.unwrap().contains(text) {
            std::thread::spawn(move || lines.for_each(drop));
            return;
        }
    }
}

#[tokio::test]
async fn a_scheduler_and_two_executor_processes_run_the_backfill_to_the_embedded_engines_shadow() {
    let embedded = warehouse_copy();
    execute_ok(embedded.path(), &SHORT, &[]);
    let wh = warehouse_copy();
    let scheduler = free_port();
    let mut first = node(wh.path(), &["scheduler".into(), "--bind".into(), format!("127.0.0.1:{scheduler}")]);
    let log = first.stderr.take().unwrap();
    std::thread::spawn(move || BufReader::new(log).lines().for_each(drop));
    let mut nodes = Nodes(vec![first]);
    for _ in 0..2 {
        let mut executor = node(
            wh.path(),
            &[
                "executor".into(),
                "--bind".into(),
                format!("127.0.0.1:{}", free_port()),
                "--grpc-port".into(),
                free_port().to_string(),
                "--scheduler".into(),
                format!("127.0.0.1:{scheduler}"),
                "--vcores".into(),
                "8".into(),
            ],
        );
        wait_for(&mut executor, "Executor registration succeed");
        nodes.0.push(executor);
    }
    let url = format!("df://127.0.0.1:{scheduler}");
    execute_ok(wh.path(), &SHORT, &["--engine", "ballista", "--scheduler", &url]);
    assert_eq!(shadow_rows(wh.path()).await, shadow_rows(embedded.path()).await);
    let (batches, range) = engine_free_results(wh.path());
    assert_eq!(batches.len(), 9);
    assert_eq!((batches, range), engine_free_results(embedded.path()));
    drop(nodes);
}
