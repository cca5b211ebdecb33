//! How each value of a plain CSV download is written: the bytes polars' CSV writer gives, with
//! its default quoting, its nulls and number formats, chrono's dates, and formulas defused as
//! [`crate::encode::defuse_formulas`] defuses them.

use std::io::{self, Write};
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, Float64Type, Int32Type, Int64Type, TimestampMicrosecondType};
use arrow_array::{Array, ArrayRef, BooleanArray, LargeStringArray, PrimitiveArray, StringArray, StringViewArray};
use arrow_schema::{DataType, TimeUnit};

/// Whether this writer encodes a column of `dt`: the types an ingest stores.
pub(super) fn known(dt: &DataType) -> bool {
    matches!(
        dt,
        DataType::Boolean
            | DataType::Int32
            | DataType::Int64
            | DataType::Float64
            | DataType::Date32
            | DataType::Timestamp(TimeUnit::Microsecond, None)
    ) || text(dt)
}

pub(super) fn text(dt: &DataType) -> bool {
    matches!(dt, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
}

/// Text read as dictionary codes (see [`super::coded`]).
pub(super) fn coded_text(dt: &DataType) -> bool {
    matches!(dt, DataType::Dictionary(k, v) if **k == DataType::Int32 && **v == DataType::Utf8)
}

/// One column of a batch.
pub(super) enum Cells<'a> {
    Boolean(&'a BooleanArray),
    Int32(&'a PrimitiveArray<Int32Type>),
    Int64(&'a PrimitiveArray<Int64Type>),
    Float64(&'a PrimitiveArray<Float64Type>),
    Date(&'a PrimitiveArray<Date32Type>),
    Micros(&'a PrimitiveArray<TimestampMicrosecondType>),
    Utf8(&'a StringArray, bool),
    LargeUtf8(&'a LargeStringArray, bool),
    View(&'a StringViewArray, bool),
    /// Text read as dictionary codes, each value written once in `Rendered`.
    Coded(&'a PrimitiveArray<Int32Type>, &'a Rendered),
}

impl<'a> Cells<'a> {
    pub(super) fn of(array: &'a dyn Array, defuse: bool, rendered: &'a Rendered) -> Option<Cells<'a>> {
        Some(match array.data_type() {
            DataType::Boolean => Cells::Boolean(array.as_boolean()),
            DataType::Int32 => Cells::Int32(array.as_primitive()),
            DataType::Int64 => Cells::Int64(array.as_primitive()),
            DataType::Float64 => Cells::Float64(array.as_primitive()),
            DataType::Date32 => Cells::Date(array.as_primitive()),
            DataType::Timestamp(TimeUnit::Microsecond, None) => Cells::Micros(array.as_primitive()),
            DataType::Utf8 => Cells::Utf8(array.as_string(), defuse),
            DataType::LargeUtf8 => Cells::LargeUtf8(array.as_string(), defuse),
            DataType::Utf8View => Cells::View(array.as_string_view(), defuse),
            dt if coded_text(dt) => Cells::Coded(array.as_dictionary_opt::<Int32Type>()?.keys(), rendered),
            _ => return None,
        })
    }

    /// Writes row `i`; a null is an empty field, as polars writes it.
    pub(super) fn write(&self, i: usize, buf: &mut Vec<u8>) {
        match self {
            Cells::Boolean(a) if a.is_valid(i) => buf.extend_from_slice(if a.value(i) { b"true" } else { b"false" }),
            Cells::Int32(a) if a.is_valid(i) => {
                buf.extend_from_slice(itoa::Buffer::new().format(a.value(i)).as_bytes())
            }
            Cells::Int64(a) if a.is_valid(i) => {
                buf.extend_from_slice(itoa::Buffer::new().format(a.value(i)).as_bytes())
            }
            Cells::Float64(a) if a.is_valid(i) => {
                buf.extend_from_slice(zmij::Buffer::new().format(a.value(i)).as_bytes())
            }
            Cells::Date(a) if a.is_valid(i) => write_date(buf, a.value(i)),
            Cells::Micros(a) if a.is_valid(i) => write_micros(buf, a.value(i)),
            Cells::Utf8(a, defuse) if a.is_valid(i) => write_value(buf, a.value(i).as_bytes(), *defuse),
            Cells::LargeUtf8(a, defuse) if a.is_valid(i) => write_value(buf, a.value(i).as_bytes(), *defuse),
            Cells::View(a, defuse) if a.is_valid(i) => write_value(buf, a.value(i).as_bytes(), *defuse),
            Cells::Coded(keys, rendered) if keys.is_valid(i) => buf.extend_from_slice(rendered.get(keys.value(i))),
            _ => {}
        }
    }
}

/// The values of a text column's dictionary as they are written, quoted and defused once
/// for all the rows that name them. Kept while the reader hands out the same dictionary.
#[derive(Default)]
pub(super) struct Rendered {
    values: Option<ArrayRef>,
    bytes: Vec<u8>,
    ends: Vec<usize>,
}

impl Rendered {
    pub(super) fn update(&mut self, values: &ArrayRef, defuse: bool) -> io::Result<()> {
        if self.values.as_ref().is_some_and(|v| Arc::ptr_eq(v, values)) {
            return Ok(());
        }
        let text = values.as_string_opt::<i32>().ok_or_else(|| io::Error::other("a dictionary of other than text"))?;
        self.bytes.clear();
        self.ends.clear();
        for i in 0..text.len() {
            if text.is_valid(i) {
                write_value(&mut self.bytes, text.value(i).as_bytes(), defuse);
            }
            self.ends.push(self.bytes.len());
        }
        self.values = Some(values.clone());
        Ok(())
    }

    /// The written value of dictionary entry `key`; a key the dictionary does not hold (a
    /// corrupt file) writes nothing.
    fn get(&self, key: i32) -> &[u8] {
        let Ok(k) = usize::try_from(key) else { return &[] };
        let start = if k == 0 { 0 } else { self.ends.get(k - 1).copied().unwrap_or(0) };
        self.bytes.get(start..self.ends.get(k).copied().unwrap_or(start)).unwrap_or(&[])
    }
}

/// A text value, defused when it would run as a formula.
fn write_value(buf: &mut Vec<u8>, s: &[u8], defuse: bool) {
    if defuse && risky(s) {
        let mut defused = Vec::with_capacity(s.len() + 1);
        defused.push(b'\'');
        defused.extend_from_slice(s);
        write_text(buf, &defused);
    } else {
        write_text(buf, s);
    }
}

/// Text as polars writes it with its default quoting: quoted when it holds the separator or
/// a line break, or is empty (which would read back as null); a quote doubled, and the whole
/// field quoted when it holds one.
pub(super) fn write_text(buf: &mut Vec<u8>, s: &[u8]) {
    if s.is_empty() {
        buf.extend_from_slice(b"\"\"");
        return;
    }
    // Most values are short codes and names, where a plain loop beats setting up `memchr`.
    let special = |b: &u8| matches!(b, b',' | b'\n' | b'\r' | b'"');
    let quoted = if s.len() <= 32 {
        s.iter().any(special)
    } else {
        memchr::memchr3(b',', b'\n', b'\r', s).is_some() || memchr::memchr(b'"', s).is_some()
    };
    if !quoted {
        buf.extend_from_slice(s);
        return;
    }
    buf.push(b'"');
    let mut start = 0;
    for q in memchr::memchr_iter(b'"', s) {
        buf.extend_from_slice(&s[start..=q]);
        buf.push(b'"');
        start = q + 1;
    }
    buf.extend_from_slice(&s[start..]);
    buf.push(b'"');
}

/// Whether a spreadsheet would run `s` as a formula: what [`crate::encode::defuse_formulas`]
/// matches with regular expressions, spelled out. It starts with `=`, `@`, a tab or a
/// carriage return, or with a sign that does not begin a number
/// (`^[+-][0-9]*\.?[0-9]+([eE][+-]?[0-9]+)?$`).
fn risky(s: &[u8]) -> bool {
    match s.first() {
        Some(b'=' | b'@' | b'\t' | b'\r') => true,
        Some(b'+' | b'-') => !signed_number(&s[1..]),
        _ => false,
    }
}

/// `[0-9]*\.?[0-9]+([eE][+-]?[0-9]+)?`, the whole of `s`.
fn signed_number(s: &[u8]) -> bool {
    let digits = |s: &[u8]| s.iter().take_while(|b| b.is_ascii_digit()).count();
    let whole = digits(s);
    let mut rest = &s[whole..];
    if let Some(after_point) = rest.strip_prefix(b".") {
        let fraction = digits(after_point);
        if fraction == 0 {
            return false;
        }
        rest = &after_point[fraction..];
    } else if whole == 0 {
        return false;
    }
    if let Some(exponent) = rest.strip_prefix(b"e").or_else(|| rest.strip_prefix(b"E")) {
        let exponent = exponent.strip_prefix(b"+").or_else(|| exponent.strip_prefix(b"-")).unwrap_or(exponent);
        let n = digits(exponent);
        return n > 0 && n == exponent.len();
    }
    rest.is_empty()
}

/// Days from 1970-01-01 to 0001-01-01 (day 1 of the common era, chrono's count).
const UNIX_FROM_CE: i32 = 719_163;

/// A date as `YYYY-MM-DD`, as chrono displays it; years outside 1–9999 go through chrono,
/// which writes their sign.
fn write_date(buf: &mut Vec<u8>, days: i32) {
    match civil(i64::from(days)) {
        Some(ymd) => write_ymd(buf, ymd),
        None => {
            if let Some(date) = days.checked_add(UNIX_FROM_CE).and_then(chrono::NaiveDate::from_num_days_from_ce_opt) {
                let _ = write!(buf, "{date}");
            }
        }
    }
}

const MICROS_PER_DAY: i64 = 86_400_000_000;

/// A datetime as chrono writes `%Y-%m-%dT%H:%M:%S%.f`: the fraction only when there is
/// one, in 3 or 6 digits, whichever holds it.
fn write_micros(buf: &mut Vec<u8>, micros: i64) {
    let days = micros.div_euclid(MICROS_PER_DAY);
    let Some(ymd) = civil(days) else {
        if let Some(t) = chrono::DateTime::from_timestamp_micros(micros) {
            let _ = write!(buf, "{}", t.naive_utc().format(crate::encode::DATETIME_FORMAT));
        }
        return;
    };
    let in_day = micros.rem_euclid(MICROS_PER_DAY);
    let (seconds, fraction) = (in_day / 1_000_000, (in_day % 1_000_000) as u32);
    write_ymd(buf, ymd);
    buf.push(b'T');
    write_digits(buf, (seconds / 3600) as u32, 2);
    buf.push(b':');
    write_digits(buf, (seconds / 60 % 60) as u32, 2);
    buf.push(b':');
    write_digits(buf, (seconds % 60) as u32, 2);
    if fraction != 0 {
        buf.push(b'.');
        if fraction % 1000 == 0 {
            write_digits(buf, fraction / 1000, 3);
        } else {
            write_digits(buf, fraction, 6);
        }
    }
}

/// `YYYY-MM-DD`, of what [`civil`] gives.
fn write_ymd(buf: &mut Vec<u8>, (y, m, d): (u32, u32, u32)) {
    write_digits(buf, y, 4);
    buf.push(b'-');
    write_digits(buf, m, 2);
    buf.push(b'-');
    write_digits(buf, d, 2);
}

/// Year, month and day of a day counted from 1970-01-01, for years 1–9999 (Howard Hinnant's
/// `civil_from_days`).
fn civil(days: i64) -> Option<(u32, u32, u32)> {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (1..=9999).contains(&y).then_some((y as u32, m as u32, d as u32))
}

/// `n` in exactly `width` digits, zero-padded; `n` is known to fit.
fn write_digits(buf: &mut Vec<u8>, n: u32, width: usize) {
    let start = buf.len();
    buf.resize(start + width, b'0');
    let mut n = n;
    for slot in buf[start..].iter_mut().rev() {
        *slot = b'0' + (n % 10) as u8;
        n /= 10;
    }
}

#[cfg(test)]
mod tests {
    use super::signed_number;

    #[test]
    fn signed_numbers_are_what_the_pattern_says() {
        for (s, number) in [
            ("1", true),
            ("12.5", true),
            (".5", true),
            ("1e5", true),
            ("1.5E-3", true),
            ("", false),
            (".", false),
            ("1.", false),
            ("1e", false),
            ("1e+", false),
            ("e5", false),
            ("1x", false),
            ("1.5.5", false),
        ] {
            assert_eq!(signed_number(s.as_bytes()), number, "{s:?}");
        }
    }
}
