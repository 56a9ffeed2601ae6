//! Pure types and rules of the domain: no actix, no diesel.

pub mod catalogue;
pub mod codes;
pub mod import;
pub mod text;
