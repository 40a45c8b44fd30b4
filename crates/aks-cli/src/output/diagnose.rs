//! A pipeline's failure as one message for the person running `aks`: what failed, its root cause
//! (the error's `source()` chain, which the clients' one-line messages stop short of), and, when
//! the request never got an answer, the setting to check under its user-facing name.

use std::error::Error as StdError;

use knack_etl::{agol_client, knack_client, pgrest_client, socrata_client};
use url::Url;

use crate::settings::Settings;

/// `error`, then `  cause: ...` with every cause its message does not already say, then, for a
/// network failure (refused, timed out, DNS, TLS), `  check: KNACK_API_URL (https://...) ...`.
///
/// Never prints a credential: the clients' messages hold none, and URLs are shown without their
/// query.
pub fn explain(error: &knack_etl::Error, settings: &Settings) -> String {
    let mut text = with_causes(error);
    if is_network(error) {
        if let Some((origin, url)) = setting(innermost(error), settings) {
            text.push_str(&check_line(origin, url));
        }
    }
    text
}

/// The hint under an unreachable service, one format for all four:
/// `\n  check: KNACK_API_URL (https://...) is right, and reachable from here (...)`. `origin` is
/// the env var or config key the URL came from.
pub fn check_line(origin: &str, url: &Url) -> String {
    format!(
        "\n  check: {origin} ({}) is right, and reachable from here (network, DNS, firewall, \
         proxy, TLS certificate)",
        shown(url)
    )
}

/// `error` from a service aks could not reach, explained as [`explain`] does: the error, its
/// causes, the setting to check.
pub fn unreachable(error: &(dyn StdError + 'static), origin: &str, url: &Url) -> String {
    with_causes(error) + &check_line(origin, url)
}

/// `error`, then `\n  cause: ...` with the causes its message does not already say, with the
/// clients' builder methods named by aks's environment variables ([`env_hints`]).
fn with_causes(error: &(dyn StdError + 'static)) -> String {
    let mut text = error.to_string();
    let causes = causes(error, &text);
    if !causes.is_empty() {
        text.push_str(&format!("\n  cause: {}", causes.join(": ")));
    }
    env_hints(&text)
}

/// What the clients' messages tell a library user to check (a builder method), and what aks's
/// user sets instead: the environment variable. Each phrase is one client's own, so the same
/// method name in two clients (`ClientBuilder::api_key`) is never confused.
const ENV_HINTS: &[(&str, &str)] = &[
    // knack-client, on a 401 or 403.
    (
        "Check ClientBuilder::api_key and ClientBuilder::app_id",
        "Check KNACK_API_KEY and KNACK_APP_ID",
    ),
    // socrata-client, on a 429.
    (
        "send an app token (ClientBuilder::app_token)",
        "send an app token (SOCRATA_APP_TOKEN)",
    ),
    // agol-client, when generateToken refuses the credentials.
    (
        "check the username and password (ClientBuilder::credentials)",
        "check the username and password (AGOL_USERNAME / AGOL_PASSWORD)",
    ),
];

/// A client's message with the builder methods it names replaced by aks's environment variables.
pub fn env_hints(message: &str) -> String {
    ENV_HINTS
        .iter()
        .fold(message.to_owned(), |text, (library, aks)| {
            text.replace(library, aks)
        })
}

/// A client's builder refusing a value aks already validated (kept for defence in depth):
/// names the setting the value came from.
pub fn build_failed(system: &str, origin: &str, error: &dyn StdError) -> String {
    format!(
        "cannot set up the {system} client from {origin}: {}",
        env_hints(&error.to_string())
    )
}

/// The messages below `error` in its `source()` chain that `top` does not already contain.
pub fn causes(error: &(dyn StdError + 'static), top: &str) -> Vec<String> {
    let mut seen = top.to_owned();
    let mut out = Vec::new();
    for source in std::iter::successors(error.source(), |&s| s.source()) {
        let s = source.to_string();
        if !s.is_empty() && !seen.contains(&s) {
            seen.push_str(&s);
            out.push(s);
        }
    }
    out
}

/// Whether the request got no answer at all: refused, reset, timed out, DNS or TLS failure.
pub fn is_network(error: &knack_etl::Error) -> bool {
    // Clients on knack-services-core keep the cause as text (no `source()`), so their transport
    // variants are named here; the others are recognised by the reqwest error they carry.
    match innermost(error) {
        knack_etl::Error::Knack(
            knack_client::Error::Timeout { .. } | knack_client::Error::Transport { .. },
        )
        | knack_etl::Error::Postgrest(
            pgrest_client::Error::Timeout { .. } | pgrest_client::Error::Transport { .. },
        )
        | knack_etl::Error::Agol(agol_client::Error::Transport { .. }) => return true,
        knack_etl::Error::Socrata(e) if socrata_unanswered(e) => return true,
        _ => {}
    }
    let chain = std::iter::successors(Some(error as &(dyn StdError + 'static)), |&s| s.source());
    for e in chain {
        if let Some(r) = e.downcast_ref::<reqwest::Error>() {
            if r.is_connect() || r.is_timeout() || (r.is_request() && r.status().is_none()) {
                return true;
            }
        }
        if e.is::<std::io::Error>() {
            return true;
        }
    }
    false
}

/// Whether a Socrata request got no answer (connection, DNS, TLS, timeout).
pub fn socrata_unanswered(e: &socrata_client::Error) -> bool {
    matches!(
        e,
        socrata_client::Error::Timeout { .. } | socrata_client::Error::Transport { .. }
    )
}

/// The error a [`knack_etl::Error::PartlyWritten`] wraps, or `error` itself.
fn innermost(error: &knack_etl::Error) -> &knack_etl::Error {
    match error {
        knack_etl::Error::PartlyWritten { error, .. } => innermost(error),
        other => other,
    }
}

/// The setting (env var or config key) and URL of the system that failed.
fn setting<'a>(error: &knack_etl::Error, s: &'a Settings) -> Option<(&'a str, &'a Url)> {
    match error {
        knack_etl::Error::Knack(_) => Some((&s.knack.api_url_origin, &s.knack.api_url)),
        knack_etl::Error::Postgrest(_) | knack_etl::Error::Staging(_) => {
            Some((&s.postgrest.endpoint_origin, &s.postgrest.endpoint))
        }
        knack_etl::Error::Socrata(_) => s.socrata.as_ref().map(|x| (x.url_origin.as_str(), &x.url)),
        knack_etl::Error::Agol(_) => s.agol.as_ref().map(|x| (x.url_origin.as_str(), &x.url)),
        _ => None,
    }
}

/// `scheme://host[:port]/path`: no query or fragment, which is where a token could hide.
fn shown(url: &Url) -> String {
    let mut u = url.clone();
    u.set_query(None);
    u.set_fragment(None);
    u.to_string()
}
