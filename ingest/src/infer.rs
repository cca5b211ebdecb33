//! Type inference over every value of a column, not a sample.
//!
//! Each column keeps a set of candidate types; every non-null value removes the candidates
//! it does not fit. What survives the whole file is the column's type, so the conversion
//! that follows can never meet a value it cannot parse.
//!
//! A value that fits none of the surviving candidates is set aside as an exception instead of
//! turning the column to text at once. When a large column has only a handful of them (at
//! most one in a thousand), it keeps its type and those values are *rejected*: they become
//! null, and the quality report lists each with its row. Anything more and the column is text.

use chrono::{NaiveDate, NaiveDateTime};
use opendata_datasets::ColumnType;

/// Tokens that mean "no value" in a typed column. In a text column they stay as written:
/// `NA` is Namibia's country code.
pub const NULL_TOKENS: &[&str] =
    &["", "NA", "N/A", "n/a", "na", "NULL", "null", "None", "-", "–", "—", ".", "..", "...", "…", "x", "X", "n.a."];

const BOOL: u32 = 1 << 0;
/// Plain numbers: `1234.5`, `1e3`.
const INT: u32 = 1 << 1;
const FLOAT: u32 = 1 << 2;
/// Comma thousands separators, dot decimals: `1,234.5`.
const INT_GROUP: u32 = 1 << 3;
const FLOAT_GROUP: u32 = 1 << 4;
/// Dot (or no) thousands separators, decimal comma: `1.234,5`, `3,3`.
const INT_DEC: u32 = 1 << 5;
const FLOAT_DEC: u32 = 1 << 6;
/// Statistical periods: months (`2020-03`, `2020M03`) and quarters (`2020Q1`, `Q4 1952`).
const MONTH: u32 = 1 << 7;
const QUARTER: u32 = 1 << 8;
// Date and datetime candidates: one bit per format, in order of preference.
const FIRST_TEMPORAL: u32 = 9;

const INTS: u32 = INT | INT_GROUP | INT_DEC;
const NUMBERS: u32 = INT | FLOAT | INT_GROUP | FLOAT_GROUP | INT_DEC | FLOAT_DEC;

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
    // Compact dates such as Vienna's `18691231`; they also parse as integers, and win.
    ("%Y%m%d", false),
];
const ISO_FORMATS: u32 = 6;
const COMPACT_DATE: u32 = 1 << (FIRST_TEMPORAL as usize + TEMPORAL.len() - 1);
const TEMPORALS: u32 = ((1 << TEMPORAL.len()) - 1) << FIRST_TEMPORAL;

/// The ISO formats with optional fractional seconds, and their form without.
const WITHOUT_FRACTION: &[(&str, &str)] = &[
    ("%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%d %H:%M:%S"),
    ("%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S"),
    ("%Y-%m-%dT%H:%M:%S%.fZ", "%Y-%m-%dT%H:%M:%SZ"),
];

const ALL: u32 = BOOL | NUMBERS | MONTH | QUARTER | TEMPORALS;

/// Exceptions kept per column before it is declared text.
const MAX_EXCEPTIONS: usize = 100;
/// A typed column tolerates one exception per this many values...
const TOLERANCE: u64 = 1_000;
/// ...and only when it has at least this many values: in a small file one odd value is as
/// likely to be the truth about the column as a typo.
const MIN_VALUES_FOR_REJECTS: u64 = 1_000;

/// How the digits of a number column are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NumberStyle {
    /// `1234.5`
    #[default]
    Plain,
    /// `1,234.5`
    CommaThousands,
    /// `1.234,5` or `3,3`
    DecimalComma,
}

/// A statistical period stored as the date it starts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    Month,
    Quarter,
}

/// One value a typed column could not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exception {
    /// Row number in the source, as the report shows it.
    pub row: u64,
    pub value: String,
}

/// The inferred type of one column, with what the conversion needs to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inferred {
    pub kind: ColumnType,
    /// strftime format for dates and datetimes.
    pub format: Option<&'static str>,
    pub number: NumberStyle,
    pub period: Option<Period>,
    /// Values carry a trailing `%` that is dropped; the number is kept as written.
    pub percent: bool,
    /// Some values carry spaces (padding or digit groups) that must go before parsing.
    pub padded: bool,
    /// Values that are null in the typed column: null tokens and missing fields. The
    /// conversion checks it produced exactly this many nulls plus the rejected values.
    pub nulls: u64,
    /// Some nulls are written out (`NA`, `..`), not just empty.
    pub null_tokens: bool,
    /// Booleans are not all written in lowercase.
    pub bool_cased: bool,
    /// Values that did not fit the type and become null: the first [`MAX_EXCEPTIONS`], which
    /// the quality report lists.
    pub rejected: Vec<Exception>,
    /// Every value that did not fit, listed or not.
    pub rejected_count: u64,
    /// Why the column has this type, for the quality report.
    pub reason: String,
    /// Values its publisher said mean "no value" (`-999`, `н/б`), beside [`NULL_TOKENS`]:
    /// the conversion makes them null, in text columns too.
    pub markers: Vec<String>,
}

impl Inferred {
    /// A text column, for the given reason.
    pub fn text(reason: String) -> Self {
        Self {
            kind: ColumnType::String,
            format: None,
            number: NumberStyle::Plain,
            period: None,
            percent: false,
            padded: false,
            nulls: 0,
            null_tokens: false,
            bool_cased: false,
            rejected: Vec::new(),
            rejected_count: 0,
            reason,
            markers: Vec::new(),
        }
    }

    /// Nulls the conversion must produce: null tokens, missing fields and rejected values.
    pub fn expected_nulls(&self) -> u64 {
        self.nulls + self.rejected_count
    }
}

/// Running inference state for one column.
#[derive(Debug, Clone)]
pub struct ColumnGuess {
    candidates: u32,
    non_null: u64,
    nulls: u64,
    null_tokens: bool,
    /// A boolean written other than `true`/`false` (`TRUE`, `False`).
    bool_cased: bool,
    padded: bool,
    fraction: bool,
    percent: bool,
    exceptions: Vec<Exception>,
    /// Every exception, listed or not: a column whose type was fixed lists only the first
    /// [`MAX_EXCEPTIONS`], so that a 10M-row column of text forced to numbers costs no memory.
    exception_count: u64,
    /// A manifest fixed the type: exceptions never turn the column to text.
    forced: Option<ColumnType>,
    /// The first value seen, kept to explain a text column.
    first_text: Option<Exception>,
    /// Shortest and longest non-null value, in bytes: codes have one width.
    widths: (usize, usize),
    /// Values a publisher said mean "no value", beside [`NULL_TOKENS`].
    markers: std::sync::Arc<[String]>,
}

impl Default for ColumnGuess {
    fn default() -> Self {
        Self {
            candidates: ALL,
            non_null: 0,
            nulls: 0,
            null_tokens: false,
            bool_cased: false,
            padded: false,
            fraction: false,
            percent: false,
            exceptions: Vec::new(),
            exception_count: 0,
            forced: None,
            first_text: None,
            widths: (usize::MAX, 0),
            markers: std::sync::Arc::from([]),
        }
    }
}

impl ColumnGuess {
    /// The same guess, counting `markers` as "no value" too.
    pub fn with_markers(self, markers: &std::sync::Arc<[String]>) -> Self {
        Self { markers: markers.clone(), ..self }
    }

    /// A column whose type a publisher fixed: only that type's formats are tried.
    pub fn forced(kind: ColumnType) -> Self {
        let candidates = match kind {
            ColumnType::Boolean => BOOL,
            ColumnType::Integer => INTS,
            ColumnType::Float => NUMBERS,
            ColumnType::Date => MONTH | QUARTER | date_bits(false),
            ColumnType::Datetime => date_bits(true),
            ColumnType::String => 0,
        };
        Self { candidates, forced: Some(kind), ..Self::default() }
    }

    /// Narrows the candidates with one raw value from source row `row`. Returns whether the
    /// value was listed as an exception (so the caller can note where the row is).
    #[inline]
    pub fn observe(&mut self, raw: &str, row: u64) -> bool {
        if self.candidates == 0 {
            return false;
        }
        let value = raw.trim();
        if NULL_TOKENS.contains(&value) || self.markers.iter().any(|m| m == value) {
            self.nulls += 1;
            self.null_tokens |= !value.is_empty();
            return false;
        }
        self.non_null += 1;
        if value.len() != raw.len() {
            self.padded = true;
        }
        self.widths = (self.widths.0.min(value.len()), self.widths.1.max(value.len()));
        let c = self.candidates;
        let mut keep = 0;
        if c & NUMBERS != 0 {
            keep |= self.number(value);
        }
        if c & BOOL != 0 && (value.eq_ignore_ascii_case("true") || value.eq_ignore_ascii_case("false")) {
            keep |= BOOL;
            self.bool_cased |= value != "true" && value != "false";
        }
        if c & (MONTH | QUARTER) != 0 {
            keep |= period(value.as_bytes());
        }
        let temporal = c >> FIRST_TEMPORAL;
        if temporal != 0 {
            keep |= self.temporal(value, temporal) << FIRST_TEMPORAL;
        }
        keep &= c;
        if keep != 0 {
            self.candidates = keep;
            return false;
        }
        if self.first_text.is_none() {
            self.first_text = Some(Exception { row, value: raw.to_owned() });
        }
        self.exception_count += 1;
        if self.exceptions.len() < MAX_EXCEPTIONS {
            self.exceptions.push(Exception { row, value: raw.to_owned() });
            return true;
        }
        if self.forced.is_none() {
            self.candidates = 0;
            self.exceptions = Vec::new();
        }
        false
    }

    /// Rewrites the row numbers of exceptions (recorded as provisional ids) for the report.
    pub fn renumber(&mut self, real: &dyn Fn(u64) -> u64) {
        for e in self.exceptions.iter_mut().chain(self.first_text.as_mut()) {
            e.row = real(e.row);
        }
    }

    /// Which number styles `value` fits; notes percent signs and digit-group spaces.
    fn number(&mut self, value: &str) -> u32 {
        let mut v = value;
        if let Some(stripped) = v.strip_suffix('%') {
            v = stripped.trim_end();
            if v.is_empty() {
                return 0;
            }
            self.percent = true;
        }
        if v.bytes().any(|b| b == b' ' || b >= 0x80) {
            // `2 536 431` or `1 234,5` with (non-breaking, narrow) spaces between groups.
            let compact: String = v.chars().filter(|c| !matches!(c, ' ' | '\u{a0}' | '\u{202f}')).collect();
            if compact.len() == v.len() || !spaced_groups(v) {
                return 0;
            }
            self.padded = true;
            return number_fits(compact.as_bytes());
        }
        number_fits(v.as_bytes())
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
            } else if *fmt == "%Y%m%d" {
                compact_date(b)
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

    /// The column's type once every value has been seen, knowing its header: integers of one
    /// width under an identifier's name (`INN`, `Admin_Code`, `ОКПО`) are codes, kept as text,
    /// so they join with the same codes elsewhere and never lose a leading zero.
    pub fn finish_labelled(&self, label: &str) -> Inferred {
        let inferred = self.finish();
        let markers = inferred.markers.clone();
        let (short, long) = self.widths;
        let fixed = short == long && short >= 2;
        let strength = identifier_label(label);
        if self.forced.is_none()
            && inferred.kind == ColumnType::Integer
            && inferred.number == NumberStyle::Plain
            && !inferred.padded
            && (strength == 2 || (strength == 1 && fixed))
        {
            let reason = "codes: whole numbers under an identifier's header, kept as text".into();
            return Inferred { markers, ..Inferred::text(reason) };
        }
        inferred
    }

    /// The column's type once every value has been seen.
    pub fn finish(&self) -> Inferred {
        Inferred { markers: self.markers.to_vec(), ..self.finish_type() }
    }

    fn finish_type(&self) -> Inferred {
        let text = Inferred::text;
        if self.forced == Some(ColumnType::String) {
            return text("text, as the manifest says".into());
        }
        if self.non_null == 0 {
            return text("no values".into());
        }
        let tolerated = self.forced.is_some()
            || (self.non_null >= MIN_VALUES_FOR_REJECTS && self.exception_count * TOLERANCE <= self.non_null);
        let c = self.candidates;
        if c == 0 || (!self.exceptions.is_empty() && !tolerated) {
            let reason = match &self.first_text {
                Some(e) => format!("text: `{}` (row {}) is not a number, date or boolean", e.value.trim(), e.row),
                None => "text".into(),
            };
            return text(reason);
        }
        let mut inferred = Inferred {
            kind: ColumnType::String,
            format: None,
            number: NumberStyle::Plain,
            period: None,
            percent: self.percent,
            padded: self.padded,
            nulls: self.nulls,
            null_tokens: self.null_tokens,
            bool_cased: self.bool_cased,
            rejected: self.exceptions.clone(),
            rejected_count: self.exception_count,
            reason: String::new(),
            markers: Vec::new(),
        };
        let mut how = String::new();
        if c & BOOL != 0 {
            inferred.kind = ColumnType::Boolean;
            how.push_str("every value is true or false");
        } else if c & COMPACT_DATE != 0 && c & INT != 0 {
            inferred.kind = ColumnType::Date;
            inferred.format = Some("%Y%m%d");
            how.push_str("every value is a date written YYYYMMDD");
        } else if c & NUMBERS != 0 {
            let (kind, style) = [
                (INT, ColumnType::Integer, NumberStyle::Plain),
                (FLOAT, ColumnType::Float, NumberStyle::Plain),
                (INT_GROUP, ColumnType::Integer, NumberStyle::CommaThousands),
                (FLOAT_GROUP, ColumnType::Float, NumberStyle::CommaThousands),
                (INT_DEC, ColumnType::Integer, NumberStyle::DecimalComma),
                (FLOAT_DEC, ColumnType::Float, NumberStyle::DecimalComma),
            ]
            .into_iter()
            .find(|(bit, _, _)| c & bit != 0)
            .map(|(_, k, s)| (k, s))
            .expect("a number bit is set");
            inferred.kind = self.forced.unwrap_or(kind);
            inferred.number = style;
            how.push_str(match (kind, style) {
                (ColumnType::Integer, NumberStyle::Plain) => "every value is an integer",
                (_, NumberStyle::Plain) => "every value is a number",
                (ColumnType::Integer, NumberStyle::CommaThousands) => "integers with `,` thousands separators",
                (_, NumberStyle::CommaThousands) => "numbers with `,` thousands separators",
                (_, NumberStyle::DecimalComma) => "numbers with a decimal comma",
            });
            if self.percent {
                how.push_str("; `%` signs dropped, values kept as written");
            }
        } else if c & (MONTH | QUARTER) != 0 {
            inferred.kind = ColumnType::Date;
            let p = if c & MONTH != 0 { Period::Month } else { Period::Quarter };
            inferred.period = Some(p);
            how.push_str(match p {
                Period::Month => "monthly periods, stored as the first day of the month",
                Period::Quarter => "quarterly periods, stored as the first day of the quarter",
            });
        } else {
            let temporal = c >> FIRST_TEMPORAL;
            let (fmt, is_datetime) = TEMPORAL[temporal.trailing_zeros() as usize];
            // Without fractional seconds the engine's fast parser applies; `%.f` would defeat it.
            let fmt = if self.fraction {
                fmt
            } else {
                WITHOUT_FRACTION.iter().find(|(f, _)| *f == fmt).map_or(fmt, |(_, w)| w)
            };
            inferred.kind = if is_datetime { ColumnType::Datetime } else { ColumnType::Date };
            inferred.format = Some(fmt);
            how = format!("every value is a {} written `{fmt}`", inferred.kind);
        }
        if self.forced.is_some() {
            how = format!("{}, as the manifest says ({how})", inferred.kind);
        }
        if inferred.rejected_count > 0 {
            how.push_str(&format!("; {} value(s) that are not were rejected", inferred.rejected_count));
        }
        inferred.reason = how;
        inferred
    }
}

/// Words that name a code in a header: numbers of one width under them are codes.
const CODE_WORDS: &[&str] = &["id", "code", "codes", "kod", "код", "дугаар", "регистр", "регистрийн"];
/// Registry identifiers that are text whatever their width: tax numbers (INN is 10 or 12
/// digits), statistical and postal codes.
const REGISTRY_WORDS: &[&str] = &[
    "inn",
    "инн",
    "okpo",
    "окпо",
    "ogrn",
    "огрн",
    "kpp",
    "кпп",
    "oktmo",
    "октмо",
    "okato",
    "окато",
    "ags",
    "fips",
    "zip",
    "zipcode",
    "postcode",
    "postal",
];

/// How strongly a header names an identifier: 2 for a registry number, 1 for a code.
fn identifier_label(label: &str) -> u8 {
    let words: Vec<String> =
        label.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase).collect();
    if words.iter().any(|w| REGISTRY_WORDS.contains(&w.as_str())) {
        2
    } else if words.iter().any(|w| CODE_WORDS.contains(&w.as_str())) {
        1
    } else {
        0
    }
}

fn date_bits(datetime: bool) -> u32 {
    TEMPORAL
        .iter()
        .enumerate()
        .filter(|(_, (_, is_dt))| *is_dt == datetime)
        .fold(0, |acc, (i, _)| acc | 1 << (i as u32 + FIRST_TEMPORAL))
}

/// `1 234 567` or `1 234,5`: the spaces separate groups of three digits.
fn spaced_groups(v: &str) -> bool {
    let mut parts = v.split([' ', '\u{a0}', '\u{202f}']).filter(|p| !p.is_empty());
    let Some(first) = parts.next() else { return false };
    let first = first.trim_start_matches(['-', '+']);
    if first.is_empty() || first.len() > 3 || !first.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    parts.all(|p| {
        let digits = p.split([',', '.']).next().unwrap_or(p);
        digits.len() == 3 && digits.bytes().all(|b| b.is_ascii_digit())
    })
}

/// Which number styles (`INT`, `FLOAT`, `*_GROUP`, `*_DEC` bits) a trimmed value fits.
fn number_fits(b: &[u8]) -> u32 {
    let (signed, body) = match b.first() {
        Some(b'-') | Some(b'+') => (true, &b[1..]),
        _ => (false, b),
    };
    if body.is_empty() {
        return 0;
    }
    // `05111` is a code; `0.5`, `0,5` and a zero-padded negative count such as `-01` are numbers.
    if !signed && body.len() > 1 && body[0] == b'0' && body[1].is_ascii_digit() {
        return 0;
    }
    if body.iter().all(u8::is_ascii_digit) {
        // Beyond 18 digits an integer no longer fits: such values are identifiers.
        return if body.len() <= 18 { NUMBERS } else { 0 };
    }
    let mut fits = match plain_shape(body) {
        Shape::Int => INT | FLOAT,
        Shape::Float => FLOAT,
        Shape::None => 0,
    };
    let (int, frac) = match body.iter().position(|&c| c == b'.' || c == b',') {
        Some(_) => split_last_separator(body),
        None => return fits,
    };
    let digits = |s: &[u8]| !s.is_empty() && s.iter().all(u8::is_ascii_digit);
    // Comma thousands: `1,234` `1,234,567.5`; a single `.` with digits is a plain float too.
    if let Some((int_part, frac_part)) = split_once(body, b'.') {
        if (digits(int_part) || grouped(int_part, b',')) && digits(frac_part) {
            fits |= FLOAT_GROUP;
        }
    } else if grouped(body, b',') {
        fits |= INT_GROUP | FLOAT_GROUP;
    }
    // Decimal comma: `3,3` `1.234,5`; `1.234` alone is a grouped integer.
    match (int, frac) {
        (i, Some((b',', f))) if digits(f) && (digits(i) || grouped(i, b'.')) => fits |= FLOAT_DEC,
        _ if !body.contains(&b',') && grouped(body, b'.') => fits |= INT_DEC | FLOAT_DEC,
        _ => {}
    }
    fits
}

/// Splits at the last `.` or `,`: the integer part and (separator, fraction).
fn split_last_separator(b: &[u8]) -> (&[u8], Option<(u8, &[u8])>) {
    match b.iter().rposition(|&c| c == b'.' || c == b',') {
        Some(i) => (&b[..i], Some((b[i], &b[i + 1..]))),
        None => (b, None),
    }
}

fn split_once(b: &[u8], sep: u8) -> Option<(&[u8], &[u8])> {
    let i = b.iter().position(|&c| c == sep)?;
    if b[i + 1..].contains(&sep) {
        return None;
    }
    Some((&b[..i], &b[i + 1..]))
}

/// `d{1,3}(<sep>ddd)+`: digits grouped by threes with at least one separator.
fn grouped(b: &[u8], sep: u8) -> bool {
    let mut parts = b.split(|&c| c == sep);
    let Some(first) = parts.next() else { return false };
    if first.is_empty() || first.len() > 3 || !first.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let mut n = 0;
    for p in parts {
        if p.len() != 3 || !p.iter().all(u8::is_ascii_digit) {
            return false;
        }
        n += 1;
    }
    n > 0
}

enum Shape {
    Int,
    Float,
    None,
}

/// Classifies unsigned `\d+`, decimals and exponents.
#[inline]
fn plain_shape(digits: &[u8]) -> Shape {
    let int_len = digits.iter().take_while(|c| c.is_ascii_digit()).count();
    if int_len == digits.len() {
        return if int_len <= 18 { Shape::Int } else { Shape::None };
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

/// `YYYYMMDD` between 1700 and 2199, a real calendar day.
fn compact_date(b: &[u8]) -> bool {
    if b.len() != 8 || !b.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let n = |s: &[u8]| s.iter().fold(0u32, |acc, &c| acc * 10 + (c - b'0') as u32);
    let (y, m, d) = (n(&b[0..4]), n(&b[4..6]), n(&b[6..8]));
    (1700..2200).contains(&y) && NaiveDate::from_ymd_opt(y as i32, m, d).is_some()
}

/// The period bits a value fits: `2020-03`, `2020M03` (months); `2020Q1`, `2020-Q1`,
/// `2020 Q1`, `Q1 2020`, `Q1-2020` (quarters).
fn period(b: &[u8]) -> u32 {
    let year = |s: &[u8]| s.len() == 4 && s.iter().all(u8::is_ascii_digit) && (b'1'..=b'2').contains(&s[0]);
    let quarter = |s: &[u8]| s.len() == 2 && (s[0] == b'Q' || s[0] == b'q') && (b'1'..=b'4').contains(&s[1]);
    match b.len() {
        7 if year(&b[..4]) && (b[4] == b'-' || b[4] == b'M') && b[5..].iter().all(u8::is_ascii_digit) => {
            let month = (b[5] - b'0') * 10 + b[6] - b'0';
            if (1..=12).contains(&month) { MONTH } else { 0 }
        }
        6 if year(&b[..4]) && quarter(&b[4..]) => QUARTER,
        6 if quarter(&b[..2]) && year(&b[2..]) => QUARTER,
        7 if year(&b[..4]) && (b[4] == b'-' || b[4] == b' ') && quarter(&b[5..]) => QUARTER,
        7 if quarter(&b[..2]) && (b[2] == b'-' || b[2] == b' ') && year(&b[3..]) => QUARTER,
        _ => 0,
    }
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

/// What a single cell looks like, for layout detection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CellClass {
    Empty,
    /// A null token such as `..` or `-`.
    Null,
    /// A number (in any style); `year` when it is a whole number from 1800 to 2100.
    Number {
        year: bool,
    },
    /// A date, datetime or period.
    Temporal,
    Text,
}

/// Classifies one cell on its own, as the layout detector needs.
pub fn classify(raw: &str) -> CellClass {
    let v = raw.trim();
    if v.is_empty() {
        return CellClass::Empty;
    }
    if NULL_TOKENS.contains(&v) {
        return CellClass::Null;
    }
    let mut g = ColumnGuess::default();
    g.observe(v, 0);
    let c = g.candidates;
    if !g.exceptions.is_empty() {
        return CellClass::Text;
    }
    if c & (TEMPORALS & !COMPACT_DATE | MONTH | QUARTER) != 0 && c & NUMBERS == 0 {
        return CellClass::Temporal;
    }
    if c & NUMBERS != 0 {
        let year = v.len() == 4 && c & INT != 0 && (1800..=2100).contains(&v.parse::<u32>().unwrap_or(0));
        return CellClass::Number { year };
    }
    CellClass::Text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn infer(values: &[&str]) -> Inferred {
        let mut g = ColumnGuess::default();
        values.iter().enumerate().for_each(|(i, v)| {
            g.observe(v, i as u64 + 2);
        });
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
        // A zero-padded negative count is a number, not a code.
        assert_eq!(infer(&["-01", "23"]).kind, ColumnType::Integer);
    }

    #[test]
    fn number_styles() {
        let bls = infer(&["23,288  ", "579  ", "1,302"]);
        assert_eq!((bls.kind, bls.number, bls.padded), (ColumnType::Integer, NumberStyle::CommaThousands, true));
        let de = infer(&["3,3", "2,9", "12"]);
        assert_eq!((de.kind, de.number), (ColumnType::Float, NumberStyle::DecimalComma));
        assert_eq!(infer(&["1.234,5", "2,5"]).number, NumberStyle::DecimalComma);
        let pct = infer(&["12.5%", "3 %"]);
        assert_eq!((pct.kind, pct.percent), (ColumnType::Float, true));
        let spaced = infer(&["2 536 431", "1\u{a0}234"]);
        assert_eq!((spaced.kind, spaced.padded), (ColumnType::Integer, true));
        assert_eq!(infer(&["1,23,4"]).kind, ColumnType::String);
        assert_eq!(infer(&["60.30.11"]).kind, ColumnType::String);
        assert_eq!(infer(&["1-684"]).kind, ColumnType::String);
    }

    #[test]
    fn booleans_and_nulls() {
        assert_eq!(infer(&["true", "FALSE", "-"]).kind, ColumnType::Boolean);
        assert_eq!(infer(&["", "NA", ".."]).kind, ColumnType::String);
        let vienna = infer(&["68079", ".", "73009"]);
        assert_eq!((vienna.kind, vienna.nulls), (ColumnType::Integer, 1));
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
        let compact = infer(&["18691231", "20150101"]);
        assert_eq!((compact.kind, compact.format), (ColumnType::Date, Some("%Y%m%d")));
        assert_eq!(infer(&["18691231", "20151301"]).kind, ColumnType::Integer);
    }

    #[test]
    fn periods() {
        assert_eq!(infer(&["1958-03", "2026-06"]).period, Some(Period::Month));
        assert_eq!(infer(&["2020M01", "2020M12"]).period, Some(Period::Month));
        assert_eq!(infer(&["2020-13"]).kind, ColumnType::String);
        let q = infer(&["2020Q1", "2020-Q2", "Q4 1952", "2021 q3"]);
        assert_eq!((q.kind, q.period), (ColumnType::Date, Some(Period::Quarter)));
        // Years alone stay integers: they sort and filter as they are.
        assert_eq!(infer(&["2019", "2020"]).kind, ColumnType::Integer);
    }

    #[test]
    fn a_few_bad_values_are_rejected_not_fatal() {
        let mut values: Vec<String> = (0..5_000).map(|i| i.to_string()).collect();
        values[4_321] = "n/k".into();
        let refs: Vec<&str> = values.iter().map(String::as_str).collect();
        let got = infer(&refs);
        assert_eq!(got.kind, ColumnType::Integer);
        assert_eq!(got.rejected, vec![Exception { row: 4_323, value: "n/k".into() }]);
        assert_eq!(got.expected_nulls(), 1);
        // In a small column the odd value wins: it is text.
        let small = infer(&["1", "2", "n/k"]);
        assert_eq!(small.kind, ColumnType::String);
        assert!(small.reason.contains("`n/k` (row 4)"), "{}", small.reason);
    }

    #[test]
    fn forced_types_keep_their_type() {
        let mut g = ColumnGuess::forced(ColumnType::Float);
        for (i, v) in ["1", "x1", "2,5"].iter().enumerate() {
            g.observe(v, i as u64);
        }
        let got = g.finish();
        assert_eq!((got.kind, got.rejected.len()), (ColumnType::Float, 1));
        let mut s = ColumnGuess::forced(ColumnType::String);
        s.observe("12", 1);
        assert_eq!(s.finish().kind, ColumnType::String);
    }

    #[test]
    fn a_publishers_null_markers_are_no_value() {
        let markers: std::sync::Arc<[String]> = ["-999".to_owned(), "н/б".to_owned()].into();
        let mut g = ColumnGuess::default().with_markers(&markers);
        for (i, v) in ["12", " -999 ", "н/б", "7"].iter().enumerate() {
            g.observe(v, i as u64);
        }
        let got = g.finish();
        assert_eq!((got.kind, got.nulls, got.null_tokens), (ColumnType::Integer, 2, true));
        assert_eq!(got.markers, ["-999", "н/б"], "the conversion makes them null");
        let mut plain = ColumnGuess::default();
        plain.observe("-999", 1);
        assert_eq!((plain.finish().nulls, plain.finish().kind), (0, ColumnType::Integer), "a value without them");
    }

    #[test]
    fn codes_under_identifier_headers_stay_text() {
        let mut g = ColumnGuess::default();
        for v in ["7736050003", "5906001179"] {
            g.observe(v, 1);
        }
        assert_eq!(g.finish_labelled("INN").kind, ColumnType::String);
        assert_eq!(g.finish_labelled("Admin_Code").kind, ColumnType::String);
        assert_eq!(g.finish_labelled("amount").kind, ColumnType::Integer);
        let mut varied = ColumnGuess::default();
        for v in ["4", "248", "16"] {
            varied.observe(v, 1);
        }
        assert_eq!(varied.finish_labelled("Region Code").kind, ColumnType::Integer);
    }

    #[test]
    fn cell_classes() {
        assert_eq!(classify("1960"), CellClass::Number { year: true });
        assert_eq!(classify("54211"), CellClass::Number { year: false });
        assert_eq!(classify("Country Name"), CellClass::Text);
        assert_eq!(classify("1958-03"), CellClass::Temporal);
        assert_eq!(classify(" .. "), CellClass::Null);
        assert_eq!(classify("18101"), CellClass::Number { year: false });
    }
}
