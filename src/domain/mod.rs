//! Pure types and rules of the domain: no actix, no diesel.

pub mod calendar;
pub mod catalogue;
pub mod codes;
pub mod gaps;
pub mod import;
pub mod lineage;
pub mod obligation;
pub mod search;
pub mod text;
pub mod webhooks;

use serde::Serialize;
use utoipa::ToSchema;

/// One problem with one input field: what a validation reports, whichever layer finds it.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct FieldError {
    /// Where the problem is: a field name, a JSON path such as `items[2].effective_on`, or a line
    /// such as `line 17`.
    pub field: String,
    /// What is wrong, in plain words.
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}
