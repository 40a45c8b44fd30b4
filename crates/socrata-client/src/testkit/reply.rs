//! An answer of the fake before it becomes a wiremock response, and Socrata's error body: what
//! the routes (`server.rs`) and the reads (`read.rs`) both answer with.

use serde_json::{json, Value};

/// An answer: its status and JSON body.
pub(super) struct Reply {
    pub(super) status: u16,
    pub(super) body: Value,
}

/// An answer of `status` with `body`.
pub(super) fn reply(status: u16, body: Value) -> Reply {
    Reply { status, body }
}

/// Socrata's JSON error body (`{"code", "error": true, "message"}`) with `status`.
pub(super) fn error(status: u16, code: &str, message: &str) -> Reply {
    reply(
        status,
        json!({"code": code, "error": true, "message": message}),
    )
}
