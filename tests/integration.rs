#![allow(clippy::unwrap_used)] // A failed unwrap is a failed test, with its location.

//! End-to-end tests: the real server on port 0, a real catalog file, a real tantivy index
//! on disk and real (messy) files, spoken to over HTTP.

mod common;

/// This binary's data folders keep their catalog and files in themselves (see
/// [`common::locations`]).
const SCALED: bool = false;

/// A query worker or an ingest of the test servers (see [`common::workers`]): the test
/// binary started again to run only this, with its socket on its standard input.
#[test]
#[ignore = "started by the test servers as their query workers and ingests"]
fn worker() {
    if std::env::var_os(opendata_server::child::ENV).is_some() {
        opendata_server::child::main().unwrap();
    }
}

mod accounts;
mod aggregates;
mod answers;
mod attack;
mod backends;
mod catalog;
mod ckan;
mod cli;
mod cluster;
mod corpus;
mod cors;
mod delta;
mod docs;
mod documents;
mod downloads;
mod embed;
mod errors;
mod fault;
mod feeds;
mod formats;
mod fuzz;
mod geography;
mod hostile;
mod ingest;
mod judged;
mod layout;
mod limits;
mod linked;
mod nodes;
mod private;
mod publish;
mod rows;
mod search;
mod sql;
mod storage;
mod usage;
mod versions;
mod web;
mod webhooks;
