//! niemyet: the procedure catalogue of Vietnam's administrative procedures, and what each commune
//! office has publicly posted of it.

pub mod auth;
pub mod cache;
pub mod cli;
pub mod clock;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod http;
pub mod notify;
pub mod openapi;
pub mod ratelimit;
pub mod repo;
pub mod routes;
pub mod seed;
pub mod services;
pub mod startup;
pub mod telemetry;
