//! A pipeline's failure as one message for the person running `aks`: what failed, its root cause
//! (the error's `source()` chain, which the clients' one-line messages stop short of), and, when
//! the request never got an answer, the setting to check under its user-facing name.

use url::Url;

use crate::settings::Settings;

/// `error`, then `  cause: ...` with every cause its message does not already say, then, for a
/// network failure (refused, timed out, DNS, TLS), `  check: KNACK_API_URL (https://...) ...`.
///
/// Never prints a credential: the clients' messages hold none, and URLs are shown without their
/// query.
pub fn explain(error: &knack_etl::Error, settings: &Settings) -> String {
    let mut text = with_causes(error);
    if error.is_unanswered() {
        if let Some((origin, url)) = setting(error.innermost(), settings) {
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
pub fn unreachable(error: &knack_etl::Error, origin: &str, url: &Url) -> String {
    with_causes(error) + &check_line(origin, url)
}

/// `error`, then `\n  cause: ...` with the causes its message does not already say, with the
/// clients' builder methods named by aks's environment variables ([`env_hints`]).
fn with_causes(error: &knack_etl::Error) -> String {
    let mut text = error.to_string();
    let causes = error.causes(&text);
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

/// [`env_hints`] of one stage's failure; one about `dest_app` (`for app <id>`) names the
/// destination app's variables (`KNACK_API_KEY_DEST`, `KNACK_APP_ID_DEST`) in the Knack hint.
pub fn env_hints_for(message: &str, dest_app: Option<&str>) -> String {
    let dest = "Check KNACK_API_KEY_DEST and KNACK_APP_ID_DEST";
    match dest_app.filter(|id| message.contains(&format!("for app {id}"))) {
        Some(_) => env_hints(&message.replace(ENV_HINTS[0].0, dest)),
        None => env_hints(message),
    }
}

/// A client's message with the builder methods it names replaced by aks's environment variables.
pub fn env_hints(message: &str) -> String {
    ENV_HINTS
        .iter()
        .fold(message.to_owned(), |text, (library, aks)| {
            text.replace(library, aks)
        })
}

/// The setting (env var or config key) and URL of the system that failed.
fn setting<'a>(error: &knack_etl::Error, s: &'a Settings) -> Option<(&'a str, &'a Url)> {
    match error {
        knack_etl::Error::Knack(_) => Some(&s.knack_url),
        knack_etl::Error::Postgrest(_) | knack_etl::Error::Staging(_) => Some(&s.pgrest_url),
        knack_etl::Error::Socrata(_) => s.socrata.as_ref().map(|x| &x.url),
        knack_etl::Error::Agol(_) => s.agol.as_ref().map(|x| &x.url),
        _ => None,
    }
    .map(|base| (base.origin.as_str(), &base.url))
}

/// `scheme://host[:port]/path`: no query or fragment, which is where a token could hide.
fn shown(url: &Url) -> String {
    let mut u = url.clone();
    u.set_query(None);
    u.set_fragment(None);
    u.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_key_names_the_variables_of_the_app_that_refused_it() {
        let hint = ENV_HINTS[0].0;
        let src = format!("Knack answered 403 for app src1 (GET x): no. {hint}");
        let dst = format!("Knack answered 401 for app dst2 (GET y): no. {hint}");
        let shown = env_hints_for(&dst, Some("dst2"));
        assert!(shown.ends_with("no. Check KNACK_API_KEY_DEST and KNACK_APP_ID_DEST"));
        let shown = env_hints_for(&src, Some("dst2"));
        assert!(shown.ends_with("no. Check KNACK_API_KEY and KNACK_APP_ID"));
        assert_eq!(env_hints_for(&dst, None), env_hints(&dst));
    }
}
