//! The HTTP side shared by every client: timeouts, transport errors described
//! by their cause, and `Retry-After`.

use std::error::Error as _;
use std::io;
use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, RETRY_AFTER};

/// Per-request timeouts. A response that stalls (headers or body) is
/// abandoned at `total` and, being [`crate::RetryClass::Transient`], retried
/// within the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// The longest wait for a TCP + TLS connection.
    pub connect: Duration,
    /// The longest one attempt may take, body included.
    pub total: Duration,
}

impl Default for Timeouts {
    /// 10 s to connect, 30 s in all.
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(10),
            total: Duration::from_secs(30),
        }
    }
}

impl Timeouts {
    /// A reqwest builder with these timeouts and `user_agent` set; add
    /// client-specific settings and build it.
    ///
    /// # Errors
    /// A message when a timeout is zero.
    pub fn http_client(&self, user_agent: &str) -> Result<reqwest::ClientBuilder, String> {
        if self.connect.is_zero() || self.total.is_zero() {
            return Err("timeouts must be longer than zero".into());
        }
        Ok(reqwest::Client::builder()
            .connect_timeout(self.connect)
            .timeout(self.total)
            .user_agent(user_agent))
    }
}

/// Describes a transport error by its root cause ("connection refused",
/// "timed out after 30s", "dns error: ...", "invalid peer certificate: ..."),
/// never by reqwest's bare "error sending request", and without the URL.
pub fn describe_transport(e: &reqwest::Error, timeouts: &Timeouts) -> String {
    let mut chain: Vec<String> = Vec::new();
    let mut io_kind = None;
    let mut source = e.source();
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<io::Error>() {
            io_kind.get_or_insert(io.kind());
        }
        let text = s.to_string();
        if !chain.iter().any(|c| c.contains(&text)) {
            chain.push(text);
        }
        source = s.source();
    }
    let detail = chain.join(": ");
    let head = if e.is_timeout() {
        if e.is_connect() {
            format!("connecting timed out after {:?}", timeouts.connect)
        } else {
            format!("timed out after {:?}", timeouts.total)
        }
    } else {
        match io_kind {
            Some(io::ErrorKind::ConnectionRefused) => "connection refused".into(),
            Some(io::ErrorKind::ConnectionReset) => "connection reset by the server".into(),
            Some(io::ErrorKind::ConnectionAborted) => "connection aborted".into(),
            Some(io::ErrorKind::UnexpectedEof) => "connection closed before the answer".into(),
            _ if detail.contains("dns error") => "dns error".into(),
            _ if detail.contains("certificate") => "certificate error".into(),
            _ if e.is_connect() => "could not connect".into(),
            _ if e.is_body() || e.is_decode() => "the answer's body broke off".into(),
            _ => "transport error".into(),
        }
    };
    if detail.is_empty() {
        head
    } else {
        format!("{head} ({detail})")
    }
}

/// Whether a transport error surely happened before the request was sent
/// (connection refused, DNS, TLS handshake): a non-idempotent request may be
/// retried after it.
pub fn surely_not_sent(e: &reqwest::Error) -> bool {
    e.is_connect()
}

/// The wait a `Retry-After` header asks for, in delay-seconds or an
/// HTTP-date, relative to `now`; `None` when absent or unreadable, zero for a
/// date already past.
///
/// See <https://www.rfc-editor.org/rfc/rfc9110#field.retry-after>.
pub fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let text = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = text.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(text).ok()?;
    Some(at.duration_since(now).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, v.parse().unwrap());
        h
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480);
        assert_eq!(
            retry_after(&headers("7"), now),
            Some(Duration::from_secs(7))
        );
        // 2015-10-21 07:28:00 UTC is 1445412480.
        assert_eq!(
            retry_after(&headers("Wed, 21 Oct 2015 07:28:30 GMT"), now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            retry_after(&headers("Wed, 21 Oct 2015 07:27:00 GMT"), now),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after(&headers("soon"), now), None);
        assert_eq!(retry_after(&HeaderMap::new(), now), None);
    }

    #[tokio::test]
    async fn a_refused_connection_is_named() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let t = Timeouts::default();
        let err = t
            .http_client("test")
            .unwrap()
            .build()
            .unwrap()
            .get(format!("http://{addr}/x"))
            .send()
            .await
            .unwrap_err();
        let text = describe_transport(&err, &t);
        assert!(text.starts_with("connection refused"), "{text}");
        assert!(!text.contains("error sending request"), "{text}");
        assert!(surely_not_sent(&err));
    }
}
