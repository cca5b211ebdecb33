//! Workbooks (XLSX, XLS, XLSB, ODS) through calamine: every sheet with data becomes a table.
//!
//! Each sheet is written out as UTF-8 CSV, one record per sheet row, and then goes through the
//! same layout detection and type inference as a CSV file: one implementation of "find the
//! header, infer the types" for every format. Merged cells are filled with their value first,
//! so a header spanning three columns labels all three.

use std::io::{Cursor, Read, Seek};
use std::path::Path;

use calamine::{Cell, Data, Dimensions, Range, Reader, Sheets, open_workbook_auto_from_rs};

use crate::{Error, IngestLimits, Result};

/// Sheet names that mean "not a table": contents pages, notes, read-me pages.
const NOT_TABLES: &[&str] = &[
    "contents",
    "content",
    "table of contents",
    "toc",
    "index",
    "notes",
    "note",
    "readme",
    "read me",
    "about",
    "metadata",
    "info",
    "information",
    "definitions",
    "содержание",
    "оглавление",
    "примечания",
    "агуулга",
    "тайлбар",
    "танилцуулга",
];

/// One sheet, converted or skipped.
#[derive(Debug)]
pub struct SheetOutcome {
    pub name: String,
    /// Why the sheet is not a table; `None` when it was written to the CSV.
    pub skipped: Option<String>,
    /// The sheet row (1-based) of the first CSV record.
    pub first_row: u64,
    /// Cells holding an Excel error (`#N/A`, `#DIV/0!`), written as empty.
    pub errors: u64,
}

/// Reads the workbook at `path` and writes each data sheet as CSV to the path `out` returns
/// for it. `only` restricts the work to one sheet (by name). A sheet whose used area is
/// larger than `limits.max_sheet_cells` is skipped with the reason (or, when it is the one
/// asked for, fails the ingest), before its area is ever allocated.
pub fn convert(
    path: &Path,
    only: Option<&str>,
    limits: &IngestLimits,
    out: &mut dyn FnMut(&str) -> std::path::PathBuf,
) -> Result<Vec<SheetOutcome>> {
    // Workbooks are read whole anyway; the reader needs a cloneable source.
    let bytes = std::fs::read(path).map_err(Error::io(path))?;
    let mut workbook = open_workbook_auto_from_rs(Cursor::new(bytes))
        .map_err(|e| Error::UnsupportedFormat(format!("not a readable workbook: {e}")))?;
    let names = workbook.sheet_names();
    if let Some(only) = only
        && !names.iter().any(|n| n == only)
    {
        return Err(Error::Manifest(format!("the workbook has no sheet `{only}`; it has {}", names.join(", "))));
    }
    let mut outcomes = Vec::new();
    for name in names {
        if only.is_some_and(|o| o != name) {
            continue;
        }
        let skip =
            |reason: &str| SheetOutcome { name: name.clone(), skipped: Some(reason.into()), first_row: 0, errors: 0 };
        if only.is_none() && NOT_TABLES.contains(&name.trim().to_lowercase().as_str()) {
            outcomes.push(skip("a contents or notes page, not a table"));
            continue;
        }
        let range = match bounded_range(&mut workbook, &name, limits.max_sheet_cells) {
            Ok(range) => range,
            Err(SheetError::TooLarge(why)) if only.is_some() => return Err(Error::TooLarge(why)),
            Err(SheetError::TooLarge(why)) => {
                outcomes.push(skip(&why));
                continue;
            }
            Err(SheetError::Unreadable(e)) => {
                outcomes.push(skip(&format!("unreadable: {e}")));
                continue;
            }
        };
        let merged = merged_cells(&mut workbook, &name);
        let grid = fill(&range, &merged);
        let errors = range.used_cells().filter(|(_, _, c)| matches!(c, Data::Error(_))).count() as u64;
        let filled_columns =
            (0..grid.first().map_or(0, Vec::len)).filter(|&j| grid.iter().any(|row| !row[j].is_empty())).count();
        let filled_rows = grid.iter().filter(|row| row.iter().any(|c| !c.is_empty())).count();
        if filled_rows == 0 {
            outcomes.push(skip("empty"));
            continue;
        }
        if only.is_none() && (filled_columns < 2 || filled_rows < 2) {
            outcomes.push(skip("a single row or column of text, not a table"));
            continue;
        }
        let target = out(&name);
        write_csv(&grid, &target)?;
        let first_row = range.start().map_or(1, |(r, _)| u64::from(r) + 1);
        outcomes.push(SheetOutcome { name, skipped: None, first_row, errors });
    }
    Ok(outcomes)
}

enum SheetError {
    TooLarge(String),
    Unreadable(String),
}

/// A sheet's cells as a dense range, refused when its used area passes `max_cells`.
///
/// XLSX and XLSB sheets are read cell by cell and their extent checked before the range is
/// built: one cell at XFD1048576 would otherwise make a 17-billion-cell range of a file of
/// a few hundred bytes. XLS and ODS are laid out by calamine as the workbook opens; their
/// formats cap the area (XLS: 65,536 × 256; calamine caps ODS repeats), and it is checked
/// here the same way.
fn bounded_range<RS: Read + Seek>(
    workbook: &mut Sheets<RS>,
    name: &str,
    max_cells: u64,
) -> std::result::Result<Range<Data>, SheetError> {
    let unreadable = |e: &dyn std::fmt::Display| SheetError::Unreadable(e.to_string());
    let mut cells: Vec<Cell<Data>> = Vec::new();
    let mut push = |cell: Cell<calamine::DataRef<'_>>| -> std::result::Result<(), SheetError> {
        if cells.len() as u64 >= max_cells {
            return Err(too_large(name, format!("more than {max_cells} cells"), max_cells));
        }
        let (pos, value) = (cell.get_position(), Data::from(cell.get_value().clone()));
        if value != Data::Empty {
            cells.push(Cell::new(pos, value));
        }
        Ok(())
    };
    match workbook {
        Sheets::Xlsx(x) => {
            let mut reader = x.worksheet_cells_reader(name).map_err(|e| unreadable(&e))?;
            while let Some(cell) = reader.next_cell().map_err(|e| unreadable(&e))? {
                push(cell)?;
            }
        }
        Sheets::Xlsb(x) => {
            let mut reader = x.worksheet_cells_reader(name).map_err(|e| unreadable(&e))?;
            while let Some(cell) = reader.next_cell().map_err(|e| unreadable(&e))? {
                push(cell)?;
            }
        }
        other => {
            let range = other.worksheet_range(name).map_err(|e| unreadable(&e))?;
            let (h, w) = range.get_size();
            return match (h as u64).checked_mul(w as u64) {
                Some(area) if area <= max_cells => Ok(range),
                _ => Err(too_large(name, format!("{h} rows × {w} columns"), max_cells)),
            };
        }
    }
    let (mut r0, mut r1, mut c0, mut c1) = (u32::MAX, 0, u32::MAX, 0);
    for cell in &cells {
        let (r, c) = cell.get_position();
        (r0, r1, c0, c1) = (r0.min(r), r1.max(r), c0.min(c), c1.max(c));
    }
    if !cells.is_empty() {
        let (h, w) = (u64::from(r1 - r0) + 1, u64::from(c1 - c0) + 1);
        if h * w > max_cells {
            return Err(too_large(name, format!("{h} rows × {w} columns"), max_cells));
        }
    }
    Ok(Range::from_sparse(cells))
}

fn too_large(name: &str, size: String, max_cells: u64) -> SheetError {
    SheetError::TooLarge(format!(
        "sheet `{name}` spans {size}, more than the {max_cells} cells an ingest reads (limits.max_sheet_cells); \
         delete stray cells far from the table, or split the sheet"
    ))
}

fn merged_cells<RS: Read + Seek>(workbook: &mut Sheets<RS>, name: &str) -> Vec<Dimensions> {
    // Only XLSX and XLS record merged regions; a sheet without them reads the same.
    match workbook {
        Sheets::Xlsx(x) => x.merge_cells_by_sheet_name(name).unwrap_or_default(),
        Sheets::Xls(x) => x.merge_cells_by_sheet_name(name).unwrap_or_default(),
        _ => Vec::new(),
    }
}

/// The sheet as text cells, merged regions carrying their value into every cell they cover.
fn fill(range: &Range<Data>, merged: &[Dimensions]) -> Vec<Vec<String>> {
    let Some((r0, c0)) = range.start() else { return Vec::new() };
    let (height, width) = range.get_size();
    // Datetimes that are all at midnight are dates; one with a time makes the column datetimes.
    let mut has_time = vec![false; width];
    for row in range.rows() {
        for (j, cell) in row.iter().enumerate() {
            if let Data::DateTime(dt) = cell
                && let Some(t) = dt.as_datetime()
                && t.time() != chrono::NaiveTime::MIN
            {
                has_time[j] = true;
            }
        }
    }
    let mut grid: Vec<Vec<String>> =
        range.rows().map(|row| row.iter().enumerate().map(|(j, cell)| text(cell, has_time[j])).collect()).collect();
    for m in merged {
        let (top, left) = (m.start.0 as usize, m.start.1 as usize);
        let (Some(ti), Some(li)) = (top.checked_sub(r0 as usize), left.checked_sub(c0 as usize)) else { continue };
        let Some(value) = grid.get(ti).and_then(|r| r.get(li)).cloned() else { continue };
        let bottom = (m.end.0 as usize).saturating_sub(r0 as usize).min(height.saturating_sub(1));
        let right = (m.end.1 as usize).saturating_sub(c0 as usize).min(width.saturating_sub(1));
        for row in grid.iter_mut().take(bottom + 1).skip(ti) {
            for cell in row.iter_mut().take(right + 1).skip(li) {
                if cell.is_empty() {
                    cell.clone_from(&value);
                }
            }
        }
    }
    grid
}

/// A cell as the text a CSV would hold. Whole floats print without `.0`.
fn text(cell: &Data, with_time: bool) -> String {
    match cell {
        Data::Empty | Data::Error(_) => String::new(),
        Data::String(s) => s.clone(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        Data::Float(f) => format!("{f}"),
        Data::Bool(b) => b.to_string(),
        Data::DateTime(dt) if dt.is_duration() => dt.as_duration().map(|d| d.to_string()).unwrap_or_default(),
        Data::DateTime(dt) => match dt.as_datetime() {
            Some(t) if with_time => t.format("%Y-%m-%d %H:%M:%S").to_string(),
            Some(t) => t.format("%Y-%m-%d").to_string(),
            None => dt.as_f64().to_string(),
        },
        Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
    }
}

fn write_csv(grid: &[Vec<String>], target: &Path) -> Result<()> {
    // Trailing empty cells are not written, so a short row stays short.
    let trimmed = grid.iter().map(|row| &row[..row.iter().rposition(|c| !c.is_empty()).map_or(0, |i| i + 1)]);
    crate::csv::write_rows(target, trimmed)
}
