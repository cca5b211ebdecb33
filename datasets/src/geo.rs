//! Geography: which columns put a table's rows on a map.
//!
//! A table is geographic when a column has a [`ColumnRole`]: a GeoJSON feature collection's
//! `geometry` (with the `bbox_*` columns its ingest adds), or a longitude and a latitude.
//! The ingest gives the roles it finds by [`detect`], from names, types and the statistics
//! it has just computed; a publisher's column settings override them.

use serde::{Deserialize, Serialize};

use crate::model::{Column, ColumnType};

/// What a column is on a map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColumnRole {
    /// Degrees east, WGS 84.
    Longitude,
    /// Degrees north, WGS 84.
    Latitude,
    /// A GeoJSON geometry, as text.
    Geometry,
    /// Not geographic, whatever its name says: a publisher's override.
    None,
}

/// The bounding-box columns a GeoJSON ingest adds beside `geometry`.
pub const BBOX: [&str; 4] = ["bbox_min_lon", "bbox_min_lat", "bbox_max_lon", "bbox_max_lat"];

/// How a table's rows are placed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Geography {
    /// A point per row.
    Points { lon: String, lat: String },
    /// A GeoJSON geometry per row, and its bounding box.
    Shapes { geometry: String, bbox: [String; 4] },
}

impl Geography {
    /// The geography the columns' roles describe, if any.
    pub fn of(columns: &[Column]) -> Option<Self> {
        let with = |role| columns.iter().find(|c| c.role == Some(role)).map(|c| c.name.clone());
        if let Some(geometry) = with(ColumnRole::Geometry) {
            let bbox = BBOX.map(|b| columns.iter().find(|c| c.name == b).map(|c| c.name.clone()));
            if let [Some(a), Some(b), Some(c), Some(d)] = bbox {
                return Some(Self::Shapes { geometry, bbox: [a, b, c, d] });
            }
        }
        Some(Self::Points { lon: with(ColumnRole::Longitude)?, lat: with(ColumnRole::Latitude)? })
    }

    /// The columns that hold the place, not properties of it.
    pub fn place_columns(&self) -> Vec<&str> {
        match self {
            Self::Points { lon, lat } => vec![lon, lat],
            Self::Shapes { geometry, bbox } => {
                let mut v = vec![geometry.as_str(), "geometry_type"];
                v.extend(bbox.iter().map(String::as_str));
                v
            }
        }
    }
}

/// Words that name a longitude or a latitude, in English and Mongolian (folded as column
/// names are: `уртраг` → `urtrag`).
const LONGITUDE: &[&str] = &["lon", "lng", "long", "longitude", "уртраг"];
const LATITUDE: &[&str] = &["lat", "latitude", "өргөрөг"];

/// The roles the columns' names, types and statistics suggest: the GeoJSON geometry, or
/// the first longitude and latitude pair whose values are all in range.
pub fn detect(columns: &[Column]) -> Vec<(usize, ColumnRole)> {
    let by_name = |name: &str| columns.iter().position(|c| c.name == name);
    if let Some(g) = by_name("geometry").filter(|&g| columns[g].kind == ColumnType::String)
        && BBOX.iter().all(|b| by_name(b).is_some_and(|i| columns[i].kind == ColumnType::Float))
    {
        return vec![(g, ColumnRole::Geometry)];
    }
    let lon = columns.iter().position(|c| c.names_word(LONGITUDE) && within(c, 180.0));
    let lat = columns.iter().position(|c| c.names_word(LATITUDE) && within(c, 90.0));
    match (lon, lat) {
        (Some(lon), Some(lat)) if lon != lat => vec![(lon, ColumnRole::Longitude), (lat, ColumnRole::Latitude)],
        _ => Vec::new(),
    }
}

/// A decimal column with some values, all within ±`limit` degrees.
fn within(c: &Column, limit: f64) -> bool {
    let number = |v: &Option<serde_json::Value>| v.as_ref().and_then(serde_json::Value::as_f64);
    c.kind == ColumnType::Float
        && matches!((number(&c.stats.min), number(&c.stats.max)), (Some(lo), Some(hi)) if lo >= -limit && hi <= limit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ColumnStats;

    fn col(name: &str, label: &str, kind: ColumnType, range: Option<(f64, f64)>) -> Column {
        Column {
            name: name.into(),
            label: label.into(),
            kind,
            description: String::new(),
            stats: ColumnStats { min: range.map(|r| r.0.into()), max: range.map(|r| r.1.into()), ..Default::default() },
            role: None,
        }
    }

    #[test]
    fn finds_points_by_name_and_range() {
        let columns = vec![
            col("station", "Station", ColumnType::String, None),
            col("urtrag", "Уртраг", ColumnType::Float, Some((87.7, 119.9))),
            col("orgorog", "Өргөрөг", ColumnType::Float, Some((41.6, 52.1))),
        ];
        assert_eq!(detect(&columns), vec![(1, ColumnRole::Longitude), (2, ColumnRole::Latitude)]);
        let english = vec![
            col("site_lat", "site lat", ColumnType::Float, Some((41.6, 52.1))),
            col("site_lng", "site lng", ColumnType::Float, Some((87.7, 119.9))),
        ];
        assert_eq!(detect(&english), vec![(1, ColumnRole::Longitude), (0, ColumnRole::Latitude)]);
    }

    #[test]
    fn names_alone_are_not_enough() {
        // Out of range: projected metres, not degrees.
        let metres = vec![
            col("lon", "lon", ColumnType::Float, Some((500_000.0, 600_000.0))),
            col("lat", "lat", ColumnType::Float, Some((41.6, 52.1))),
        ];
        assert!(detect(&metres).is_empty());
        // Text, or a word that only contains the name.
        let text =
            vec![col("lon", "lon", ColumnType::String, None), col("lat", "lat", ColumnType::Float, Some((41.6, 52.1)))];
        assert!(detect(&text).is_empty());
        let words = vec![
            col("longevity", "longevity", ColumnType::Float, Some((1.0, 90.0))),
            col("latency", "latency", ColumnType::Float, Some((1.0, 50.0))),
        ];
        assert!(detect(&words).is_empty());
        // No values at all: nothing to place.
        assert!(
            detect(&[col("lon", "lon", ColumnType::Float, None), col("lat", "lat", ColumnType::Float, None)])
                .is_empty()
        );
    }

    #[test]
    fn geojson_geometry_and_the_geography_of_roles() {
        let mut columns =
            vec![col("name", "NAME", ColumnType::String, None), col("geometry", "geometry", ColumnType::String, None)];
        columns.extend(BBOX.iter().map(|b| col(b, b, ColumnType::Float, Some((40.0, 110.0)))));
        assert_eq!(detect(&columns), vec![(1, ColumnRole::Geometry)]);
        assert_eq!(Geography::of(&columns), None, "roles, not names, make a table geographic");
        columns[1].role = Some(ColumnRole::Geometry);
        let g = Geography::of(&columns).unwrap();
        assert!(matches!(&g, Geography::Shapes { geometry, .. } if geometry == "geometry"));
        assert_eq!(g.place_columns().len(), 6);
    }
}
