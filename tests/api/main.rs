//! Black-box tests over HTTP. Run on SQLite by default, on PostgreSQL with
//! `TEST_DATABASE_URL=postgres://…` (each test in a database of its own).

#![expect(
    clippy::expect_used,
    reason = "a test fails by panicking: `expect` says what was expected"
)]

mod architecture;
mod archive;
mod audit;
mod auth;
mod authz;
mod bad_input;
mod bulk;
mod changes;
mod concurrency;
mod decisions;
mod errors;
mod exports;
mod hardening;
mod health;
mod helpers;
mod import;
mod inspections;
mod lineage;
mod obligation;
mod openapi;
mod operations;
mod postings;
mod procedures;
mod reports;
mod search;
mod sectors;
mod units;
mod webhooks;
