//! The errors a use case can end with. The HTTP layer maps them to statuses in one place
//! (`http::error`); causes of internal errors are logged there and never sent to clients.

use crate::store;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad input; `reason` is shown to the user (Chinese), `field` names the input.
    #[error("{field}: {reason}")]
    Validation { field: String, reason: String },
    #[error("not logged in")]
    Unauthenticated,
    #[error("wrong username or password")]
    InvalidCredentials,
    #[error("CSRF token missing or wrong")]
    CsrfRejected,
    /// The caller lacks a capability (names it).
    #[error("missing capability {0}")]
    Forbidden(String),
    /// Refused because of who the caller is or how they signed in (403), with a stable code
    /// and `details` for programs: e.g. `beyond_own_access` (`{"lacks": "…"}`), granting or
    /// managing more than the caller holds; `session_required`, an API token asking for what
    /// only a signed-in person may do.
    #[error("{code}: {message}")]
    Denied {
        code: &'static str,
        message: String,
        details: serde_json::Value,
    },
    /// Absent, or out of the caller's scope: the two are indistinguishable on purpose.
    #[error("not found")]
    NotFound,
    /// A state conflict with a stable machine code (`duplicate`, `setup_done`, …).
    #[error("{code}: {message}")]
    Conflict { code: &'static str, message: String },
    /// A business rule refused (409), with machine-readable `details` (e.g. `{"rule": …}`)
    /// so clients show their own text and never parse `message`.
    #[error("{code}: {message}")]
    Refused {
        code: &'static str,
        message: String,
        details: serde_json::Value,
    },
    /// A credential that is not a login (setup token, API token) is wrong or expired.
    #[error("{code}: {message}")]
    TokenRejected { code: &'static str, message: String },
    /// Well-formed but not allowed in the current state.
    #[error("{code}: {message}")]
    Unprocessable { code: &'static str, message: String },
    /// Existed once and is no longer usable (410): a used or expired signing link.
    #[error("{code}: {message}")]
    Gone { code: &'static str, message: String },
    /// A part of the service is temporarily unable to answer (e.g. the search index rebuilds).
    #[error("{code}: {message}")]
    Unavailable { code: &'static str, message: String },
    #[error("too many attempts; retry in {retry_after_secs}s")]
    Throttled { retry_after_secs: u64 },
    /// Anything that is our fault; the text is logged, never sent.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    pub fn validation(field: impl Into<String>, reason: impl Into<String>) -> Error {
        Error::Validation {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

impl From<store::Error> for Error {
    fn from(e: store::Error) -> Self {
        match e {
            store::Error::NotFound => Error::NotFound,
            store::Error::Conflict(message) => Error::Conflict {
                code: "conflict",
                message,
            },
            other => Error::Internal(other.to_string()),
        }
    }
}
