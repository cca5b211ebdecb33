//! XLSX export: the spreadsheet people open, up to Excel's limit of 1,048,576 rows.
//!
//! Written with rust_xlsxwriter in constant-memory mode (rows go to a temporary file as they
//! are written, so memory does not grow with the sheet) and streamed to the client. A table
//! with more rows than a sheet holds is cut at the limit, and the response says so.

use polars::prelude::*;
use rust_xlsxwriter::{Format, Workbook, XlsxError};

/// Data rows a sheet holds under its header row.
pub const MAX_ROWS: usize = 1_048_575;
/// Characters a cell holds.
const MAX_CELL_CHARS: usize = 32_767;
/// Excel's serial day of 1970-01-01.
const UNIX_EPOCH_SERIAL: f64 = 25_569.0;
/// Integers beyond this lose digits as Excel numbers; they are written as text.
const EXACT_INTEGERS: i64 = 1 << 53;

/// Writes `df` (already cut to [`MAX_ROWS`]) as a one-sheet workbook to `out`.
pub fn write(df: &DataFrame, out: impl std::io::Write + Send) -> Result<(), XlsxError> {
    let mut workbook = Workbook::new();
    let date = Format::new().set_num_format("yyyy-mm-dd");
    let datetime = Format::new().set_num_format("yyyy-mm-dd hh:mm:ss");
    let sheet = workbook.add_worksheet_with_constant_memory()?;
    sheet.set_name("data")?;
    let header = Format::new().set_bold();
    for (j, name) in df.get_column_names().iter().enumerate() {
        sheet.write_string_with_format(0, j as u16, name.as_str(), &header)?;
    }
    // Constant-memory sheets are written row by row, in order.
    let columns = df.columns();
    for i in 0..df.height() {
        let row = (i + 1) as u32;
        for (j, column) in columns.iter().enumerate() {
            let col = j as u16;
            match column.get(i).unwrap_or(AnyValue::Null) {
                AnyValue::Null => {}
                AnyValue::Boolean(b) => {
                    sheet.write_boolean(row, col, b)?;
                }
                AnyValue::Int64(v) if v.abs() < EXACT_INTEGERS => {
                    sheet.write_number(row, col, v as f64)?;
                }
                AnyValue::Int64(v) => {
                    sheet.write_string(row, col, v.to_string())?;
                }
                AnyValue::Float64(v) if v.is_finite() => {
                    sheet.write_number(row, col, v)?;
                }
                AnyValue::Date(days) => {
                    sheet.write_number_with_format(row, col, f64::from(days) + UNIX_EPOCH_SERIAL, &date)?;
                }
                AnyValue::Datetime(v, unit, _) => {
                    let per_day = match unit {
                        TimeUnit::Nanoseconds => 86_400e9,
                        TimeUnit::Microseconds => 86_400e6,
                        TimeUnit::Milliseconds => 86_400e3,
                    };
                    sheet.write_number_with_format(row, col, v as f64 / per_day + UNIX_EPOCH_SERIAL, &datetime)?;
                }
                AnyValue::String(s) => {
                    sheet.write_string(row, col, truncate(s))?;
                }
                other => {
                    sheet.write_string(row, col, truncate(&other.to_string()))?;
                }
            }
        }
    }
    workbook.save_to_writer(out)
}

fn truncate(s: &str) -> &str {
    match s.char_indices().nth(MAX_CELL_CHARS) {
        Some((at, _)) => &s[..at],
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_workbook_is_written() {
        let df = df!(
            "name" => ["Өмнөговь", "Дорнод"],
            "population" => [73_100i64, 80_000],
            "share" => [Some(1.5f64), None],
        )
        .unwrap();
        let mut out = Vec::new();
        write(&df, &mut out).unwrap();
        assert!(out.starts_with(b"PK\x03\x04"), "an XLSX is a zip");
        assert!(out.len() > 1_000);
    }
}
