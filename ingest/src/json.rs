//! JSON documents: arrays of records, NDJSON, records wrapped in an API envelope
//! (`{"DataList": [...]}`), nested hierarchies, and GeoJSON feature collections.
//!
//! The records are flattened to one CSV record each (`a.b` for nested objects; an array of
//! objects is expanded to one row per child, its parent's fields repeated) and then typed like
//! any CSV, so numbers stored as strings (`"16397"`) become numbers.

use std::collections::HashMap;
use std::path::Path;

use serde_json::{Map, Value};

use crate::{Error, Result};

/// What was found in the document.
#[derive(Debug)]
pub struct JsonTable {
    /// Where the records were: `$`, `$.DataList`, `$.features` (GeoJSON), `lines` (NDJSON).
    pub part: String,
    pub geojson: bool,
}

/// Reads the JSON document at `path` and writes its records as CSV (header first) to `out`.
/// `records` names the member holding the records (`DataList`, `data.items`) when guessing
/// is not wanted. Records with more than `max_columns` distinct fields between them fail.
pub fn convert(path: &Path, records: Option<&str>, max_columns: usize, out: &Path) -> Result<JsonTable> {
    let bytes = std::fs::read(path).map_err(Error::io(path))?;
    let text = std::str::from_utf8(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes))
        .map_err(|e| Error::Malformed { line: 0, message: format!("JSON must be UTF-8: {e}") })?;
    let (doc, ndjson) = match serde_json::from_str::<Value>(text) {
        Ok(doc) => (doc, false),
        Err(first) => {
            // NDJSON: one document per line.
            let mut values = Vec::new();
            for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
                let value = serde_json::from_str::<Value>(line).map_err(|e| Error::Malformed {
                    line: if values.is_empty() { first.line() as u64 } else { i as u64 + 1 },
                    message: format!("not JSON: {e}"),
                })?;
                values.push(value);
            }
            (Value::Array(values), true)
        }
    };
    let mut table = Table { max_columns, ..Table::default() };
    let (part, geojson) = if is_feature_collection(&doc) {
        let features = doc.get("features").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
        for f in features {
            table.push(&feature_row(f))?;
        }
        ("$.features".to_owned(), true)
    } else {
        let (path, items) = match records {
            Some(p) => {
                let v = lookup(&doc, p).ok_or_else(|| Error::Manifest(format!("the JSON has no member `{p}`")))?;
                (format!("$.{p}"), v)
            }
            None => find_records(&doc),
        };
        let items =
            items.as_array().ok_or_else(|| Error::UnsupportedFormat(format!("{path} is not an array of records")))?;
        if items.first().is_some_and(Value::is_array) {
            // A table as arrays: the first is the header.
            for row in items {
                let cells = row.as_array().map(Vec::as_slice).unwrap_or_default();
                table.push_cells(cells.iter().map(scalar_text).collect())?;
            }
        } else {
            for item in items {
                for row in expand(item) {
                    table.push(&row)?;
                }
            }
        }
        (if ndjson { "lines".to_owned() } else { path }, false)
    };
    if table.rows.is_empty() {
        return Err(Error::Empty);
    }
    table.write(out)?;
    Ok(JsonTable { part, geojson })
}

/// Records flattened to columns in first-seen order.
///
/// Each record keeps only the fields it has, as (column, value) pairs: records that each
/// bring new keys would otherwise cost rows × columns, here and in memory.
#[derive(Default)]
struct Table {
    columns: Vec<String>,
    index: HashMap<String, usize>,
    max_columns: usize,
    /// Data rows, sparse, each with the number of columns known when it came (its width);
    /// for a table of arrays (no `columns`), the first row is the header.
    rows: Vec<(usize, Vec<(usize, String)>)>,
}

impl Table {
    fn push(&mut self, fields: &[(String, String)]) -> Result<()> {
        let mut row = Vec::with_capacity(fields.len());
        for (key, value) in fields {
            let i = match self.index.get(key) {
                Some(&i) => i,
                None => {
                    if self.columns.len() >= self.max_columns {
                        return Err(Error::TooLarge(format!(
                            "the records have more than {} different fields (limits.max_columns)",
                            self.max_columns
                        )));
                    }
                    self.columns.push(key.clone());
                    self.index.insert(key.clone(), self.columns.len() - 1);
                    self.columns.len() - 1
                }
            };
            row.push((i, value.clone()));
        }
        self.rows.push((self.columns.len(), row));
        Ok(())
    }

    /// A row of a table of arrays: its cells in order.
    fn push_cells(&mut self, cells: Vec<String>) -> Result<()> {
        if cells.len() > self.max_columns {
            return Err(Error::TooLarge(format!(
                "a row has more than {} cells (limits.max_columns)",
                self.max_columns
            )));
        }
        self.rows.push((cells.len(), cells.into_iter().enumerate().collect()));
        Ok(())
    }

    fn write(&self, out: &Path) -> Result<()> {
        // A table of arrays carries its header as its first row.
        let header = (!self.columns.is_empty()).then(|| self.columns.clone());
        // One dense row at a time: what is written is rows × columns, but what is held is not.
        let dense = self.rows.iter().map(|(width, row)| {
            let mut cells = vec![String::new(); *width];
            for (i, value) in row {
                cells[*i].clone_from(value);
            }
            cells
        });
        crate::csv::write_rows(out, header.into_iter().chain(dense))
    }
}

fn is_feature_collection(doc: &Value) -> bool {
    doc.get("type").and_then(Value::as_str) == Some("FeatureCollection")
        && doc.get("features").is_some_and(Value::is_array)
}

/// A member path such as `DataList` or `data.items`.
fn lookup<'a>(doc: &'a Value, path: &str) -> Option<&'a Value> {
    path.trim_start_matches("$.").split('.').filter(|p| !p.is_empty()).try_fold(doc, |v, key| v.get(key))
}

/// The largest array of objects within three levels, or the document itself.
fn find_records(doc: &Value) -> (String, &Value) {
    fn walk<'a>(v: &'a Value, path: String, depth: usize, best: &mut Option<(usize, String, &'a Value)>) {
        match v {
            Value::Array(items)
                if items.iter().any(|i| i.is_object() || i.is_array())
                    && best.as_ref().is_none_or(|(n, _, _)| items.len() > *n) =>
            {
                *best = Some((items.len(), path, v));
            }
            Value::Array(_) => {}
            Value::Object(map) if depth < 3 => {
                for (k, child) in map {
                    walk(child, format!("{path}.{k}"), depth + 1, best);
                }
            }
            _ => {}
        }
    }
    let mut best = None;
    walk(doc, "$".into(), 0, &mut best);
    match best {
        Some((_, path, v)) => (path, v),
        None => ("$".into(), doc),
    }
}

/// One record as rows: nested objects become `a.b` fields; the first array of objects is
/// expanded into one row per element (recursively), each with the parent's fields.
fn expand(item: &Value) -> Vec<Vec<(String, String)>> {
    let Value::Object(map) = item else {
        return vec![vec![("value".to_owned(), scalar_text(item))]];
    };
    let mut fields = Vec::new();
    let mut children: Option<(String, &Vec<Value>)> = None;
    flatten(map, "", &mut fields, &mut children);
    let Some((prefix, items)) = children else { return vec![fields] };
    let mut rows = Vec::new();
    for child in items {
        for sub in expand(child) {
            let mut row = fields.clone();
            row.extend(sub.into_iter().map(|(k, v)| (format!("{prefix}.{k}"), v)));
            rows.push(row);
        }
    }
    if rows.is_empty() {
        rows.push(fields);
    }
    rows
}

fn flatten<'a>(
    map: &'a Map<String, Value>,
    prefix: &str,
    fields: &mut Vec<(String, String)>,
    children: &mut Option<(String, &'a Vec<Value>)>,
) {
    for (key, value) in map {
        let name = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
        match value {
            Value::Object(inner) => flatten(inner, &name, fields, children),
            Value::Array(items) if children.is_none() && items.iter().any(Value::is_object) => {
                *children = Some((name, items));
            }
            other => fields.push((name, scalar_text(other))),
        }
    }
}

/// A JSON value as cell text: strings as they are, other scalars as JSON, null as empty,
/// arrays and objects as compact JSON.
fn scalar_text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        other => other.to_string(),
    }
}

/// A GeoJSON feature: `id`, its properties, the geometry as GeoJSON text, and its bounding box.
fn feature_row(feature: &Value) -> Vec<(String, String)> {
    let mut row = Vec::new();
    if let Some(id) = feature.get("id") {
        row.push(("id".to_owned(), scalar_text(id)));
    }
    if let Some(Value::Object(props)) = feature.get("properties") {
        let mut ignored = None;
        flatten(props, "", &mut row, &mut ignored);
        if let Some((name, items)) = ignored {
            row.push((name, Value::Array(items.clone()).to_string()));
        }
    }
    let geometry = feature.get("geometry").unwrap_or(&Value::Null);
    row.push(("geometry_type".to_owned(), geometry.get("type").map(scalar_text).unwrap_or_default()));
    row.push(("geometry".to_owned(), if geometry.is_null() { String::new() } else { geometry.to_string() }));
    let mut bbox = [f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY];
    extend_bbox(geometry.get("coordinates").unwrap_or(&Value::Null), &mut bbox);
    if let Some(Value::Array(parts)) = geometry.get("geometries") {
        for g in parts {
            extend_bbox(g.get("coordinates").unwrap_or(&Value::Null), &mut bbox);
        }
    }
    let known = bbox[0].is_finite();
    for (name, v) in ["min_lon", "min_lat", "max_lon", "max_lat"].iter().zip(bbox) {
        row.push((format!("bbox_{name}"), if known { v.to_string() } else { String::new() }));
    }
    row
}

fn extend_bbox(coords: &Value, bbox: &mut [f64; 4]) {
    let Value::Array(items) = coords else { return };
    if let (Some(x), Some(y)) = (items.first().and_then(Value::as_f64), items.get(1).and_then(Value::as_f64)) {
        bbox[0] = bbox[0].min(x);
        bbox[1] = bbox[1].min(y);
        bbox[2] = bbox[2].max(x);
        bbox[3] = bbox[3].max(y);
        return;
    }
    for item in items {
        extend_bbox(item, bbox);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(doc: &str, records: Option<&str>) -> (JsonTable, String) {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("in.json");
        let out = dir.path().join("out.csv");
        std::fs::write(&src, doc).unwrap();
        let t = convert(&src, records, 4_096, &out).unwrap();
        (t, std::fs::read_to_string(out).unwrap())
    }

    #[test]
    fn wrapped_records_are_found() {
        let (t, csv) =
            run(r#"{"Response":"success","DataList":[{"SCR_MN":"Улиастай","DTVAL_CO":"16397","X":null}]}"#, None);
        assert_eq!(t.part, "$.DataList");
        assert_eq!(csv, "SCR_MN,DTVAL_CO,X\nУлиастай,16397,\n");
    }

    #[test]
    fn ragged_and_nested_records() {
        let (_, csv) = run(r#"[{"a":1,"o":{"b":true}},{"a":2,"c":"x"}]"#, None);
        assert_eq!(csv, "a,o.b,c\n1,true\n2,,x\n");
    }

    #[test]
    fn hierarchies_expand_to_leaves() {
        let doc = r#"{"zipcode":[{"name":"Архангай","sub_items":[{"name":"Эрдэнэбулган","sub_items":[{"name":"1-р баг"},{"name":"2-р баг"}]},{"name":"Өлзийт"}]}]}"#;
        let (_, csv) = run(doc, None);
        assert!(csv.starts_with("name,sub_items.name,sub_items.sub_items.name\n"), "{csv}");
        assert!(csv.ends_with("Архангай,Өлзийт,\n"), "{csv}");
    }

    #[test]
    fn ndjson_lines() {
        let (t, csv) = run("{\"a\":1}\n{\"a\":2}\n", None);
        assert_eq!(t.part, "lines");
        assert_eq!(csv, "a\n1\n2\n");
    }

    #[test]
    fn geojson_properties_geometry_and_bbox() {
        let doc = r#"{"type":"FeatureCollection","features":[{"type":"Feature","id":"x1","properties":{"NAME":"Өмнөговь","NSO_CODE":"345"},"geometry":{"type":"Polygon","coordinates":[[[100,42],[108,42],[104,45],[100,42]]]}}]}"#;
        let (t, csv) = run(doc, None);
        assert!(t.geojson);
        let mut lines = csv.lines();
        assert_eq!(
            lines.next(),
            Some("id,NAME,NSO_CODE,geometry_type,geometry,bbox_min_lon,bbox_min_lat,bbox_max_lon,bbox_max_lat")
        );
        assert!(lines.next().unwrap().ends_with(",100,42,108,45"));
    }

    #[test]
    fn a_named_member_wins() {
        let (t, _) = run(r#"{"small":[{"a":1},{"a":2}],"meta":{"rows":[{"b":1}]}}"#, Some("meta.rows"));
        assert_eq!(t.part, "$.meta.rows");
    }
}
