//! The one request path of the knack-services clients (knack, PostgREST,
//! Socrata, ArcGIS): a retry policy with bounded, logged, jittered waits;
//! server-directed waits; timeouts; transport errors named by their cause;
//! secret header values; paging; the base URL rule; and (feature `testkit`)
//! the frame of the clients' fake servers. It knows nothing of those APIs:
//! each client classifies its own errors ([`Classify`]).
//!
//! ```
//! use knack_services_core::{retry, Classify, Idempotency, RetryClass, RetryPolicy};
//!
//! #[derive(Debug)]
//! struct MyError(u16);
//! impl std::fmt::Display for MyError {
//!     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
//!         write!(f, "the server answered {}", self.0)
//!     }
//! }
//! impl Classify for MyError {
//!     fn retry_class(&self) -> RetryClass {
//!         match self.0 {
//!             429 => RetryClass::RateLimited { wait: None },
//!             500..=599 => RetryClass::Transient,
//!             _ => RetryClass::Permanent,
//!         }
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let policy = RetryPolicy::fast_for_tests();
//! let answer = retry(&policy, Idempotency::Idempotent, "Demo GET /things", |attempt| async move {
//!     if attempt < 3 { Err(MyError(502)) } else { Ok("things") }
//! })
//! .await;
//! assert_eq!(answer.unwrap(), "things");
//! # }
//! ```
// On docs.rs (nightly, `--cfg docsrs`), label each item that needs a feature, such as `testkit`.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod base_url;
mod body;
pub mod ledger;
mod paging;
mod retry;
mod secret;
#[cfg(feature = "testkit")]
pub mod testkit;
mod transport;

pub use base_url::{base_url, is_loopback};
pub use body::{read_body, MAX_BODY_PREALLOCATION};
pub use paging::paginate;
pub use retry::{
    retry, retry_counting_limit, Backoff, Classify, Idempotency, Jitter, RetryClass, RetryPolicy,
};
pub use secrecy::SecretString;
pub use secret::SensitiveHeader;
/// Locks a mutex, taking the data over from a thread that panicked while
/// holding it: a counter or a log stays usable for everyone else.
pub fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub use transport::{describe_transport, retry_after, surely_not_sent, Timeouts};
