//! A throwaway PostgreSQL cluster for tests: `initdb` into a temp folder, `pg_ctl start`
//! listening on a unix socket in that folder only (no TCP), `psql` as the client, stopped
//! and removed when the value is dropped. As root, the server tools run as the `postgres`
//! user (`runuser`), who owns the folder; `psql` runs as the test process's user. `.ci/run`
//! installs PostgreSQL when missing; without it the tests fail saying how to install it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{load_script, Dialect, SqlEngine};

/// What a missing PostgreSQL is told to do.
const INSTALL: &str = "install PostgreSQL 15 with `apt-get install postgresql` (its tools go to \
                       /usr/lib/postgresql/15/bin) or put a PostgreSQL bin folder on PATH; `.ci/run` does this";

/// Where Debian's `postgresql` package puts the server tools (not on PATH).
const DEBIAN_BIN: &str = "/usr/lib/postgresql/15/bin";

/// How long the server may take to answer on its socket once `pg_ctl` says it started.
const READY_WITHIN: Duration = Duration::from_secs(30);

/// A running PostgreSQL cluster in a temp folder, stopped and removed on drop.
pub struct Postgres {
    /// The cluster's folder: `data/` (the cluster), `server.log`, the socket, loaded CSVs.
    dir: tempfile::TempDir,
    /// The folder of `initdb`, `pg_ctl`, `pg_isready` and `psql`.
    bin: PathBuf,
    /// The port, which here only names the socket file (`.s.PGSQL.<port>`).
    port: u16,
    /// Whether the server tools run as `postgres` (the test process is root).
    as_postgres: bool,
}

impl Postgres {
    /// Start a fresh cluster (`initdb --auth=trust -U postgres -E UTF8 --locale=C`, then
    /// `pg_ctl start` with `listen_addresses=''`, the socket in the temp folder and a free
    /// port number) and wait until `pg_isready` answers on the socket (a bounded poll loop).
    ///
    /// Panics, saying how to install it, when `initdb` is neither on PATH nor in
    /// /usr/lib/postgresql/15/bin; panics with the server log when it does not start.
    pub fn start() -> Self {
        let bin = bin_folder().unwrap_or_else(|| panic!("the engine tests need PostgreSQL's initdb: {INSTALL}"));
        let dir = tempfile::tempdir().expect("tempdir");
        // SAFETY: geteuid has no preconditions and cannot fail.
        let as_postgres = unsafe { libc::geteuid() } == 0;
        if as_postgres {
            let (uid, gid) = (id("-u"), id("-g"));
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).expect("chown the cluster folder");
        }
        let port =
            std::net::TcpListener::bind(("127.0.0.1", 0)).expect("a free port").local_addr().expect("addr").port();
        let pg = Self { dir, bin, port, as_postgres };
        let data = pg.dir.path().join("data");
        let mut initdb = pg.tool("initdb");
        initdb.arg("-D").arg(&data).args(["--auth=trust", "-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync"]);
        pg.check(initdb, "initdb");
        let socket_dir = pg.dir.path().to_str().expect("utf-8 path");
        // fsync off: the cluster is thrown away.
        let options = format!("-c listen_addresses='' -c unix_socket_directories='{socket_dir}' -c fsync=off");
        let mut start = pg.tool("pg_ctl");
        start.arg("-D").arg(&data).arg("-l").arg(pg.log_path());
        start.args(["-w", "-t", "60", "-o", &format!("{options} -p {}", pg.port), "start"]);
        pg.check(start, "pg_ctl start");
        pg.wait_ready();
        pg
    }

    /// Poll until the socket file exists and `pg_isready` accepts, for [`READY_WITHIN`].
    fn wait_ready(&self) {
        let socket = self.dir.path().join(format!(".s.PGSQL.{}", self.port));
        let deadline = Instant::now() + READY_WITHIN;
        loop {
            let mut ready = Command::new(self.bin.join("pg_isready"));
            ready.args(["-t", "5", "-U", "postgres", "-d", "postgres"]);
            if self.connection(ready).output().expect("run pg_isready").status.success() && socket.exists() {
                return;
            }
            assert!(Instant::now() < deadline, "PostgreSQL did not accept connections:\n{}", self.log());
        }
    }

    /// A server tool (`initdb`, `pg_ctl`) of the cluster's folder, run as `postgres` when root.
    fn tool(&self, name: &str) -> Command {
        let program = self.bin.join(name);
        let mut cmd = if self.as_postgres {
            let mut cmd = Command::new("runuser");
            cmd.args(["-u", "postgres", "--"]).arg(program);
            cmd
        } else {
            Command::new(program)
        };
        without_pg_variables(&mut cmd).current_dir(self.dir.path()).stdin(Stdio::null());
        cmd
    }

    /// Run `cmd`, panicking with its output and the server log when it fails.
    fn check(&self, mut cmd: Command, what: &str) {
        let out = cmd.output().unwrap_or_else(|e| panic!("run {what} ({e}): {INSTALL}"));
        if !out.status.success() {
            panic!("{what} failed ({}):\n{}{}\n{}", out.status, text(&out.stderr), text(&out.stdout), self.log());
        }
    }

    /// `cmd` connected to the cluster: `-h <socket folder> -p <port>`, no `PG*` variables.
    fn connection(&self, mut cmd: Command) -> Command {
        without_pg_variables(&mut cmd)
            .arg("-h")
            .arg(self.dir.path())
            .arg("-p")
            .arg(self.port.to_string())
            .stdin(Stdio::null());
        cmd
    }

    /// `psql -X -v ON_ERROR_STOP=1` as `postgres` on database `postgres`.
    fn psql(&self) -> Command {
        let mut cmd = self.connection(Command::new(self.bin.join("psql")));
        cmd.args(["-X", "-v", "ON_ERROR_STOP=1", "-U", "postgres", "-d", "postgres"]);
        cmd
    }

    /// Where the server logs (`pg_ctl -l`).
    fn log_path(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }

    /// The server log, for failure messages.
    fn log(&self) -> String {
        let log = std::fs::read_to_string(self.log_path()).unwrap_or_else(|e| format!("(no server log: {e})"));
        format!("server log:\n{log}")
    }
}

impl SqlEngine for Postgres {
    /// Through a CSV file that DataFusion writes and `\copy` (psql reads it) loads.
    fn load_table(&self, warehouse: &Path, table: &str) {
        self.run_script(&load_script(self.dir.path(), Dialect::Postgres, warehouse, table));
    }

    /// `psql -X -v ON_ERROR_STOP=1 -f FILE`.
    fn try_run_script(&self, path: &Path) -> Result<String, String> {
        let out = self.psql().arg("-f").arg(path).output().unwrap_or_else(|e| panic!("run psql: {e}"));
        match out.status.success() {
            true => Ok(text(&out.stdout)),
            false => Err(format!("{}{}", text(&out.stderr), text(&out.stdout))),
        }
    }

    /// `psql -A -t -F '|' -P null=NULL -c SQL`.
    fn rows(&self, sql: &str) -> Vec<String> {
        let out = self.psql().args(["-A", "-t", "-F", "|", "-P", "null=NULL", "-c", sql]).output().expect("run psql");
        assert!(out.status.success(), "{sql}:\n{}{}", text(&out.stderr), text(&out.stdout));
        text(&out.stdout).lines().map(String::from).collect()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let mut stop = self.tool("pg_ctl");
        stop.arg("-D").arg(self.dir.path().join("data")).args(["stop", "-m", "immediate"]);
        let _ = stop.stdout(Stdio::null()).stderr(Stdio::null()).status();
    }
}

/// The folder of the PostgreSQL tools: that of `initdb` on PATH (symlinks resolved), else
/// Debian's /usr/lib/postgresql/15/bin; `None` when neither has `initdb`.
fn bin_folder() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).map(|dir| dir.join("initdb")).collect::<Vec<_>>())
        .unwrap_or_default();
    on_path
        .into_iter()
        .chain([Path::new(DEBIAN_BIN).join("initdb")])
        .find(|initdb| initdb.is_file())
        .map(|initdb| initdb.canonicalize().unwrap_or(initdb))
        .and_then(|initdb| initdb.parent().map(Path::to_path_buf))
}

/// `cmd` without the `PG*` variables (PGHOST, PGPORT, PGDATA, ...) that could point it elsewhere.
fn without_pg_variables(cmd: &mut Command) -> &mut Command {
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("PG") {
            cmd.env_remove(name);
        }
    }
    cmd
}

/// `id <flag> postgres`: the `postgres` user's uid (`-u`) or gid (`-g`).
fn id(flag: &str) -> u32 {
    let out = Command::new("id").args([flag, "postgres"]).output().expect("run id");
    assert!(out.status.success(), "running as root needs a `postgres` user ({}): {INSTALL}", text(&out.stderr));
    text(&out.stdout).trim().parse().expect("a numeric id")
}

/// Lossy UTF-8 of a command's output.
fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
