//! Pure types and rules of the domain: no actix, no diesel.

pub mod calendar;
pub mod catalogue;
pub mod codes;
pub mod gaps;
pub mod import;
pub mod text;
