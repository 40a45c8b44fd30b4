//! Turning an HTTP response into JSON or an [`Error`], by ArcGIS's rules.

use std::time::SystemTime;

use knack_services_core::Timeouts;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::Error;

/// Parses a checked JSON body into `T`; a mismatch is [`Error::Decode`] naming `operation`.
pub(crate) fn decode<T: DeserializeOwned>(operation: &str, body: Value) -> Result<T, Error> {
    serde_json::from_value(body).map_err(|e| Error::Decode {
        operation: operation.into(),
        message: e.to_string(),
    })
}

/// Reads a response and applies ArcGIS's error rules: an `error` object means failure whatever
/// the HTTP status, and a non-2xx status means failure whatever the body.
pub(crate) async fn read_response(
    operation: &str,
    resp: reqwest::Response,
    timeouts: &Timeouts,
) -> Result<Value, Error> {
    let status = resp.status();
    let retry_after = knack_services_core::retry_after(resp.headers(), SystemTime::now());
    let bytes = knack_services_core::read_body(resp)
        .await
        .map_err(|e| Error::transport(operation, &e, timeouts))?;
    let body: Option<Value> = serde_json::from_slice(&bytes).ok();
    let api_error = |code: Option<i64>, message: String, details: Vec<String>| Error::Api {
        operation: operation.into(),
        status: status.as_u16(),
        code,
        message,
        details,
        retry_after,
    };
    if let Some(err) = body.as_ref().and_then(|b| b.get("error")) {
        let code = err.get("code").and_then(|c| {
            c.as_i64()
                .or_else(|| c.as_str().and_then(|s| s.parse().ok()))
        });
        let message = err
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let details = err
            .get("details")
            .and_then(Value::as_array)
            .map(|d| {
                d.iter()
                    .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        return Err(api_error(code, message, details));
    }
    if !status.is_success() {
        let text = String::from_utf8_lossy(&bytes);
        let snippet: String = text.chars().take(200).collect();
        let reason = status.canonical_reason().unwrap_or("HTTP error");
        return Err(api_error(
            None,
            format!("HTTP {} {reason}", status.as_u16()),
            if snippet.trim().is_empty() {
                vec![]
            } else {
                vec![snippet]
            },
        ));
    }
    let Some(body) = body else {
        let text = String::from_utf8_lossy(&bytes);
        let hint = if text.trim_start().starts_with('<') {
            " (HTML: was `f=json` dropped, or is the URL not a REST endpoint?)"
        } else {
            ""
        };
        return Err(Error::Decode {
            operation: operation.into(),
            message: format!("the body is not JSON{hint}"),
        });
    };
    // Billing-style bodies put the code at top level.
    if let Some(code) = body.get("code").and_then(Value::as_i64) {
        if code >= 400 {
            let message = body
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            return Err(api_error(Some(code), message, vec![]));
        }
    }
    // restjs compares "failed" / "failure" exactly; any case is taken here ("Failed" is seen too).
    let status_word = body
        .get("status")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if ["failed", "failure"]
        .iter()
        .any(|w| status_word.eq_ignore_ascii_case(w))
    {
        return Err(job_failed(&body, api_error));
    }
    Ok(body)
}

/// An async job's failure (`status: "failed"`) with the job's own words: `statusMessage` is
/// either plain text or JSON text holding `code` and `message`, read as Esri's arcgis-rest-js
/// reads it (`checkForErrors` in packages/arcgis-rest-request/src/request.ts); `message` is the
/// fallback.
fn job_failed(
    body: &Value,
    api_error: impl Fn(Option<i64>, String, Vec<String>) -> Error,
) -> Error {
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
    let status_message = text(body.get("statusMessage"));
    let inner = status_message
        .as_deref()
        .and_then(|m| serde_json::from_str::<Value>(m).ok())
        .filter(Value::is_object);
    let (code, message) = match &inner {
        Some(json) => (
            json.get("code").and_then(Value::as_i64),
            text(json.get("message")),
        ),
        None => (None, status_message.or_else(|| text(body.get("message")))),
    };
    let message = message.unwrap_or_else(|| "no statusMessage".into());
    api_error(
        code,
        format!("the job reported status failed: {message}"),
        vec![],
    )
}
