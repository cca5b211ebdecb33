//! A PostgreSQL server of the tests' own, from Debian's packages: started once per test
//! process on a free loopback port, one fresh database per test, and stopped by a watchdog
//! when the test process ends (statics are never dropped).

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

const BIN: &str = "/usr/lib/postgresql/15/bin";

#[derive(Debug)]
pub struct Postgres {
    port: u16,
    /// Outlives this process by design: it stops the server once the process is gone.
    _watchdog: std::process::Child,
}

static SERVER: OnceLock<Postgres> = OnceLock::new();

impl Postgres {
    /// The tests' server, started on first use.
    pub fn shared() -> &'static Postgres {
        SERVER
            .get_or_init(|| Postgres::start(&tempfile::Builder::new().prefix("opendata-pg").tempdir().unwrap().keep()))
    }

    /// Starts a server with its files under `dir` (removed when it stops).
    pub fn start(dir: &Path) -> Postgres {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let as_root = Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0\n"));
        if as_root {
            // PostgreSQL refuses to run as root: its files and processes belong to `postgres`.
            assert!(Command::new("chown").args(["-R", "postgres"]).arg(dir).status().unwrap().success());
        }
        let data = dir.join("data");
        let run = |program: &str| {
            let mut cmd = if as_root {
                let mut c = Command::new("runuser");
                c.args(["-u", "postgres", "--", &format!("{BIN}/{program}")]);
                c
            } else {
                Command::new(format!("{BIN}/{program}"))
            };
            cmd.stdout(Stdio::null()).stderr(Stdio::null());
            cmd
        };
        let ok = run("initdb").arg("-D").arg(&data).args(["-A", "trust", "-U", "postgres", "--no-sync"]).status();
        assert!(ok.is_ok_and(|s| s.success()), "initdb failed: is Debian's postgresql-15 installed?");
        // The watchdog stops the server when this process is gone, then removes its files.
        let script = format!(
            "{BIN}/postgres -D '{data}' -p {port} -k '{dir}' -c listen_addresses=127.0.0.1 -c fsync=off \
               -c synchronous_commit=off -c full_page_writes=off -c max_connections=300 & pg=$!; \
             while [ -d /proc/{me} ] && kill -0 $pg 2>/dev/null; do sleep 1; done; \
             kill -INT $pg 2>/dev/null; wait $pg; rm -rf '{dir}'",
            data = data.display(),
            dir = dir.display(),
            me = std::process::id(),
        );
        let mut sh = if as_root {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--", "sh", "-c", &script]);
            c
        } else {
            let mut c = Command::new("sh");
            c.args(["-c", &script]);
            c
        };
        let watchdog = sh.stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        let server = Postgres { port, _watchdog: watchdog };
        let started = Instant::now();
        while !server.ready() {
            assert!(started.elapsed() < Duration::from_secs(30), "PostgreSQL did not start on port {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    fn ready(&self) -> bool {
        Command::new(format!("{BIN}/pg_isready"))
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", "postgres"])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// A new, empty database; its URL.
    pub fn database(&self) -> String {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!("t{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        let ok = Command::new("psql")
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", "postgres", "-q", "-c"])
            .arg(format!("CREATE DATABASE {name}"))
            .stdout(Stdio::null())
            .status();
        assert!(ok.is_ok_and(|s| s.success()), "cannot create database {name}");
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }
}
