//! Where the table is in a grid of cells: title lines above it, one or more header rows,
//! HXL tag rows, notes below it, and columns nobody filled.
//!
//! Detection looks at the first [`SAMPLE_RECORDS`] records. It learns each column's type from
//! the lower part of the sample (surely data), then reads the top: a row that has text where
//! the data has numbers is a header; consecutive such rows are a multi-row header, merged into
//! one label per column (`Aktivierte Bruttoanlageinvestitionen / Tsd. EUR`). Year-like numbers
//! over a column of other numbers are headers too: World Bank and UN tables put years across.

use crate::infer::{CellClass, classify};

/// Records the detector reads.
pub const SAMPLE_RECORDS: usize = 200;
/// The most header rows merged into one label.
const MAX_HEADER_ROWS: usize = 4;

/// The shape of a table in its file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// Records above the header (titles, notes, blank lines), dropped.
    pub preamble: usize,
    /// Header records, merged into `labels`; 0 when the file has no header row.
    pub header_rows: usize,
    /// One label per column as published (possibly empty).
    pub labels: Vec<String>,
    /// What the detector decided and why, for the quality report.
    pub reason: String,
}

impl Layout {
    /// Records before the first data record.
    pub fn data_start(&self) -> usize {
        self.preamble + self.header_rows
    }
}

/// What a publisher says about the header, overriding detection.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HeaderHint {
    /// 1-based record number of the first header row; `Some(0)` means "no header row".
    pub row: Option<usize>,
    /// How many header rows there are (default 1).
    pub rows: Option<usize>,
    /// The first record is the header, whatever its row number: converted JSON documents.
    pub first_record: bool,
}

/// How one record after the header is treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowKind {
    Data,
    Blank,
    /// An HXL hashtag row (`#date,#item+name,...`).
    Hxl,
    /// The header again, as in files concatenated from several exports.
    RepeatedHeader,
    /// One filled cell in a wide table: a note, a source line or a section title. Dropped
    /// when nothing but more such rows follows it (a footer), kept as data otherwise.
    Note,
}

/// A record's fields as one string and where each ends: reading a row allocates nothing.
#[derive(Debug, Clone, Copy)]
pub struct Fields<'a> {
    text: &'a str,
    ends: &'a [usize],
}

impl<'a> Fields<'a> {
    /// `ends[i]` is the byte offset in `text` where field `i` ends; field `i` starts where
    /// field `i - 1` ends.
    pub fn new(text: &'a str, ends: &'a [usize]) -> Self {
        Self { text, ends }
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    pub fn get(&self, i: usize) -> Option<&'a str> {
        let end = *self.ends.get(i)?;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        Some(&self.text[start..end])
    }

    pub fn iter(&self) -> impl Iterator<Item = &'a str> + '_ {
        (0..self.len()).filter_map(|i| self.get(i))
    }
}

/// An owned record, for rows held back until the next one decides what they are.
#[derive(Debug, Clone, Default)]
pub struct OwnedFields {
    text: String,
    ends: Vec<usize>,
}

impl OwnedFields {
    pub fn from_cells<S: AsRef<str>>(cells: &[S]) -> Self {
        let mut owned = Self::default();
        for c in cells {
            owned.text.push_str(c.as_ref());
            owned.ends.push(owned.text.len());
        }
        owned
    }

    pub fn from_fields(fields: Fields<'_>) -> Self {
        Self { text: fields.text.to_owned(), ends: fields.ends.to_vec() }
    }

    pub fn fields(&self) -> Fields<'_> {
        Fields::new(&self.text, &self.ends)
    }
}

/// Classifies a record after the header. Cheap on ordinary data rows: it stops reading
/// fields once it has seen two different filled ones that are not HXL tags.
pub fn row_kind(fields: Fields<'_>, labels: &[String], width: usize) -> RowKind {
    let mut filled = 0;
    let mut hxl = true;
    let mut first = "";
    // A note in a merged cell is one value repeated across the cells it covered.
    let mut same = true;
    for f in fields.iter() {
        let f = f.trim();
        if !f.is_empty() {
            filled += 1;
            hxl &= is_hxl_tag(f);
            if filled == 1 {
                first = f;
            } else {
                same &= f == first;
            }
            if filled >= 2 && !hxl && !same {
                break;
            }
        }
    }
    if filled == 0 {
        return RowKind::Blank;
    }
    if hxl {
        return RowKind::Hxl;
    }
    let equal = |j: usize, l: &String| fields.get(j).map_or("", str::trim) == l.as_str();
    if labels.first().is_some_and(|l| !l.is_empty() && equal(0, l))
        && labels.iter().enumerate().all(|(j, l)| equal(j, l))
    {
        return RowKind::RepeatedHeader;
    }
    // Repeated text, not repeated numbers: `0,0,0` is data.
    let merged_text = same && first.chars().any(char::is_alphabetic);
    if (filled == 1 || merged_text) && width >= 3 {
        return RowKind::Note;
    }
    RowKind::Data
}

fn is_hxl_tag(cell: &str) -> bool {
    cell.strip_prefix('#').is_some_and(|t| t.starts_with(|c: char| c.is_ascii_alphabetic()))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ColKind {
    Text,
    Number,
    Year,
    Temporal,
}

struct Row {
    filled: usize,
    blank: bool,
    hxl: bool,
    /// Typed columns where this row has a value of the column's type.
    typed_hits: usize,
    /// Typed columns where this row has text (or a year over non-year numbers).
    text_hits: usize,
    /// Cells equal to their left neighbour: what a merged cell becomes once filled.
    repeats: usize,
}

impl Row {
    fn header_like(&self) -> bool {
        self.text_hits > 0 && self.typed_hits == 0
    }
}

/// Finds the header (if any) in the first records of a table. `numbers` holds each record's
/// row number in the source (lines skip blank lines and multi-line fields), for messages and
/// to place a publisher's `header_row`.
pub fn detect(records: &[Vec<String>], numbers: &[u64], hint: HeaderHint) -> Layout {
    let classes: Vec<Vec<CellClass>> = records.iter().map(|r| r.iter().map(|c| classify(c)).collect()).collect();
    // The lower half of the sample is surely data, however tall the header above it. In a
    // short table that half may still hold header rows, so a second look learns the column
    // types from the data rows the first one found.
    let first = detect_from(records, &classes, numbers, hint, if records.len() > 1 { records.len() / 2 } else { 0 });
    if hint.row.is_some() || hint.first_record || first.data_start() + 1 >= records.len() {
        return first;
    }
    detect_from(records, &classes, numbers, hint, first.data_start())
}

fn detect_from(
    records: &[Vec<String>],
    classes: &[Vec<CellClass>],
    numbers: &[u64],
    hint: HeaderHint,
    body_start: usize,
) -> Layout {
    let at = |i: usize| numbers.get(i).copied().unwrap_or(i as u64 + 1);
    // Rows with one filled cell in a wide table are notes, not data: left out of the body.
    let filled = |i: usize| classes[i].iter().filter(|c| **c != CellClass::Empty).count();
    let wide = classes.iter().any(|r| r.iter().filter(|c| **c != CellClass::Empty).count() >= 3);
    let body: Vec<usize> =
        (body_start..records.len()).filter(|&i| filled(i) > usize::from(wide) && !all_hxl(&records[i])).collect();
    let width = body
        .iter()
        .map(|&i| classes[i].iter().rposition(|c| *c != CellClass::Empty).map_or(0, |p| p + 1))
        .max()
        .unwrap_or(0);
    let kinds: Vec<ColKind> = (0..width).map(|j| column_kind(body.iter().map(|&i| classes[i].get(j)))).collect();
    let rows: Vec<Row> = records.iter().zip(classes).map(|(r, c)| analyze(r, c, &kinds)).collect();

    let hinted_row = if hint.first_record { Some(at(0) as usize) } else { hint.row };
    if let Some(row) = hinted_row {
        if row == 0 && !hint.first_record {
            let labels = vec![String::new(); width];
            return Layout {
                preamble: 0,
                header_rows: 0,
                labels,
                reason: "no header row, as the manifest says".into(),
            };
        }
        let n = hint.rows.unwrap_or(1).max(1);
        let first = if hint.first_record {
            0
        } else {
            (0..records.len()).find(|&i| at(i) >= row as u64).unwrap_or(records.len())
        };
        let block: Vec<usize> = (first..(first + n).min(records.len())).collect();
        let labels = merge_labels(records, &block, header_width(records, &block, width));
        return Layout {
            preamble: first,
            header_rows: block.len(),
            labels,
            reason: if hint.first_record {
                "the records' keys are the header".to_owned()
            } else {
                format!("header at row {row}, as the manifest says")
            },
        };
    }

    let typed = kinds.iter().any(|k| *k != ColKind::Text);
    // Title lines, blank lines and key/value notes above the table: rows with one cell in a
    // wide table, or with nothing at all in the columns that hold numbers and dates.
    let mut p = 0;
    while p < records.len() {
        let r = &rows[p];
        // Repeated neighbours are one merged cell: a title across the table counts once.
        let cells = r.filled - r.repeats;
        let is_title = !r.blank
            && (r.typed_hits == 0 || r.header_like())
            && ((cells <= 1 && width >= 2) || cells * 4 < width || (typed && r.typed_hits + r.text_hits == 0));
        if !(r.blank || is_title) {
            break;
        }
        p += 1;
    }
    if p >= records.len() {
        return Layout { preamble: 0, header_rows: 0, labels: Vec::new(), reason: "no table found".into() };
    }
    let has_header = if typed {
        // Text where the data has numbers, clearly more often than in a data row. Not "only
        // text": a balance sheet's header has line codes such as `1110` over its amounts.
        let mut body_text: Vec<usize> = body.iter().map(|&i| rows[i].text_hits).collect();
        body_text.sort_unstable();
        let usual = body_text.get(body_text.len() / 2).copied().unwrap_or(0);
        let r = &rows[p];
        r.header_like() || r.text_hits > (2 * usual).max(1)
    } else {
        // All text: a header cell's length differs from the fixed length of a code column.
        length_votes(records, p, &body, width) >= 0
    };
    if !has_header {
        return Layout {
            preamble: p,
            header_rows: 0,
            labels: vec![String::new(); width],
            reason: if p > 0 {
                format!("no header row: row {} is already data ({p} title line(s) above it dropped)", at(p))
            } else {
                "no header row: the first record is already data".into()
            },
        };
    }
    // The header block: the first header row and the header-like rows under it.
    let mut block = vec![p];
    let mut q = p + 1;
    while q < records.len() && block.len() < MAX_HEADER_ROWS {
        if rows[q].blank || rows[q].hxl {
            q += 1;
            continue;
        }
        if !rows[q].header_like() {
            break;
        }
        block.push(q);
        q += 1;
    }
    // Read upwards from the last header row: a row above belongs to the header when it spans
    // several columns (merged or sparse cells), or when it is the first row of the table.
    // A full row of other text is a note (EIA's `Sourcekey, RBRTE`) and starts the data below.
    let base = *block.last().expect("block starts non-empty");
    let mut kept = vec![base];
    for &u in block.iter().rev().skip(1) {
        let spans = rows[u].filled < rows[base].filled || rows[u].repeats > 0;
        if spans || u == p {
            kept.push(u);
        } else {
            break;
        }
        if !spans {
            break;
        }
    }
    kept.reverse();
    let first = kept[0];
    let labels = merge_labels(records, &kept, header_width(records, &kept, width));
    let data_start = base + 1;
    let mut reason = format!("header at row {}", at(first));
    if kept.len() > 1 {
        reason = format!("{} header rows ({} to {}) merged into one label per column", kept.len(), at(first), at(base));
    }
    if first > 0 {
        reason.push_str(&format!("; {first} title or note row(s) above it dropped"));
    }
    Layout { preamble: first, header_rows: data_start - first, labels, reason }
}

/// The table's width: the data's, or the header's where it names more columns.
fn header_width(records: &[Vec<String>], block: &[usize], width: usize) -> usize {
    block
        .iter()
        .map(|&i| records[i].iter().rposition(|c| !c.trim().is_empty()).map_or(0, |x| x + 1))
        .max()
        .unwrap_or(0)
        .max(width)
}

fn all_hxl(record: &[String]) -> bool {
    let mut any = false;
    for c in record.iter().map(|c| c.trim()).filter(|c| !c.is_empty()) {
        if !is_hxl_tag(c) {
            return false;
        }
        any = true;
    }
    any
}

fn column_kind<'a>(cells: impl Iterator<Item = Option<&'a CellClass>>) -> ColKind {
    let (mut n, mut numbers, mut years, mut temporal) = (0, 0, 0, 0);
    for c in cells.flatten() {
        match c {
            CellClass::Empty | CellClass::Null => continue,
            CellClass::Number { year } => {
                numbers += 1;
                years += usize::from(*year);
            }
            CellClass::Temporal => temporal += 1,
            CellClass::Text => {}
        }
        n += 1;
    }
    let most = |k: usize| n > 0 && k * 5 >= n * 4;
    if most(years) {
        ColKind::Year
    } else if most(numbers) {
        ColKind::Number
    } else if most(temporal) {
        ColKind::Temporal
    } else {
        ColKind::Text
    }
}

fn analyze(record: &[String], classes: &[CellClass], kinds: &[ColKind]) -> Row {
    let mut row = Row { filled: 0, blank: true, hxl: all_hxl(record), typed_hits: 0, text_hits: 0, repeats: 0 };
    for (j, class) in classes.iter().enumerate() {
        if *class == CellClass::Empty {
            continue;
        }
        row.filled += 1;
        row.blank = false;
        if j > 0 && record[j].trim() == record[j - 1].trim() {
            row.repeats += 1;
        }
        let Some(kind) = kinds.get(j) else { continue };
        match (kind, class) {
            (ColKind::Text, _) | (_, CellClass::Null) => {}
            (ColKind::Number, CellClass::Number { year: true }) => row.text_hits += 1,
            (ColKind::Number | ColKind::Year, CellClass::Number { .. }) => row.typed_hits += 1,
            (ColKind::Temporal, CellClass::Temporal) => row.typed_hits += 1,
            _ => row.text_hits += 1,
        }
    }
    row
}

/// For all-text tables: +1 per column where the candidate header's length differs from a
/// fixed length every body value has (`ISO3166-1-Alpha-3` over `AFG`), -1 where it matches;
/// +2 where the body holds digit codes (`046`) and the candidate has no digit (`Код`).
fn length_votes(records: &[Vec<String>], p: usize, body: &[usize], width: usize) -> i32 {
    let mut votes = 0;
    for j in 0..width {
        let cells = || body.iter().filter(|&&i| i != p).filter_map(|&i| records[i].get(j)).map(|c| c.trim());
        let codes = cells().count() > 0 && cells().all(|c| !c.is_empty() && c.bytes().all(|b| b.is_ascii_digit()));
        let candidate = records[p].get(j).map(|c| c.trim()).unwrap_or_default();
        if codes && !candidate.is_empty() && !candidate.bytes().any(|b| b.is_ascii_digit()) {
            votes += 2;
        }
        let mut lens = body.iter().filter(|&&i| i != p).filter_map(|&i| records[i].get(j)).map(|c| c.trim());
        let Some(first) = lens.next() else { continue };
        let len = first.chars().count();
        if len == 0 || !lens.all(|c| c.chars().count() == len) {
            continue;
        }
        let Some(cell) = records[p].get(j).map(|c| c.trim()) else { continue };
        if !cell.is_empty() {
            votes += if cell.chars().count() == len { -1 } else { 1 };
        }
    }
    votes
}

/// One label per column from the header rows: upper rows carry a spanning label to the right
/// (a merged cell written once), parts are joined top to bottom with ` / `, repeats dropped.
fn merge_labels(records: &[Vec<String>], block: &[usize], width: usize) -> Vec<String> {
    let last = block.len().saturating_sub(1);
    let filled_rows: Vec<Vec<String>> = block
        .iter()
        .enumerate()
        .map(|(k, &i)| {
            let mut cells: Vec<String> = (0..width)
                .map(|j| {
                    records[i]
                        .get(j)
                        .map(|c| c.trim().trim_start_matches('\u{feff}').trim().to_owned())
                        .unwrap_or_default()
                })
                .collect();
            if k < last {
                let mut carry = String::new();
                for (j, cell) in cells.iter_mut().enumerate() {
                    let below = records[block[k + 1]].get(j).is_some_and(|c| !c.trim().is_empty());
                    if cell.is_empty() && below {
                        cell.clone_from(&carry);
                    } else if !cell.is_empty() {
                        carry.clone_from(cell);
                    }
                }
            }
            cells
        })
        .collect();
    (0..width)
        .map(|j| {
            let mut parts: Vec<&str> = Vec::new();
            for row in &filled_rows {
                let cell = row[j].as_str();
                if !cell.is_empty() && parts.last().is_none_or(|p| p.to_lowercase() != cell.to_lowercase()) {
                    parts.push(cell);
                }
            }
            parts.join(" / ")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid(text: &str, delimiter: u8) -> Vec<Vec<String>> {
        csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(delimiter)
            .from_reader(text.as_bytes())
            .records()
            .map(|r| r.unwrap().iter().map(str::to_owned).collect())
            .collect()
    }

    fn data_rows(n: usize, row: impl Fn(usize) -> String) -> String {
        (0..n).map(|i| row(i) + "\n").collect()
    }

    #[test]
    fn world_bank_preamble_and_year_headers() {
        let mut text = String::from(
            "\"Data Source\",\"World Development Indicators\",\n\n\"Last Updated Date\",\"2018-01-25\",\n\n",
        );
        text.push_str("\"Country Name\",\"Country Code\",\"1960\",\"1961\",\"1962\",\n");
        text += &data_rows(30, |i| format!("\"Country {i}\",\"C{i:02}\",\"{}\",\"{}\",\"\",", 54211 + i, 55438 + i));
        let l = detect(&grid(&text, b','), &[], HeaderHint::default());
        // Blank lines are not records: two title records above the header.
        assert_eq!((l.preamble, l.header_rows), (2, 1));
        assert_eq!(&l.labels[..3], ["Country Name", "Country Code", "1960"]);
    }

    #[test]
    fn two_header_rows_are_merged() {
        let mut text = String::from("GENESIS-Tabelle: 44211-11i\nTitel;;;;;\nJahr;;;;;\n");
        text.push_str(";;;Investitionen;je Beschäftigten;Verhältnis zum Umsatz\n;;;Tsd. EUR;EUR;Prozent\n");
        text += &data_rows(30, |i| format!("2022;05{i};  Kreis {i};{};6695;3,{}", 671743 + i, i % 10));
        let l = detect(&grid(&text, b';'), &[], HeaderHint::default());
        assert_eq!((l.preamble, l.header_rows), (3, 2));
        assert_eq!(
            l.labels,
            ["", "", "", "Investitionen / Tsd. EUR", "je Beschäftigten / EUR", "Verhältnis zum Umsatz / Prozent"]
        );
    }

    #[test]
    fn a_label_row_under_placeholder_names() {
        let mut text = String::from("Category,Code,Month1,Month2\nсум,admin_code,Jan-21,Feb-21\n");
        text += &data_rows(30, |i| format!("Улиастай,{},{},", 18101 + i, 70 + i));
        let l = detect(&grid(&text, b','), &[], HeaderHint::default());
        assert_eq!((l.preamble, l.header_rows), (0, 2));
        assert_eq!(l.labels, ["Category / сум", "Code / admin_code", "Month1 / Jan-21", "Month2 / Feb-21"]);
    }

    #[test]
    fn key_value_notes_above_a_header_are_not_labels() {
        let mut text = String::from("Back to Contents,Data 1: Brent\nSourcekey,RBRTE\nDate,Brent price\n");
        text += &data_rows(30, |i| format!("{}-05-20,{}.5", 1987 + i, 18 + i));
        let l = detect(&grid(&text, b','), &[], HeaderHint::default());
        assert_eq!((l.preamble, l.header_rows), (2, 1));
        assert_eq!(l.labels, ["Date", "Brent price"]);
    }

    #[test]
    fn files_without_a_header() {
        let text = data_rows(30, |i| format!("CN0100{i:02},01,0{i:02},\"County {i}, AL\",2009,\"23,288  \",9.7"));
        let l = detect(&grid(&text, b','), &[], HeaderHint::default());
        assert_eq!((l.preamble, l.header_rows, l.labels.len()), (0, 0, 7));
        let text =
            data_rows(30, |i| format!("\"A{i:02}\",\"Region {}\",\"note {}\",\"Name {i}\",", i % 3, "x".repeat(i)));
        assert_eq!(detect(&grid(&text, b','), &[], HeaderHint::default()).header_rows, 0);
        let text =
            format!("code,region,note\n{}", data_rows(30, |i| format!("A{i:02},Region {},{}", i % 3, "x".repeat(i))));
        assert_eq!(detect(&grid(&text, b','), &[], HeaderHint::default()).header_rows, 1);
    }

    #[test]
    fn hints_override() {
        let text = "title\nx,y\n1,2\n";
        let l = detect(&grid(text, b','), &[], HeaderHint { row: Some(2), ..HeaderHint::default() });
        assert_eq!((l.preamble, l.header_rows, l.labels.clone()), (1, 1, vec!["x".to_owned(), "y".to_owned()]));
        assert_eq!(detect(&grid(text, b','), &[], HeaderHint { row: Some(0), ..HeaderHint::default() }).header_rows, 0);
    }

    #[test]
    fn rows_after_the_header() {
        let labels: Vec<String> = ["date", "price", "name"].map(String::from).to_vec();
        let row_kind = |cells: &[&str], labels: &[String], width| {
            super::row_kind(OwnedFields::from_cells(cells).fields(), labels, width)
        };
        assert_eq!(row_kind(&["#date", "#value", ""], &labels, 3), RowKind::Hxl);
        assert_eq!(row_kind(&["", " ", ""], &labels, 3), RowKind::Blank);
        assert_eq!(row_kind(&["date", "price", "name"], &labels, 3), RowKind::RepeatedHeader);
        assert_eq!(row_kind(&["© Statistics Office", "", ""], &labels, 3), RowKind::Note);
        assert_eq!(row_kind(&["1) Preliminary", "1) Preliminary", "1) Preliminary"], &labels, 3), RowKind::Note);
        assert_eq!(row_kind(&["2020-01-01", "1", ""], &labels, 3), RowKind::Data);
        assert_eq!(row_kind(&["7", "7", "7"], &labels, 3), RowKind::Data);
    }
}
