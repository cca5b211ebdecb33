//! Frames between the server and its query workers, over a Unix socket: a tag byte, a
//! little-endian `u32` length and the payload. Tasks and metadata are JSON; result bodies go
//! as they will be sent, in chunks of at most [`CHUNK`] bytes.

use std::io::{Read, Write};

use serde::Serialize;
use serde::de::DeserializeOwned;

/// The largest body chunk a worker sends in one frame.
pub const CHUNK: usize = 256 * 1024;

/// No frame is larger: a task or its metadata is small, a chunk is [`CHUNK`].
const MAX_FRAME: usize = 16 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Tag {
    /// Server → worker: a task (JSON).
    Task = 1,
    /// Worker → server: what the result is (JSON), before its body.
    Head = 2,
    /// Worker → server: a piece of the result's body.
    Body = 3,
    /// Worker → server: the result is complete.
    Done = 4,
    /// Worker → server: the task failed (JSON: code and detail).
    Error = 5,
    /// Worker → server: ready for the next task (JSON: the tables it holds).
    Idle = 6,
}

impl Tag {
    fn from_u8(b: u8) -> Option<Tag> {
        [Tag::Task, Tag::Head, Tag::Body, Tag::Done, Tag::Error, Tag::Idle].into_iter().find(|t| *t as u8 == b)
    }
}

pub fn write(out: &mut impl Write, tag: Tag, payload: &[u8]) -> std::io::Result<()> {
    let len = u32::try_from(payload.len()).map_err(|_| std::io::Error::other("frame too large"))?;
    let mut head = [0u8; 5];
    head[0] = tag as u8;
    head[1..].copy_from_slice(&len.to_le_bytes());
    out.write_all(&head)?;
    out.write_all(payload)
}

pub fn write_json(out: &mut impl Write, tag: Tag, value: &impl Serialize) -> std::io::Result<()> {
    write(out, tag, &serde_json::to_vec(value).map_err(std::io::Error::other)?)
}

/// The next frame, or none at the end of the stream.
pub fn read(input: &mut impl Read) -> std::io::Result<Option<(Tag, Vec<u8>)>> {
    let mut head = [0u8; 5];
    match input.read_exact(&mut head) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let (tag, len) = parse_head(head)?;
    let mut payload = vec![0u8; len];
    input.read_exact(&mut payload)?;
    Ok(Some((tag, payload)))
}

pub fn parse_head(head: [u8; 5]) -> std::io::Result<(Tag, usize)> {
    let tag = Tag::from_u8(head[0]).ok_or_else(|| std::io::Error::other(format!("unknown frame tag {}", head[0])))?;
    let len = u32::from_le_bytes([head[1], head[2], head[3], head[4]]) as usize;
    if len > MAX_FRAME {
        return Err(std::io::Error::other(format!("a frame of {len} bytes")));
    }
    Ok((tag, len))
}

pub fn json<T: DeserializeOwned>(payload: &[u8]) -> std::io::Result<T> {
    serde_json::from_slice(payload).map_err(std::io::Error::other)
}

/// A `Write` that sends what is written as [`Tag::Body`] frames of up to [`CHUNK`] bytes,
/// and refuses to go past `limit` bytes in all.
pub struct BodyWriter<'a, W: Write> {
    out: &'a mut W,
    buf: Vec<u8>,
    sent: u64,
    limit: Option<u64>,
}

impl<W: Write> std::fmt::Debug for BodyWriter<'_, W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BodyWriter").field("sent", &self.sent).field("limit", &self.limit).finish()
    }
}

impl<'a, W: Write> BodyWriter<'a, W> {
    pub fn new(out: &'a mut W, limit: Option<u64>) -> Self {
        Self { out, buf: Vec::with_capacity(CHUNK), sent: 0, limit }
    }

    fn send(&mut self) -> std::io::Result<()> {
        if !self.buf.is_empty() {
            write(self.out, Tag::Body, &self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }
}

/// The error a [`BodyWriter`] gives when its limit is passed.
pub const TOO_LARGE: &str = "the result is larger than limits.max_response_mb";

impl<W: Write> Write for BodyWriter<'_, W> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.sent += data.len() as u64;
        if self.limit.is_some_and(|l| self.sent > l) {
            return Err(std::io::Error::new(std::io::ErrorKind::FileTooLarge, TOO_LARGE));
        }
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.send()?;
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_bodies_stop_at_their_limit() {
        let mut buf = Vec::new();
        write_json(&mut buf, Tag::Head, &serde_json::json!({"total": 3})).unwrap();
        {
            let mut body = BodyWriter::new(&mut buf, Some(10));
            body.write_all(b"0123456789").unwrap();
            body.flush().unwrap();
            assert!(body.write_all(b"x").is_err(), "past the limit");
        }
        write(&mut buf, Tag::Done, &[]).unwrap();
        let mut r = std::io::Cursor::new(buf);
        let (tag, head) = read(&mut r).unwrap().unwrap();
        assert_eq!((tag, json::<serde_json::Value>(&head).unwrap()["total"].as_u64()), (Tag::Head, Some(3)));
        assert_eq!(read(&mut r).unwrap().unwrap(), (Tag::Body, b"0123456789".to_vec()));
        assert_eq!(read(&mut r).unwrap().unwrap().0, Tag::Done);
        assert!(read(&mut r).unwrap().is_none());
        let mut bad = std::io::Cursor::new(vec![9u8, 0, 0, 0, 0]);
        assert!(read(&mut bad).is_err());
    }
}
