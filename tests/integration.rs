#![allow(clippy::unwrap_used)] // A failed unwrap is a failed test, with its location.

//! End-to-end tests: the real server on port 0, a real catalog file, a real tantivy index
//! on disk and real (messy) files, spoken to over HTTP.

mod common;

mod catalog;
mod ckan;
mod cli;
mod corpus;
mod docs;
mod downloads;
mod errors;
mod fault;
mod formats;
mod hostile;
mod ingest;
mod linked;
mod publish;
mod rows;
mod search;
mod sql;
mod versions;
mod web;
