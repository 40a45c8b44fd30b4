//! An answer of the fake before it becomes a wiremock response, and Socrata's error body: what
//! the routes (`server.rs`) and the reads (`read.rs`) both answer with.

use serde_json::{json, Value};

/// An answer: its status, JSON body (`None`: no body at all) and extra headers.
pub(super) struct Reply {
    pub(super) status: u16,
    pub(super) body: Option<Value>,
    pub(super) headers: Vec<(&'static str, String)>,
}

/// An answer of `status` with `body`.
pub(super) fn reply(status: u16, body: Value) -> Reply {
    Reply {
        status,
        body: Some(body),
        headers: Vec::new(),
    }
}

/// Socrata's JSON error body (`{"code", "error": true, "message"}`) with `status`.
pub(super) fn error(status: u16, code: &str, message: &str) -> Reply {
    reply(
        status,
        json!({"code": code, "error": true, "message": message}),
    )
}

/// SODA's 404 for a dataset that does not exist, as soda-ruby recorded it
/// (test/resources/404.response, github.com/socrata/soda-ruby at
/// a2b3e4790701555418e3ade96468526edfa98727): code `dataset.missing`, the id under `data`.
pub(super) fn dataset_missing(id: &str) -> Reply {
    reply(
        404,
        json!({"code": "dataset.missing", "error": true, "message": "Not found",
               "data": {"id": id}}),
    )
}
