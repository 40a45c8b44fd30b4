//! Seeded random faults ([`Chaos`]): a share of every request a fake sees fails in one of six
//! ordinary ways, the same ways for the same seed and the same request order.
//!
//! Four kinds are answers the fake gives instead of applying the request (500, 502, 503, 429 with
//! `Retry-After`). Two are connections that break: one dropped before the request was read (not
//! applied), one dropped **after** the fake applied it, so the client never learns the outcome.
//! Wiremock cannot break a connection, so a fake with chaos is reached through a small proxy
//! ([`LossProxy`]) that forwards each request on a fresh connection and closes the client's
//! connection without a word when the fake marks its answer as lost ([`LOST_HEADER`]).

use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use super::Fault;

/// The response header a fake sets on an answer that must never reach the client: the proxy
/// drops the connection instead of sending it.
pub const LOST_HEADER: &str = "x-testkit-lost-answer";

/// The seeded random-fault knob: `rate` (0.0–1.0) of all requests fail, each in one of the six
/// [`ChaosKind`]s drawn uniformly. Deterministic from `seed` for a given request order.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Chaos {
    /// The seed of the generator.
    pub seed: u64,
    /// The share of requests that fail (0.04 is 4 %).
    pub rate: f64,
}

/// One of the ordinary faults [`Chaos`] injects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ChaosKind {
    /// 500 Internal Server Error (the fake's own error body, no data error code); not applied.
    Status500,
    /// 502 Bad Gateway with an HTML body, as a proxy sends it; not applied.
    Status502,
    /// 503 Service Unavailable; not applied.
    Status503,
    /// 429 Too Many Requests with `Retry-After: 1`; not applied.
    RateLimited,
    /// The connection closes before the request was read: not applied, no answer.
    DroppedBeforeRead,
    /// The fake applies the request, then the connection closes: the answer is lost.
    LostAfterApplied,
}

impl ChaosKind {
    /// The six kinds, in order.
    pub const ALL: [ChaosKind; 6] = [
        ChaosKind::Status500,
        ChaosKind::Status502,
        ChaosKind::Status503,
        ChaosKind::RateLimited,
        ChaosKind::DroppedBeforeRead,
        ChaosKind::LostAfterApplied,
    ];

    /// The fault that plays this kind. Status faults have an empty body (the fake fills in its
    /// own error body), except 502, which proxies answer in HTML.
    pub fn fault(self) -> Fault {
        match self {
            ChaosKind::Status500 => Fault::status(500),
            ChaosKind::Status502 => {
                Fault::status(502).body("<html><body><h1>502 Bad Gateway</h1></body></html>")
            }
            ChaosKind::Status503 => Fault::status(503),
            ChaosKind::RateLimited => Fault::status(429).header("Retry-After", 1),
            // Answered (never applied) with a status the client never sees.
            ChaosKind::DroppedBeforeRead => Fault::status(500).lose_answer(),
            ChaosKind::LostAfterApplied => Fault::slow(std::time::Duration::ZERO).lose_answer(),
        }
    }
}

/// The generator state: SplitMix64, small and the same on every platform.
#[derive(Debug, Clone)]
pub(crate) struct ChaosState {
    pub(crate) chaos: Chaos,
    state: u64,
    pub(crate) injected: Vec<(ChaosKind, usize)>,
}

impl ChaosState {
    pub(crate) fn new(chaos: Chaos) -> Self {
        Self {
            chaos,
            state: chaos.seed,
            injected: ChaosKind::ALL.iter().map(|k| (*k, 0)).collect(),
        }
    }

    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// One draw per request: the fault kind for it, if it fails.
    pub(crate) fn draw(&mut self) -> Option<ChaosKind> {
        // 53 random bits as a float in [0, 1).
        #[allow(clippy::cast_precision_loss)]
        let roll = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        if roll >= self.chaos.rate {
            return None;
        }
        let len = ChaosKind::ALL.len() as u64;
        let kind = ChaosKind::ALL[usize::try_from(self.next_u64() % len).unwrap_or(0)];
        if let Some(entry) = self.injected.iter_mut().find(|(k, _)| *k == kind) {
            entry.1 += 1;
        }
        Some(kind)
    }
}

/// A proxy in front of a fake: forwards each request on its own connection to `upstream`, and
/// answers the client with `connection: close`, or, when the answer carries [`LOST_HEADER`],
/// closes the client's connection without answering. Dropping it stops it.
#[derive(Debug)]
pub struct LossProxy {
    uri: String,
    task: JoinHandle<()>,
}

impl LossProxy {
    /// Starts it on a loopback port, in front of `upstream` (`http://host:port`). Needs a Tokio
    /// runtime.
    pub fn start(upstream: &str) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        listener
            .set_nonblocking(true)
            .expect("a loopback listener can be non-blocking");
        let uri = format!("http://{}", listener.local_addr().expect("bound"));
        let upstream: Arc<str> = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .into();
        let task = tokio::spawn(async move {
            let listener = TcpListener::from_std(listener).expect("a tokio listener");
            while let Ok((sock, _)) = listener.accept().await {
                let upstream = Arc::clone(&upstream);
                tokio::spawn(async move {
                    let _ = serve(sock, &upstream).await;
                });
            }
        });
        Self { uri, task }
    }

    /// Its base URI (`http://127.0.0.1:port`).
    pub fn uri(&self) -> &str {
        &self.uri
    }
}

impl Drop for LossProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves the requests of one client connection, one upstream connection each.
async fn serve(mut client: TcpStream, upstream: &str) -> std::io::Result<()> {
    let mut buf = Vec::new();
    {
        let Some((head, body_len)) = read_head(&mut client, &mut buf).await? else {
            return Ok(());
        };
        let method_head = head.starts_with(b"HEAD ");
        let mut request = head;
        request.extend(take(&mut client, &mut buf, body_len).await?);
        let mut up = TcpStream::connect(upstream).await?;
        up.write_all(&request).await?;
        let mut ubuf = Vec::new();
        let Some((mut rhead, rlen)) = read_head(&mut up, &mut ubuf).await? else {
            return Ok(());
        };
        let rlen = if method_head { 0 } else { rlen };
        let body = take(&mut up, &mut ubuf, rlen).await?;
        let text = String::from_utf8_lossy(&rhead).to_ascii_lowercase();
        if text.contains(LOST_HEADER) {
            // The answer is lost: the client sees its connection close.
            return Ok(());
        }
        // Ask the client not to reuse the connection, so that it never sends a request on one
        // this proxy is about to close.
        rhead.truncate(rhead.len() - 2);
        rhead.extend_from_slice(b"connection: close\r\n\r\n");
        client.write_all(&rhead).await?;
        client.write_all(&body).await?;
        client.flush().await
    }
}

/// Reads one message head (through the blank line) and its `content-length`; `None` at a clean
/// end of stream.
async fn read_head(
    s: &mut TcpStream,
    buf: &mut Vec<u8>,
) -> std::io::Result<Option<(Vec<u8>, usize)>> {
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head: Vec<u8> = buf.drain(..end + 4).collect();
            let text = String::from_utf8_lossy(&head).to_ascii_lowercase();
            let len = text
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            return Ok(Some((head, len)));
        }
        let mut chunk = [0u8; 8192];
        let n = s.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Takes `len` body bytes: those already buffered first, then from the stream.
async fn take(s: &mut TcpStream, buf: &mut Vec<u8>, len: usize) -> std::io::Result<Vec<u8>> {
    while buf.len() < len {
        let mut chunk = [0u8; 8192];
        let n = s.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok(buf.drain(..len).collect())
}
