//! GeoJSON export: a table's rows as one `FeatureCollection` (RFC 7946), streamed.
//!
//! The streaming engine writes NDJSON rows into [`FeatureWriter`], which turns each
//! complete line into a feature as it arrives: memory holds one row at a time, whatever
//! the table's size. Shapes keep their stored GeoJSON geometry; points are built from the
//! longitude and latitude columns. A geometry that is not valid JSON, or a point with a
//! missing coordinate, is written as a feature without geometry (`null`), as RFC 7946
//! allows, so that a row is never silently dropped.

use std::io::Write;

use opendata_datasets::geo::Geography;
use serde_json::{Map, Value, json};

const HEAD: &[u8] = b"{\"type\":\"FeatureCollection\",\"features\":[\n";
const TAIL: &[u8] = b"\n]}\n";

/// Wraps the export's writer: NDJSON in, features out.
#[derive(Debug)]
pub struct FeatureWriter<W> {
    inner: W,
    geography: Geography,
    /// The part of a line not yet ended.
    line: Vec<u8>,
    features: u64,
    closed: bool,
}

impl<W: Write> FeatureWriter<W> {
    pub fn new(mut inner: W, geography: Geography) -> std::io::Result<Self> {
        inner.write_all(HEAD)?;
        Ok(Self { inner, geography, line: Vec::new(), features: 0, closed: false })
    }

    /// Ends the collection; further calls do nothing.
    pub fn finish(&mut self) -> std::io::Result<()> {
        if self.closed {
            return Ok(());
        }
        if !self.line.is_empty() {
            let rest = std::mem::take(&mut self.line);
            self.feature(&rest)?;
        }
        self.inner.write_all(TAIL)?;
        self.closed = true;
        self.inner.flush()
    }

    fn feature(&mut self, line: &[u8]) -> std::io::Result<()> {
        if line.iter().all(u8::is_ascii_whitespace) {
            return Ok(());
        }
        let row: Map<String, Value> = serde_json::from_slice(line).map_err(std::io::Error::other)?;
        let feature = feature(row, &self.geography);
        if self.features > 0 {
            self.inner.write_all(b",\n")?;
        }
        serde_json::to_writer(&mut self.inner, &feature).map_err(std::io::Error::other)?;
        self.features += 1;
        Ok(())
    }
}

impl<W: Write> Write for FeatureWriter<W> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let mut rest = data;
        while let Some(end) = rest.iter().position(|&b| b == b'\n') {
            if self.line.is_empty() {
                self.feature(&rest[..end])?;
            } else {
                self.line.extend_from_slice(&rest[..end]);
                let line = std::mem::take(&mut self.line);
                self.feature(&line)?;
            }
            rest = &rest[end + 1..];
        }
        self.line.extend_from_slice(rest);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// One row as a feature: its place as the geometry, the other columns as properties.
fn feature(mut row: Map<String, Value>, geography: &Geography) -> Value {
    let geometry = match geography {
        Geography::Points { lon, lat } => {
            // The coordinates stay among the properties too: readers filter and label by them.
            match (row.get(lon).and_then(Value::as_f64), row.get(lat).and_then(Value::as_f64)) {
                (Some(x), Some(y)) => json!({"type": "Point", "coordinates": [x, y]}),
                _ => Value::Null,
            }
        }
        Geography::Shapes { geometry, .. } => {
            let stored = row.remove(geometry);
            for place in geography.place_columns() {
                row.remove(place);
            }
            stored
                .as_ref()
                .and_then(Value::as_str)
                .and_then(|text| serde_json::from_str::<Value>(text).ok())
                .filter(|g| g.get("type").and_then(Value::as_str).is_some())
                .unwrap_or(Value::Null)
        }
    };
    json!({"type": "Feature", "geometry": geometry, "properties": row})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(geography: Geography, ndjson: &str, split: usize) -> Value {
        let mut out = Vec::new();
        let mut w = FeatureWriter::new(&mut out, geography).unwrap();
        // Lines arrive cut anywhere, as the engine's buffers fall.
        for chunk in ndjson.as_bytes().chunks(split) {
            w.write_all(chunk).unwrap();
        }
        w.finish().unwrap();
        w.finish().unwrap();
        serde_json::from_slice(&out).unwrap()
    }

    #[test]
    fn points_and_shapes_whatever_the_chunks() {
        let points = Geography::Points { lon: "lon".into(), lat: "lat".into() };
        let rows = "{\"name\":\"a\",\"lon\":106.9,\"lat\":47.9}\n{\"name\":\"b\",\"lon\":null,\"lat\":48.0}\n";
        for split in [1, 3, 7, 1000] {
            let fc = collect(points.clone(), rows, split);
            assert_eq!(fc["type"], "FeatureCollection");
            let features = fc["features"].as_array().unwrap();
            assert_eq!(features.len(), 2, "split {split}");
            assert_eq!(features[0]["geometry"], json!({"type": "Point", "coordinates": [106.9, 47.9]}));
            assert_eq!(features[0]["properties"]["name"], "a");
            assert_eq!(features[1]["geometry"], Value::Null, "no longitude: kept, without a place");
        }
        let shapes = Geography::Shapes {
            geometry: "geometry".into(),
            bbox: ["bbox_min_lon", "bbox_min_lat", "bbox_max_lon", "bbox_max_lat"].map(String::from),
        };
        let polygon = r#"{\"type\":\"Polygon\",\"coordinates\":[[[100,42],[108,42],[104,45],[100,42]]]}"#;
        let rows = format!(
            "{{\"name\":\"x\",\"geometry_type\":\"Polygon\",\"geometry\":\"{polygon}\",\"bbox_min_lon\":100.0,\"bbox_min_lat\":42.0,\"bbox_max_lon\":108.0,\"bbox_max_lat\":45.0}}\n{{\"name\":\"y\",\"geometry\":\"not json\"}}"
        );
        let fc = collect(shapes, &rows, 5);
        let features = fc["features"].as_array().unwrap();
        assert_eq!(features.len(), 2, "the last line needs no newline");
        assert_eq!(features[0]["geometry"]["type"], "Polygon");
        assert_eq!(features[0]["properties"], json!({"name": "x"}), "place columns are not properties");
        assert_eq!(features[1]["geometry"], Value::Null);
    }

    #[test]
    fn an_empty_table_is_an_empty_collection() {
        let fc = collect(Geography::Points { lon: "lon".into(), lat: "lat".into() }, "", 10);
        assert_eq!(fc, json!({"type": "FeatureCollection", "features": []}));
    }
}
