//! Creating, updating and deleting one record.

use knack_services_core::Idempotency;
use reqwest::Method;
use serde::Serialize;
use serde_json::Value;

use crate::client::Call;
use crate::records::auth_for;
use crate::{Client, Container, Error, Record, Result};

impl Client {
    /// Creates a record (`POST .../records`) and returns it as Knack stored it.
    ///
    /// A create is not idempotent, so it is retried only when Knack surely did
    /// not act on it (a 429, or a connection that never opened). After a
    /// timeout, a 5xx or a dropped connection the record may exist: the error
    /// is returned and the caller decides (look it up by a unique field, or
    /// use [`Client::create_retrying`] and accept duplicates).
    ///
    /// # Errors
    /// [`Error::Api`] with Knack's message (400 for a bad field value), and
    /// the transport errors.
    pub async fn create(&self, container: &Container, fields: &impl Serialize) -> Result<Record> {
        self.create_inner(container, fields, Idempotency::NotIdempotent)
            .await
    }

    /// Creates a record, retrying after timeouts and 5xx too: a duplicate
    /// record is possible when Knack created it but the answer was lost.
    ///
    /// # Errors
    /// As [`Client::create`].
    pub async fn create_retrying(
        &self,
        container: &Container,
        fields: &impl Serialize,
    ) -> Result<Record> {
        self.create_inner(container, fields, Idempotency::Idempotent)
            .await
    }

    async fn create_inner(
        &self,
        container: &Container,
        fields: &impl Serialize,
        idempotency: Idempotency,
    ) -> Result<Record> {
        let call = Call {
            method: Method::POST,
            path: container.records_path(),
            query: Vec::new(),
            body: Some(body(fields)?),
            auth: auth_for(container),
            idempotency,
        };
        record(self.execute(&call).await?, &call.path)
    }

    /// Updates the fields given (`PUT .../records/{id}`); the others stay.
    ///
    /// # Errors
    /// [`Error::Api`] 404 when no such record exists, and as [`Client::create`].
    pub async fn update(
        &self,
        container: &Container,
        record_id: &str,
        fields: &impl Serialize,
    ) -> Result<Record> {
        let call = Call {
            method: Method::PUT,
            path: record_path(container, record_id)?,
            query: Vec::new(),
            body: Some(body(fields)?),
            auth: auth_for(container),
            idempotency: Idempotency::Idempotent,
        };
        record(self.execute(&call).await?, &call.path)
    }

    /// Deletes a record (`DELETE .../records/{id}`, answered `{"delete": true}`).
    /// A 404 after a retry counts as deleted: the lost attempt did it.
    ///
    /// # Errors
    /// [`Error::Api`] 404 when the record did not exist on the first attempt.
    pub async fn delete(&self, container: &Container, record_id: &str) -> Result<()> {
        let call = Call {
            method: Method::DELETE,
            path: record_path(container, record_id)?,
            query: Vec::new(),
            body: None,
            auth: auth_for(container),
            idempotency: Idempotency::Idempotent,
        };
        let answer = self.execute(&call).await?;
        if answer.get("delete").and_then(Value::as_bool) == Some(true) {
            Ok(())
        } else {
            Err(Error::Decode {
                path: call.path,
                message: format!("expected {{\"delete\": true}}, got {answer}"),
            })
        }
    }
}

fn body(fields: &impl Serialize) -> Result<Value> {
    let v = serde_json::to_value(fields)
        .map_err(|e| Error::InvalidQuery(format!("the record fields do not serialize: {e}")))?;
    if v.is_object() {
        Ok(v)
    } else {
        Err(Error::InvalidQuery(
            "record fields must be a JSON object of field_N keys".into(),
        ))
    }
}

pub(crate) fn record_path(container: &Container, record_id: &str) -> Result<String> {
    if record_id.is_empty() || !record_id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(Error::InvalidQuery(format!(
            "{record_id:?} is not a Knack record id (24 hex characters)"
        )));
    }
    Ok(format!("{}/{record_id}", container.records_path()))
}

fn record(v: Value, path: &str) -> Result<Record> {
    match v {
        Value::Object(m) => Ok(Record::new(m)),
        other => Err(Error::Decode {
            path: path.to_string(),
            message: format!("expected a record object, got {other}"),
        }),
    }
}
