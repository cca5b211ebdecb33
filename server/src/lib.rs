//! The `opendata` server: the axum HTTP API over the catalog, the search index and the
//! Parquet store, plus the command line that serves, ingests and reindexes.
//!
//! [`api::router`] builds the whole application from an [`AppState`]; [`cli`] is the binary.

pub mod accounts;
pub mod answer;
pub mod api;
pub mod auth;
pub mod chart;
pub mod child;
pub mod cli;
pub mod client;
pub mod config;
pub mod cors;
pub mod demo;
pub mod encode;
pub mod engine;
pub mod error;
pub mod fetch;
mod follow;
pub mod geojson;
pub mod harvest;
pub mod ingest_child;
pub mod jobs;
mod maintain;
pub mod publish;
pub mod ratelimit;
pub mod reader;
pub mod semantic;
pub mod serve;
pub mod state;
pub mod usage;
pub mod web;
pub mod webhooks;
pub mod xlsx;

pub use api::{ApiDoc, router};
pub use config::Config;
pub use state::AppState;
