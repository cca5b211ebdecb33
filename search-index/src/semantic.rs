//! Meaning beside words: each dataset's text as a vector from a sentence-embedding model,
//! the nearest datasets to a query's vector, and reciprocal rank fusion of that ranking with
//! BM25's. The model sits behind [`Embedder`], so the portal runs without one (BM25 alone)
//! and any model that embeds both languages can serve.

use std::io::{Read, Write};
use std::path::Path;

use crate::{Error, Result};

/// What a text is embedded as: e5-style models embed questions and documents differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Query,
    Passage,
}

/// A sentence-embedding model: one vector per text, all of the same length.
pub trait Embedder: Send + Sync + std::fmt::Debug {
    fn embed(&self, texts: &[String], purpose: Purpose) -> Result<Vec<Vec<f32>>>;
}

/// The text a model embeds for a dataset, from its parts in order of weight (titles, tags,
/// description, columns, values): what a reader would say it is about. Cut at
/// [`PASSAGE_CHARS`]: the model's time grows with every token, and the first sentences
/// carry the meaning.
pub fn passage<'a>(parts: impl IntoIterator<Item = &'a str>) -> String {
    let mut text = String::new();
    for part in parts.into_iter().map(str::trim).filter(|p| !p.is_empty()) {
        if !text.is_empty() {
            text.push_str(". ");
        }
        text.push_str(part);
        if text.chars().count() >= PASSAGE_CHARS {
            break;
        }
    }
    text.chars().take(PASSAGE_CHARS).collect()
}

/// Characters of a dataset's passage.
pub const PASSAGE_CHARS: usize = 480;

/// A stable fingerprint of a passage (FNV-1a), kept beside its vector: a dataset whose
/// text has not changed is not embedded again.
pub fn fingerprint(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3))
}

const MAGIC: &[u8; 6] = b"ODVEC2";
/// Bounds a damaged file cannot make a reader allocate past.
const MAX_DIMS: usize = 4_096;
const MAX_ID: usize = 1_024;

/// One vector per dataset, unit length, kept in a file beside the index.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Vectors {
    dims: usize,
    ids: Vec<String>,
    /// The [`fingerprint`] of the text each vector was made from.
    texts: Vec<u64>,
    data: Vec<f32>,
}

impl Vectors {
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The datasets that have a vector.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.ids.iter().map(String::as_str)
    }

    /// The fingerprint of the text a dataset's vector was made from.
    pub fn text_of(&self, id: &str) -> Option<u64> {
        self.ids.iter().position(|i| i == id).map(|at| self.texts[at])
    }

    /// Bytes the vectors take in memory.
    pub fn memory(&self) -> usize {
        self.data.len() * 4 + self.texts.len() * 8 + self.ids.iter().map(|i| i.len() + 24).sum::<usize>()
    }

    /// Adds or replaces a dataset's vector (made from text of fingerprint `text`),
    /// normalized. A vector of another length than the others (another model) is an error.
    pub fn upsert(&mut self, id: &str, text: u64, vector: &[f32]) -> Result<()> {
        if self.ids.is_empty() {
            self.dims = vector.len();
        }
        if vector.len() != self.dims || vector.is_empty() || vector.len() > MAX_DIMS {
            return Err(Error::Vectors(format!("a vector of {} values among vectors of {}", vector.len(), self.dims)));
        }
        let norm = vector.iter().map(|v| v * v).sum::<f32>().sqrt();
        let unit: Vec<f32> = vector.iter().map(|v| if norm > 0.0 { v / norm } else { 0.0 }).collect();
        match self.ids.iter().position(|i| i == id) {
            Some(at) => {
                self.texts[at] = text;
                self.data[at * self.dims..(at + 1) * self.dims].copy_from_slice(&unit);
            }
            None => {
                self.ids.push(id.to_owned());
                self.texts.push(text);
                self.data.extend_from_slice(&unit);
            }
        }
        Ok(())
    }

    pub fn remove(&mut self, id: &str) {
        if let Some(at) = self.ids.iter().position(|i| i == id) {
            self.ids.remove(at);
            self.texts.remove(at);
            self.data.drain(at * self.dims..(at + 1) * self.dims);
        }
    }

    /// The `k` datasets nearest `query` (cosine) among those `keep` accepts, nearest first.
    pub fn nearest(&self, query: &[f32], k: usize, keep: impl Fn(&str) -> bool) -> Vec<(&str, f32)> {
        if query.len() != self.dims {
            return Vec::new();
        }
        let norm = query.iter().map(|v| v * v).sum::<f32>().sqrt().max(f32::MIN_POSITIVE);
        let mut scored: Vec<(&str, f32)> = self
            .ids
            .iter()
            .enumerate()
            .filter(|(_, id)| keep(id))
            .map(|(i, id)| {
                let row = &self.data[i * self.dims..(i + 1) * self.dims];
                (id.as_str(), row.iter().zip(query).map(|(a, b)| a * b).sum::<f32>() / norm)
            })
            .collect();
        let order = |a: &(&str, f32), b: &(&str, f32)| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0));
        // The k best first, without sorting the thousands behind them.
        if scored.len() > k && k > 0 {
            scored.select_nth_unstable_by(k - 1, order);
        }
        scored.truncate(k);
        scored.sort_by(order);
        scored
    }

    /// Reads the vectors saved at `path`; none when there is no file.
    pub fn load(path: &Path) -> Result<Self> {
        let io = |source| Error::Io { path: path.to_owned(), source };
        let mut file = match std::fs::File::open(path) {
            Ok(f) => std::io::BufReader::new(f),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(e) => return Err(io(e)),
        };
        let corrupt = |why: &str| Error::Vectors(format!("{}: {why}", path.display()));
        let mut magic = [0u8; 6];
        file.read_exact(&mut magic).map_err(io)?;
        if &magic != MAGIC {
            return Err(corrupt("not a vector file"));
        }
        let mut word = [0u8; 4];
        let mut u32_of = |file: &mut std::io::BufReader<std::fs::File>| -> Result<usize> {
            file.read_exact(&mut word).map_err(io)?;
            Ok(u32::from_le_bytes(word) as usize)
        };
        let dims = u32_of(&mut file)?;
        let count = u32_of(&mut file)?;
        if dims == 0 || dims > MAX_DIMS {
            return Err(corrupt("implausible vector length"));
        }
        let mut out = Self { dims, ..Self::default() };
        let mut row = vec![0u8; dims * 4];
        for _ in 0..count {
            let len = u32_of(&mut file)?;
            if len > MAX_ID {
                return Err(corrupt("implausible id"));
            }
            let mut id = vec![0u8; len];
            file.read_exact(&mut id).map_err(io)?;
            let mut text = [0u8; 8];
            file.read_exact(&mut text).map_err(io)?;
            file.read_exact(&mut row).map_err(io)?;
            out.ids.push(String::from_utf8(id).map_err(|_| corrupt("an id is not UTF-8"))?);
            out.texts.push(u64::from_le_bytes(text));
            out.data.extend(row.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])));
        }
        Ok(out)
    }

    /// Writes the vectors to `path` whole: a new file renamed over the old one, so a reader
    /// or a crash never meets half of it.
    pub fn save(&self, path: &Path) -> Result<()> {
        let io = |source| Error::Io { path: path.to_owned(), source };
        // Per process: two writers never share a half-written file.
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        let mut out = std::io::BufWriter::new(std::fs::File::create(&tmp).map_err(io)?);
        out.write_all(MAGIC).map_err(io)?;
        out.write_all(&(self.dims as u32).to_le_bytes()).map_err(io)?;
        out.write_all(&(self.ids.len() as u32).to_le_bytes()).map_err(io)?;
        for (i, id) in self.ids.iter().enumerate() {
            out.write_all(&(id.len() as u32).to_le_bytes()).map_err(io)?;
            out.write_all(id.as_bytes()).map_err(io)?;
            out.write_all(&self.texts[i].to_le_bytes()).map_err(io)?;
            for v in &self.data[i * self.dims..(i + 1) * self.dims] {
                out.write_all(&v.to_le_bytes()).map_err(io)?;
            }
        }
        let file = out.into_inner().map_err(|e| io(e.into_error()))?;
        file.sync_all().map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)
    }
}

/// Weighted reciprocal rank fusion: each id scores Σ weight/(`k` + rank) over the
/// rankings it is in (rank from 1); best first, ties by id. `k` = 60 is the usual constant.
pub fn fuse(rankings: &[(&[String], f32)], k: f32) -> Vec<(String, f32)> {
    let mut scores: std::collections::HashMap<&str, f32> = std::collections::HashMap::new();
    for (ranking, weight) in rankings {
        for (rank, id) in ranking.iter().enumerate() {
            *scores.entry(id.as_str()).or_default() += weight / (k + rank as f32 + 1.0);
        }
    }
    let mut fused: Vec<(String, f32)> = scores.into_iter().map(|(id, s)| (id.to_owned(), s)).collect();
    fused.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    fused
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn nearest_first_within_what_is_kept() {
        let mut v = Vectors::default();
        v.upsert("camels", 1, &[1.0, 0.0, 0.0]).unwrap();
        v.upsert("horses", 2, &[0.7, 0.7, 0.0]).unwrap();
        v.upsert("budget", 3, &[0.0, 0.0, 5.0]).unwrap();
        let near = v.nearest(&[2.0, 0.1, 0.0], 2, |_| true);
        assert_eq!(near.iter().map(|n| n.0).collect::<Vec<_>>(), ["camels", "horses"]);
        assert!((near[0].1 - 0.9988).abs() < 1e-3, "cosine, whatever the lengths: {near:?}");
        let kept = v.nearest(&[2.0, 0.1, 0.0], 2, |id| id != "camels");
        assert_eq!(kept[0].0, "horses");
        v.upsert("camels", 4, &[0.0, 0.0, 1.0]).unwrap();
        v.remove("budget");
        assert_eq!(v.len(), 2);
        assert_eq!(v.nearest(&[0.0, 0.0, 1.0], 1, |_| true)[0].0, "camels", "replaced in place");
        assert_eq!(v.text_of("camels"), Some(4));
        assert_eq!(v.text_of("budget"), None);
        assert!(v.upsert("other-model", 5, &[1.0, 2.0]).is_err());
        assert!(v.nearest(&[1.0, 2.0], 5, |_| true).is_empty());
    }

    #[test]
    fn saved_whole_and_read_back_and_a_damaged_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vectors.bin");
        assert!(Vectors::load(&path).unwrap().is_empty(), "no file: no vectors");
        let mut v = Vectors::default();
        v.upsert("хүн-ам", fingerprint("Хүн ам"), &[0.3, -0.4, 1.2, 0.0]).unwrap();
        v.upsert("mal", u64::MAX, &[1.0, 1.0, 1.0, 1.0]).unwrap();
        v.save(&path).unwrap();
        assert_eq!(Vectors::load(&path).unwrap(), v);
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 3]).unwrap();
        assert!(Vectors::load(&path).is_err(), "cut short");
        let mut huge = bytes.clone();
        huge[6..10].copy_from_slice(&u32::MAX.to_le_bytes());
        std::fs::write(&path, huge).unwrap();
        assert!(Vectors::load(&path).is_err(), "no allocation for a forged length");
        std::fs::write(&path, b"garbage!").unwrap();
        assert!(Vectors::load(&path).is_err());
    }

    #[test]
    fn passages_keep_the_weightiest_parts_first() {
        let long = "үг ".repeat(400);
        let p = passage(["Малын тоо", "", "Livestock", &long, "never reached"]);
        assert!(p.starts_with("Малын тоо. Livestock. үг"));
        assert_eq!(p.chars().count(), PASSAGE_CHARS);
        assert!(!p.contains("never"));
        assert_ne!(fingerprint("Ховд"), fingerprint("Ховд "));
        assert_eq!(fingerprint(""), 0xcbf2_9ce4_8422_2325);
    }

    #[test]
    fn fusion_rewards_agreement() {
        let words = ids(&["a", "b", "c"]);
        let meaning = ids(&["c", "d", "a"]);
        let fused = fuse(&[(&words, 1.0), (&meaning, 1.0)], 60.0);
        let order: Vec<&str> = fused.iter().map(|f| f.0.as_str()).collect();
        // a: 1/61 + 1/63, c: 1/63 + 1/61 (tie, by id), then b (1/62) before d (1/62, by id).
        assert_eq!(order, ["a", "c", "b", "d"]);
        assert!((fused[0].1 - (1.0 / 61.0 + 1.0 / 63.0)).abs() < 1e-6);
        let weighted = fuse(&[(&words, 1.0), (&meaning, 0.5)], 60.0);
        let order: Vec<&str> = weighted.iter().map(|f| f.0.as_str()).collect();
        // a: 1/61 + 0.5/63, c: 1/63 + 0.5/61, b: 1/62, d: 0.5/62.
        assert_eq!(order, ["a", "c", "b", "d"]);
        assert!(weighted[2].1 > weighted[3].1 * 1.9);
    }
}
