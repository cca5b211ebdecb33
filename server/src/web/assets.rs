//! The files pages load: the stylesheet, and the map's library, script and base layer. Each
//! is compiled in and served under a name that carries its content's hash, so it is cached
//! for good and a new build never meets a stale copy.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// One asset: its name in the source, its type and its bytes.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

/// Leaflet and the outlines come from the npm registry (`scripts/vendor-map.py`).
const ASSETS: &[Asset] = &[
    Asset { name: "portal.css", content_type: "text/css; charset=utf-8", body: include_bytes!("assets/portal.css") },
    Asset { name: "leaflet.css", content_type: "text/css; charset=utf-8", body: include_bytes!("assets/leaflet.css") },
    Asset {
        name: "leaflet.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("assets/leaflet.js"),
    },
    Asset { name: "map.js", content_type: "text/javascript; charset=utf-8", body: include_bytes!("assets/map.js") },
    Asset {
        name: "outlines.geojson",
        content_type: "application/geo+json",
        body: include_bytes!("assets/outlines.geojson"),
    },
];

/// Each asset's served path, `/assets/{stem}-{hash}.{ext}`.
static PATHS: LazyLock<Vec<String>> = LazyLock::new(|| {
    ASSETS
        .iter()
        .map(|a| {
            let hash = &blake3::hash(a.body).to_hex()[..12];
            let (stem, ext) = a.name.rsplit_once('.').unwrap_or((a.name, ""));
            format!("/assets/{stem}-{hash}.{ext}")
        })
        .collect()
});

/// Where the asset `name` is served. An unknown name is a programming error, caught by
/// the tests (every page's links are followed).
pub(super) fn path(name: &str) -> &'static str {
    ASSETS.iter().position(|a| a.name == name).map_or("/assets/missing", |i| PATHS[i].as_str())
}

pub(super) async fn asset(Path(file): Path<String>) -> Response {
    let wanted = format!("/assets/{file}");
    let Some(i) = PATHS.iter().position(|p| *p == wanted) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let a = &ASSETS[i];
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(a.content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=31536000, immutable")),
        ],
        a.body,
    )
        .into_response()
}
