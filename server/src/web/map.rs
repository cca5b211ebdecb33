//! The map of a table with a geography: its filtered rows from `data.geojson`, drawn by
//! `assets/map.js` with the vendored Leaflet over the portal's own outlines. The page's
//! table of the same rows is what a reader without JavaScript sees.

use maud::{Markup, html};
use opendata_datasets::Table;
use opendata_datasets::geo::Geography;

use super::assets;
use super::i18n::{Lang, t};

/// Features a map draws at most: a sample of larger tables, which the link downloads whole.
pub(super) const FEATURES: usize = 10_000;

/// The map's scripts and styles, for the page's head.
pub(super) fn head() -> Markup {
    html! {
        link rel="stylesheet" href=(assets::path("leaflet.css"));
        script src=(assets::path("leaflet.js")) defer {}
        script src=(assets::path("map.js")) defer {}
    }
}

/// The map of `table`'s rows under `filters` (the rows API's), if the table has a place.
pub(super) fn section(
    lang: Lang,
    base: &str,
    dataset: &str,
    table: &Table,
    filters: &[(String, String)],
) -> Option<Markup> {
    Geography::of(&table.latest().columns)?;
    let query = |limit: Option<usize>| {
        let mut q = form_urlencoded::Serializer::new(String::new());
        q.extend_pairs(filters.iter().filter(|(k, _)| !["limit", "cursor", "offset", "select"].contains(&k.as_str())));
        if let Some(n) = limit {
            q.append_pair("limit", &n.to_string());
        }
        q.finish()
    };
    let file = format!("{base}/api/v1/datasets/{dataset}/tables/{}/data.geojson", table.name);
    let src = format!("{file}?{}", query(Some(FEATURES)));
    let whole = format!("{file}?{}", query(None));
    Some(html! {
        section.map-preview {
            h3 { (t(lang, "map")) }
            div.map data-src=(src) data-outlines=(assets::path("outlines.geojson")) data-failed=(t(lang, "map_failed"))
                role="region" aria-label=(t(lang, "map")) {
                noscript { p { (t(lang, "map_noscript")) } }
            }
            p.meta {
                (t(lang, "map_sample")) " "
                a href=(whole) download { "GeoJSON" }
            }
        }
    })
}
