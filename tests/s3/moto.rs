//! A local S3-compatible server for the S3 test: `moto_server` (PyPI `moto[server]`) on
//! 127.0.0.1 with a port the system picks, stopped when the value is dropped. `.ci/run`
//! installs it when missing; without it the S3 test fails saying how to install it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

use object_store::aws::{AmazonS3, AmazonS3Builder};

use crate::common::root;

/// What a missing `moto_server` is told to do.
const INSTALL: &str = "install it with `python3 -m pip install --user 'moto[server]'` (or into a venv) and put \
                       its bin folder on PATH (`python3 -m site --user-base`/bin); `.ci/run` does this";

/// Credentials moto accepts (any will do; they must only be present and consistent).
const KEY_ID: &str = "test";
const SECRET: &str = "test";
const REGION: &str = "us-east-1";

/// A running `moto_server`, killed (and reaped) on drop.
pub struct MotoServer {
    child: Child,
    port: u16,
}

impl MotoServer {
    /// Start `moto_server -H 127.0.0.1 -p 0` and wait for the line saying where it
    /// listens (werkzeug prints ` * Running on http://127.0.0.1:PORT` on stderr when the
    /// socket is bound). Its stderr (one line per request) is drained by a thread.
    ///
    /// Panics, saying how to install it, when `moto_server` cannot be started.
    pub fn start() -> Self {
        let mut child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", "0"])
            .env("NO_PROXY", "127.0.0.1,localhost")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("the S3 test needs moto_server, which did not start ({e}): {INSTALL}"));
        let mut stderr = BufReader::new(child.stderr.take().expect("piped"));
        let mut seen = String::new();
        let port = loop {
            let mut line = String::new();
            if stderr.read_line(&mut line).expect("moto_server's stderr") == 0 {
                let status = child.wait().expect("moto_server exited");
                panic!("moto_server exited ({status}) before listening:\n{seen}\n{INSTALL}");
            }
            if let Some(rest) = line.trim().strip_prefix("* Running on http://127.0.0.1:") {
                break rest.parse::<u16>().unwrap_or_else(|e| panic!("moto_server's port in {line:?}: {e}"));
            }
            seen.push_str(&line);
        };
        // moto logs each request on stderr: keep reading it, or it blocks on a full pipe.
        std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
        Self { child, port }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Create `bucket` (3 to 63 characters: lower-case letters, digits, `-`) with a plain
    /// `PUT /bucket`, which moto accepts unsigned.
    pub fn create_bucket(&self, bucket: &str) {
        let mut tcp = TcpStream::connect(("127.0.0.1", self.port)).expect("connect to moto_server");
        let request = format!(
            "PUT /{bucket} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.port
        );
        tcp.write_all(request.as_bytes()).expect("send");
        let mut response = String::new();
        tcp.read_to_string(&mut response).expect("receive");
        assert!(response.starts_with("HTTP/1.1 200"), "creating bucket {bucket}: {response}");
    }

    /// An object store on `bucket`, configured as the `backfill` children are by
    /// [`MotoServer::backfill`]'s environment.
    pub fn store(&self, bucket: &str) -> AmazonS3 {
        AmazonS3Builder::new()
            .with_endpoint(self.endpoint())
            .with_allow_http(true)
            .with_access_key_id(KEY_ID)
            .with_secret_access_key(SECRET)
            .with_region(REGION)
            .with_bucket_name(bucket)
            .build()
            .expect("S3 client for moto_server")
    }

    /// A `backfill` command run from the repo root whose S3 client talks to this server,
    /// through the standard variables `AmazonS3Builder::from_env` reads, and no other `AWS_*`.
    pub fn backfill(&self) -> Command {
        let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("backfill"));
        // Any other AWS_* variable (AWS_ENDPOINT, AWS_CONDITIONAL_PUT, AWS_SESSION_TOKEN,
        // AWS_VIRTUAL_HOSTED_STYLE_REQUEST, ...) could point the client elsewhere or
        // change how it talks to the server.
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("AWS_") {
                cmd.env_remove(name);
            }
        }
        cmd.current_dir(root())
            .env_remove("BACKFILL_WAREHOUSE")
            .env_remove("RUST_LOG")
            .env("AWS_ENDPOINT_URL", self.endpoint())
            .env("AWS_ALLOW_HTTP", "true")
            .env("AWS_ACCESS_KEY_ID", KEY_ID)
            .env("AWS_SECRET_ACCESS_KEY", SECRET)
            .env("AWS_REGION", REGION)
            .env("NO_PROXY", "127.0.0.1,localhost")
            .stdin(Stdio::null());
        cmd
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
