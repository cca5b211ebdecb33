//! Detection from content, never from the file name: format, encoding, delimiter.

use encoding_rs::{Encoding, UTF_8, UTF_16BE, UTF_16LE};

/// How much of the file the detectors look at.
pub const SAMPLE_BYTES: usize = 256 * 1024;

/// What the first bytes say the file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Delimited text (CSV, TSV, semicolon-separated, ...).
    Text,
    Parquet,
    /// A ZIP container: XLSX, ODS, or a zipped file.
    Zip,
    /// A legacy OLE2 container: XLS.
    Ole2,
    Json,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Text => "csv",
            Format::Parquet => "parquet",
            Format::Zip => "xlsx",
            Format::Ole2 => "xls",
            Format::Json => "json",
        }
    }
}

/// Detects the container format from magic bytes, then JSON from its first character.
pub fn format(sample: &[u8]) -> Format {
    if sample.starts_with(b"PAR1") {
        return Format::Parquet;
    }
    if sample.starts_with(b"PK\x03\x04") {
        return Format::Zip;
    }
    if sample.starts_with(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]) {
        return Format::Ole2;
    }
    let text = sample.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(sample);
    match text.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') | Some(b'[') => Format::Json,
        _ => Format::Text,
    }
}

/// A detected text encoding and the length of its byte-order mark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Detected {
    pub encoding: &'static Encoding,
    pub bom_len: usize,
    /// What gave it away, for the quality report.
    pub reason: &'static str,
}

/// Detects the encoding: a BOM wins; then valid UTF-8; then chardetng's guess.
///
/// `complete` says whether `sample` is the whole file, so a multi-byte character cut at the
/// end of a partial sample is not mistaken for invalid UTF-8.
pub fn encoding(sample: &[u8], complete: bool) -> Detected {
    if let Some((encoding, bom_len)) = Encoding::for_bom(sample) {
        return Detected { encoding, bom_len, reason: "byte-order mark" };
    }
    match std::str::from_utf8(sample) {
        Ok(_) => {
            return Detected { encoding: UTF_8, bom_len: 0, reason: "valid UTF-8" };
        }
        Err(e) if e.error_len().is_none() && !complete => {
            return Detected { encoding: UTF_8, bom_len: 0, reason: "valid UTF-8" };
        }
        Err(_) => {}
    }
    if looks_like_bomless_utf16(sample) {
        let encoding =
            if sample.iter().step_by(2).filter(|&&b| b == 0).count() > sample.len() / 4 { UTF_16BE } else { UTF_16LE };
        return Detected { encoding, bom_len: 0, reason: "zero bytes between ASCII characters (UTF-16 without a BOM)" };
    }
    let mut detector = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
    detector.feed(sample, complete);
    Detected {
        encoding: detector.guess(None, chardetng::Utf8Detection::Allow),
        bom_len: 0,
        reason: "not UTF-8; the most likely legacy encoding for this text (chardetng)",
    }
}

/// UTF-16 text without a BOM has a zero byte in every other position for ASCII content.
fn looks_like_bomless_utf16(sample: &[u8]) -> bool {
    let zeros = sample.iter().filter(|&&b| b == 0).count();
    sample.len() >= 8 && zeros * 3 > sample.len()
}

/// Looks up an encoding by its WHATWG label (`utf-8`, `windows-1251`, `utf-16le`, `latin1`...).
pub fn encoding_for_label(label: &str) -> Option<&'static Encoding> {
    Encoding::for_label(label.trim().as_bytes())
}

/// The delimiters a sniff considers, in order of preference on a tie.
pub const DELIMITERS: [u8; 4] = [b',', b';', b'\t', b'|'];

/// Picks the delimiter that splits the sample's records most consistently into 2+ fields.
///
/// Scoring uses a real CSV parse, so delimiters inside quoted fields do not count.
pub fn delimiter(sample: &str, complete: bool) -> u8 {
    let mut best = (b',', 0.0_f64, 0_usize);
    for &d in &DELIMITERS {
        let mut reader =
            ::csv::ReaderBuilder::new().has_headers(false).flexible(true).delimiter(d).from_reader(sample.as_bytes());
        let mut counts: Vec<usize> = reader.byte_records().map_while(|r| r.ok()).map(|r| r.len()).take(200).collect();
        if !complete && counts.len() > 1 {
            counts.pop(); // the last record of a partial sample may be cut
        }
        let Some(mode) = mode(&counts) else { continue };
        if mode < 2 {
            continue;
        }
        let consistency = counts.iter().filter(|&&c| c == mode).count() as f64 / counts.len() as f64;
        if consistency > best.1 + 1e-9 || ((consistency - best.1).abs() < 1e-9 && mode > best.2) {
            best = (d, consistency, mode);
        }
    }
    best.0
}

/// The quote character: `"` unless fields are clearly wrapped in `'` instead.
pub fn quote(sample: &str, delimiter: u8) -> u8 {
    let d = char::from(delimiter);
    let (mut double, mut single) = (0, 0);
    for line in sample.lines().take(200) {
        for field in line.split(d) {
            let f = field.trim();
            if f.len() >= 2 && f.starts_with('"') && f.ends_with('"') {
                double += 1;
            } else if f.len() >= 2 && f.starts_with('\'') && f.ends_with('\'') {
                single += 1;
            }
        }
    }
    if single > double * 2 && single >= 2 { b'\'' } else { b'"' }
}

/// Legacy Mongolian fonts put Ү ү Ө ө where Windows-1251 has Ї ї Є є. Text with those letters
/// but without Ukrainian і is Mongolian written that way.
pub fn looks_like_legacy_mongolian(decoded: &str) -> bool {
    decoded.contains(['Ї', 'ї', 'Є', 'є']) && !decoded.contains(['і', 'І'])
}

fn mode(counts: &[usize]) -> Option<usize> {
    let mut freq = std::collections::HashMap::new();
    for &c in counts {
        *freq.entry(c).or_insert(0usize) += 1;
    }
    freq.into_iter().max_by_key(|&(count, n)| (n, count)).map(|(count, _)| count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_come_from_content() {
        assert_eq!(format(b"PAR1\x15\x04"), Format::Parquet);
        assert_eq!(format(b"PK\x03\x04rest"), Format::Zip);
        assert_eq!(format(b"\xEF\xBB\xBF  [{\"a\":1}]"), Format::Json);
        assert_eq!(format(b"a,b\n1,2\n"), Format::Text);
    }

    #[test]
    fn encodings() {
        assert_eq!(encoding(b"\xEF\xBB\xBFa,b", true).bom_len, 3);
        assert_eq!(encoding(b"\xFF\xFEa\0,\0", true).encoding, UTF_16LE);
        assert_eq!(encoding("Аймаг,тоо".as_bytes(), true).encoding, UTF_8);
        // A partial sample cut inside "ө" (0xD3 0xA9) is still UTF-8.
        assert_eq!(encoding(b"abc,\xD3", false).encoding, UTF_8);
        let (cp1251, _, _) =
            encoding_rs::WINDOWS_1251.encode("Аймаг,Население,Сум\nАрхангай,1000,Эрдэнэбулган\nДорнод,2000,Хэрлэн\n");
        assert_eq!(encoding(&cp1251, true).encoding.name(), "windows-1251");
    }

    #[test]
    fn quotes_and_legacy_mongolian() {
        assert_eq!(quote("'a';'b'\n'1';'2'\n", b';'), b'\'');
        assert_eq!(quote("\"a\",'b'\n1,2\n", b','), b'"');
        assert!(looks_like_legacy_mongolian("Хїн амын тоо, Ємнєговь"));
        assert!(!looks_like_legacy_mongolian("Київ, Україна, річка Дніпро"));
    }

    #[test]
    fn delimiters() {
        assert_eq!(delimiter("a;b;c\n1;2,5;3\n4;5;6\n", true), b';');
        assert_eq!(delimiter("a\tb\n1\t2\n", true), b'\t');
        assert_eq!(delimiter("name,note\n\"x\",\"a;b;c\"\n\"y\",\"d;e\"\n", true), b',');
        assert_eq!(delimiter("a|b|c\n1|2|3\n", true), b'|');
    }
}
