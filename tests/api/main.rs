//! Black-box tests over HTTP. Run on SQLite by default, on PostgreSQL with
//! `TEST_DATABASE_URL=postgres://…` (each test in a database of its own).

mod auth;
mod decisions;
mod errors;
mod health;
mod helpers;
mod import;
mod openapi;
mod postings;
mod procedures;
mod reports;
mod sectors;
mod units;
