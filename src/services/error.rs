//! The services' own error: what can go wrong in an operation, without HTTP. The edge maps it to
//! a status in one place (`error::ApiError`'s `From`); the command line prints it as it is.

use crate::auth::Denied;
use crate::db::DbError;
use crate::domain::FieldError;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("not found: {0}")]
    NotFound(String),
    #[error("not allowed: {0}")]
    Forbidden(String),
    #[error("conflict: {0}")]
    Conflict(String),
    /// The resource changed since the caller read it (`If-Match`).
    #[error("precondition failed: {0}")]
    PreconditionFailed(String),
    /// Every invalid field, or every bad line of a file.
    #[error("invalid input: {}", describe(.0))]
    Validation(Vec<FieldError>),
    /// The input is larger than the operation takes.
    #[error("too large: {0}")]
    TooLarge(String),
    /// The database does not answer, or the service is saturated: try again shortly.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// Too much heavy work at once; try again shortly.
    #[error("busy: {0}")]
    Busy(String),
    #[error(transparent)]
    Internal(anyhow::Error),
}

fn describe(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(|e| format!("{}: {}", e.field, e.message))
        .collect::<Vec<_>>()
        .join("; ")
}

impl ServiceError {
    pub fn internal(e: impl Into<anyhow::Error>) -> Self {
        ServiceError::Internal(e.into())
    }

    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        ServiceError::Validation(vec![FieldError::new(field, message)])
    }
}

impl From<diesel::result::Error> for ServiceError {
    fn from(e: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match e {
            Error::NotFound => ServiceError::NotFound("no such resource".into()),
            Error::DatabaseError(DatabaseErrorKind::ClosedConnection, info) => {
                ServiceError::Unavailable(info.message().to_owned())
            }
            other => ServiceError::Internal(other.into()),
        }
    }
}

impl From<DbError> for ServiceError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::Unavailable(m) => ServiceError::Unavailable(m),
            DbError::Busy(m) => ServiceError::Busy(m),
            DbError::Internal(e) => ServiceError::Internal(e),
        }
    }
}

impl From<Denied> for ServiceError {
    fn from(d: Denied) -> Self {
        ServiceError::Forbidden(d.0)
    }
}
