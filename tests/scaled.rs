#![allow(clippy::unwrap_used)] // A failed unwrap is a failed test, with its location.

//! The catalog, ingest and API suites of `integration` again, with every data folder's
//! catalog in PostgreSQL and its files in an S3 bucket (see [`common::locations`]): the
//! same tests, so both backends answer alike. The suites that look behind the store on
//! purpose (the data folder's SQLite file, crashes between its steps, the CLI over a
//! folder) and those that start services of their own (backends, nodes, storage, delta,
//! cluster) run only in `integration`.

#[allow(dead_code)] // Helpers for suites that run only in `integration`.
mod common;

const SCALED: bool = true;

/// A query worker or an ingest of the test servers, as in `integration`.
#[test]
#[ignore = "started by the test servers as their query workers and ingests"]
fn worker() {
    if std::env::var_os(opendata_server::child::ENV).is_some() {
        opendata_server::child::main().unwrap();
    }
}

mod accounts;
mod catalog;
mod ckan;
mod documents;
mod downloads;
mod errors;
mod formats;
mod geography;
mod ingest;
mod linked;
mod private;
mod publish;
mod rows;
mod search;
mod sql;
mod usage;
mod versions;
mod web;
mod webhooks;
