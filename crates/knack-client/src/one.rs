//! Reading one record by its id: whether Knack still has it, and as what.

use knack_services_core::Idempotency;
use reqwest::Method;
use serde_json::value::RawValue;

use crate::client::Call;
use crate::records::auth_for;
use crate::write::record_path;
use crate::{Client, Container, Error, RawRecord, Record, Result};

impl Client {
    /// One record (`GET .../records/{id}`), or `None` when Knack answers 404: the record is not
    /// there (deleted, or never in this container).
    ///
    /// Knack answers a single GET with the bare record, no envelope
    /// (<https://docs.knack.com/docs/response-format>). The object route is documented
    /// (<https://docs.knack.com/docs/object-based-requests>); the per-record **view** route
    /// (`pages/{scene}/views/{view}/records/{id}`) is documented only for PUT and DELETE, so
    /// what it answers for a record the view does not show is not known: prefer an object.
    ///
    /// # Errors
    /// As any call (a 401 for a wrong key, 5xx after the retries, ...); [`Error::Decode`] when
    /// Knack answers 2xx with something that is not the record asked for (another id, no id, not
    /// an object), which is never taken to mean the record is gone.
    pub async fn record(&self, container: &Container, record_id: &str) -> Result<Option<Record>> {
        let Some(raw) = self.raw_record(container, record_id).await? else {
            return Ok(None);
        };
        let path = record_path(container, record_id)?;
        raw.to_record().map(Some).map_err(|e| Error::Decode {
            path,
            message: format!("not a record ({e})"),
        })
    }

    /// [`Client::record`] as the JSON text Knack sent, with only its id read: for staging it
    /// untouched.
    ///
    /// # Errors
    /// As [`Client::record`].
    pub async fn raw_record(
        &self,
        container: &Container,
        record_id: &str,
    ) -> Result<Option<RawRecord>> {
        let call = Call {
            method: Method::GET,
            path: record_path(container, record_id)?,
            query: Vec::new(),
            body: None,
            auth: auth_for(container),
            idempotency: Idempotency::Idempotent,
        };
        let body = match self.execute_bytes(&call).await {
            Ok(body) => body,
            Err(Error::Api { status: 404, .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        let decode = |message: String| Error::Decode {
            path: call.path.clone(),
            message,
        };
        let text = std::str::from_utf8(&body).map_err(|e| decode(format!("not UTF-8 ({e})")))?;
        let raw = RawValue::from_string(text.to_string())
            .and_then(RawRecord::from_raw)
            .map_err(|e| decode(format!("not a record ({e})")))?;
        if raw.id() != record_id {
            let got = if raw.id().is_empty() {
                "no id".to_string()
            } else {
                format!("record {}", raw.id())
            };
            return Err(decode(format!(
                "asked for record {record_id}, got {got}: Knack's answer is not the record"
            )));
        }
        Ok(Some(raw))
    }
}
