//! Writes the portal's OpenAPI document to `openapi/openapi.json`.
//!
//! ```sh
//! cargo run -p opendata-openapi
//! ```
//!
//! The committed file is what client generators and reviewers read; the test below fails
//! when it no longer matches the handlers' annotations.

use std::path::PathBuf;

use opendata_server::ApiDoc;
use utoipa::OpenApi;

/// The document as the server serves it, pretty-printed with a final newline.
fn document() -> String {
    let mut json = ApiDoc::openapi().to_pretty_json().unwrap_or_default();
    json.push('\n');
    json
}

fn target() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("openapi.json")
}

fn main() -> std::io::Result<()> {
    std::fs::write(target(), document())?;
    println!("wrote {}", target().display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn committed_document_matches_the_code() {
        let committed = std::fs::read_to_string(target()).unwrap_or_default();
        assert!(
            committed == document(),
            "openapi/openapi.json is out of date: run `cargo run -p opendata-openapi` and commit the result"
        );
    }
}
