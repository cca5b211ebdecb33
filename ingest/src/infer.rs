//! Type inference over every value of a column, not a sample.
//!
//! Each column keeps a set of candidate types; every non-null value removes the candidates
//! it does not fit. What survives the whole file is the column's type, so the conversion
//! that follows can never meet a value it cannot parse. A column whose candidates all die
//! is text, and stops being checked.

use chrono::{NaiveDate, NaiveDateTime};
use opendata_datasets::ColumnType;

/// Tokens that mean "no value" in a typed column. In a text column they stay as written:
/// `NA` is Namibia's country code.
pub const NULL_TOKENS: &[&str] =
    &["", "NA", "N/A", "n/a", "na", "NULL", "null", "None", "-", "–", "—", "..", "...", "x", "X"];

const BOOL: u32 = 1 << 0;
const INT: u32 = 1 << 1;
const FLOAT: u32 = 1 << 2;
// Date and datetime candidates: one bit per format, in order of preference.
const FIRST_TEMPORAL: u32 = 3;

/// Temporal formats tried, as (strftime format, is datetime). ISO forms come first and have
/// a fast path; the others are tried with chrono only while they are still candidates.
const TEMPORAL: &[(&str, bool)] = &[
    ("%Y-%m-%d", false),
    ("%Y-%m-%d %H:%M:%S%.f", true),
    ("%Y-%m-%dT%H:%M:%S%.f", true),
    ("%Y-%m-%dT%H:%M:%S%.fZ", true),
    ("%Y-%m-%d %H:%M", true),
    ("%Y-%m-%dT%H:%M", true),
    ("%Y/%m/%d", false),
    ("%d.%m.%Y", false),
    ("%d/%m/%Y", false),
    ("%m/%d/%Y", false),
    ("%Y/%m/%d %H:%M:%S", true),
    ("%d.%m.%Y %H:%M:%S", true),
    ("%d.%m.%Y %H:%M", true),
    ("%m/%d/%Y %H:%M", true),
    ("%d/%m/%Y %H:%M", true),
];
const ISO_FORMATS: u32 = 6;

/// The ISO formats with optional fractional seconds, and their form without.
const WITHOUT_FRACTION: &[(&str, &str)] = &[
    ("%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%d %H:%M:%S"),
    ("%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S"),
    ("%Y-%m-%dT%H:%M:%S%.fZ", "%Y-%m-%dT%H:%M:%SZ"),
];

const ALL: u32 = BOOL | INT | FLOAT | (((1 << TEMPORAL.len()) - 1) << FIRST_TEMPORAL);

/// The inferred type of one column, with what the conversion needs to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inferred {
    pub kind: ColumnType,
    /// strftime format for dates and datetimes.
    pub format: Option<&'static str>,
    /// Some values carry surrounding spaces that must be stripped before parsing.
    pub padded: bool,
    /// Values that are null in the typed column: null tokens and missing fields. The
    /// conversion checks it produced exactly this many nulls, so no value is lost.
    pub nulls: u64,
}

/// Running inference state for one column.
#[derive(Debug, Clone)]
pub struct ColumnGuess {
    candidates: u32,
    non_null: u64,
    nulls: u64,
    padded: bool,
    fraction: bool,
}

impl Default for ColumnGuess {
    fn default() -> Self {
        Self { candidates: ALL, non_null: 0, nulls: 0, padded: false, fraction: false }
    }
}

impl ColumnGuess {
    /// Narrows the candidates with one raw value.
    #[inline]
    pub fn observe(&mut self, raw: &str) {
        if self.candidates == 0 {
            return;
        }
        let value = raw.trim();
        if NULL_TOKENS.contains(&value) {
            self.nulls += 1;
            return;
        }
        self.non_null += 1;
        if value.len() != raw.len() {
            self.padded = true;
        }
        let mut keep = 0;
        let c = self.candidates;
        if c & (INT | FLOAT) != 0 {
            match number_shape(value) {
                Shape::Int => keep |= INT | FLOAT,
                Shape::Float => keep |= FLOAT,
                Shape::Code | Shape::None => {}
            }
        }
        if c & BOOL != 0 && (value.eq_ignore_ascii_case("true") || value.eq_ignore_ascii_case("false")) {
            keep |= BOOL;
        }
        let temporal = c >> FIRST_TEMPORAL;
        if temporal != 0 {
            keep |= self.temporal(value, temporal) << FIRST_TEMPORAL;
        }
        self.candidates &= keep;
    }

    fn temporal(&mut self, value: &str, alive: u32) -> u32 {
        let b = value.as_bytes();
        // Every supported format starts with a digit and is 8 to 29 bytes long.
        if !(8..=29).contains(&b.len()) || !b[0].is_ascii_digit() {
            return 0;
        }
        let mut keep = 0;
        if alive & ((1 << ISO_FORMATS) - 1) != 0 {
            keep |= iso(b) & alive;
        }
        if b.len() > 19 && b[19] == b'.' {
            self.fraction = true;
        }
        let others = alive & !((1 << ISO_FORMATS) - 1);
        for (i, (fmt, is_datetime)) in TEMPORAL.iter().enumerate().skip(ISO_FORMATS as usize) {
            if others & (1 << i) == 0 {
                continue;
            }
            let ok = if *is_datetime {
                NaiveDateTime::parse_from_str(value, fmt).is_ok()
            } else {
                NaiveDate::parse_from_str(value, fmt).is_ok()
            };
            if ok {
                keep |= 1 << i;
            }
        }
        keep
    }

    /// A row too short to have this column.
    pub fn missing(&mut self) {
        self.nulls += 1;
    }

    /// The column's type once every value has been seen.
    pub fn finish(&self) -> Inferred {
        let c = self.candidates;
        let text = Inferred { kind: ColumnType::String, format: None, padded: false, nulls: 0 };
        if self.non_null == 0 || c == 0 {
            return text;
        }
        let typed = |kind| Inferred { kind, format: None, padded: self.padded, nulls: self.nulls };
        if c & BOOL != 0 {
            return typed(ColumnType::Boolean);
        }
        if c & INT != 0 {
            return typed(ColumnType::Integer);
        }
        if c & FLOAT != 0 {
            return typed(ColumnType::Float);
        }
        let temporal = c >> FIRST_TEMPORAL;
        let first = temporal.trailing_zeros() as usize;
        let (fmt, is_datetime) = TEMPORAL[first];
        // Without fractional seconds the engine's fast parser applies; `%.f` would defeat it.
        let fmt =
            if self.fraction { fmt } else { WITHOUT_FRACTION.iter().find(|(f, _)| *f == fmt).map_or(fmt, |(_, w)| w) };
        Inferred {
            kind: if is_datetime { ColumnType::Datetime } else { ColumnType::Date },
            format: Some(fmt),
            padded: self.padded,
            nulls: self.nulls,
        }
    }
}

enum Shape {
    Int,
    Float,
    /// Digits with a leading zero, such as `05111`: an identifier, not a number.
    Code,
    None,
}

/// Classifies `-?\d+` (no leading zero, at most 18 digits) and simple decimals/exponents.
#[inline]
fn number_shape(s: &str) -> Shape {
    let b = s.as_bytes();
    let digits = b.strip_prefix(b"-").unwrap_or(b);
    if digits.is_empty() {
        return Shape::None;
    }
    let int_len = digits.iter().take_while(|c| c.is_ascii_digit()).count();
    if int_len == digits.len() {
        if int_len > 1 && digits[0] == b'0' {
            return Shape::Code;
        }
        return if int_len <= 18 { Shape::Int } else { Shape::Code };
    }
    if int_len > 1 && digits[0] == b'0' {
        return Shape::Code;
    }
    let mut i = int_len;
    let mut frac_len = 0;
    if digits[i] == b'.' {
        i += 1;
        frac_len = digits[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        i += frac_len;
    }
    if int_len + frac_len == 0 {
        return Shape::None;
    }
    if i < digits.len() && (digits[i] == b'e' || digits[i] == b'E') {
        i += 1;
        if i < digits.len() && (digits[i] == b'+' || digits[i] == b'-') {
            i += 1;
        }
        let exp_len = digits[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        if exp_len == 0 {
            return Shape::None;
        }
        i += exp_len;
    }
    if i == digits.len() { Shape::Float } else { Shape::None }
}

/// Fast check of the ISO forms (`TEMPORAL[0..ISO_FORMATS]`), returning their bits.
#[inline]
fn iso(b: &[u8]) -> u32 {
    fn num(b: &[u8]) -> Option<u32> {
        b.iter().try_fold(0u32, |acc, &c| c.is_ascii_digit().then(|| acc * 10 + (c - b'0') as u32))
    }
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return 0;
    }
    let (Some(y), Some(m), Some(d)) = (num(&b[0..4]), num(&b[5..7]), num(&b[8..10])) else {
        return 0;
    };
    if NaiveDate::from_ymd_opt(y as i32, m, d).is_none() {
        return 0;
    }
    if b.len() == 10 {
        return 1 << 0;
    }
    let sep_t = match b[10] {
        b' ' => false,
        b'T' => true,
        _ => return 0,
    };
    let time = &b[11..];
    if time.len() < 5 || time[2] != b':' {
        return 0;
    }
    let (Some(h), Some(mi)) = (num(&time[0..2]), num(&time[3..5])) else {
        return 0;
    };
    if h > 23 || mi > 59 {
        return 0;
    }
    if time.len() == 5 {
        return if sep_t { 1 << 5 } else { 1 << 4 };
    }
    if time.len() < 8 || time[5] != b':' {
        return 0;
    }
    let Some(s) = num(&time[6..8]) else { return 0 };
    if s > 59 {
        return 0;
    }
    let mut rest = &time[8..];
    if let Some(frac) = rest.strip_prefix(b".") {
        let n = frac.iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 || n > 9 {
            return 0;
        }
        rest = &frac[n..];
    }
    match (rest, sep_t) {
        (b"", false) => 1 << 1,
        (b"", true) => 1 << 2,
        (b"Z", true) => 1 << 3,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn infer(values: &[&str]) -> Inferred {
        let mut g = ColumnGuess::default();
        values.iter().for_each(|v| g.observe(v));
        g.finish()
    }

    #[test]
    fn numbers() {
        assert_eq!(infer(&["1", "-2", "NA", ""]).kind, ColumnType::Integer);
        assert_eq!(infer(&["1", "2.5", "1e3", "-.5"]).kind, ColumnType::Float);
        assert_eq!(infer(&["0.5", "0", "10"]).kind, ColumnType::Float);
        // Leading zeros are codes, whatever else the column holds.
        assert_eq!(infer(&["05", "10"]).kind, ColumnType::String);
        assert_eq!(infer(&["1", "2", "K"]).kind, ColumnType::String);
        assert_eq!(infer(&["12345678901234567890"]).kind, ColumnType::String);
        assert!(infer(&[" 12", "3 "]).padded);
    }

    #[test]
    fn booleans_and_nulls() {
        assert_eq!(infer(&["true", "FALSE", "-"]).kind, ColumnType::Boolean);
        assert_eq!(infer(&["", "NA", ".."]).kind, ColumnType::String);
    }

    #[test]
    fn temporal() {
        let d = infer(&["2020-01-31", "2021-02-28"]);
        assert_eq!((d.kind, d.format), (ColumnType::Date, Some("%Y-%m-%d")));
        assert_eq!(infer(&["2020-02-30"]).kind, ColumnType::String);
        let dt = infer(&["2020-01-01 00:00:00", "2020-01-01 13:05:09.25"]);
        assert_eq!((dt.kind, dt.format), (ColumnType::Datetime, Some("%Y-%m-%d %H:%M:%S%.f")));
        let whole = infer(&["2020-01-01 00:00:00", "NA"]);
        assert_eq!((whole.format, whole.nulls), (Some("%Y-%m-%d %H:%M:%S"), 1));
        assert_eq!(infer(&["2020-01-01T10:00:00Z"]).format, Some("%Y-%m-%dT%H:%M:%SZ"));
        assert_eq!(infer(&["31.12.2020", "01.01.2021"]).format, Some("%d.%m.%Y"));
        // 13/01 rules out month-first.
        assert_eq!(infer(&["01/02/2020", "13/01/2020"]).format, Some("%d/%m/%Y"));
        assert_eq!(infer(&["10/1/2015 0:00", "12/31/2015 13:00"]).format, Some("%m/%d/%Y %H:%M"));
        // Mixed dates and datetimes are text: nothing is silently truncated.
        assert_eq!(infer(&["2020-01-01", "2020-01-01 10:00"]).kind, ColumnType::String);
    }
}
