//! The base URL rule every client applies to its endpoint setting.

use std::net::IpAddr;

use url::{Host, Url};

/// Checks an endpoint setting and returns it as a URL whose path ends in `/`
/// (so relative paths join under it).
///
/// Accepted: `https://...`; `http://` to loopback only (all of 127.0.0.0/8,
/// `::1`, `localhost`); `http://` anywhere when `allow_insecure_http` is true
/// (a sidecar or a private Docker network), which logs a warning. Refused: a
/// bare host (`pgrest.example.org`), other schemes, URLs without a host.
///
/// # Errors
/// A message naming `setting` (the user-facing name, such as
/// `ClientBuilder::base_url`), the value, and the fix.
pub fn base_url(raw: &str, setting: &str, allow_insecure_http: bool) -> Result<Url, String> {
    let trimmed = raw.trim();
    let mut text = trimmed.trim_end_matches('/').to_string();
    text.push('/');
    let url = match Url::parse(&text) {
        Ok(u) if u.host().is_some() && matches!(u.scheme(), "http" | "https") => u,
        Ok(u) if u.host().is_some() || u.scheme().contains('.') => {
            return Err(format!(
                "{setting} is {trimmed:?}: the scheme {:?} is not supported; give a full https:// URL",
                u.scheme()
            ))
        }
        _ => {
            return Err(format!(
                "{setting} is {trimmed:?}, which is not a full URL: give it with its scheme, such as https://{}",
                trimmed.trim_start_matches('/')
            ))
        }
    };
    if url.scheme() == "http" && !is_loopback(&url) {
        if !allow_insecure_http {
            return Err(format!(
                "{setting} is {trimmed:?}: plain http:// is allowed only to this machine (127.0.0.0/8, ::1, localhost), \
                 because secrets would cross the network unencrypted; use https://, or opt in with allow_insecure_http"
            ));
        }
        tracing::warn!(
            setting,
            host = url.host_str().unwrap_or(""),
            "insecure http:// allowed by allow_insecure_http: secrets cross the network unencrypted"
        );
    }
    Ok(url)
}

/// Whether the URL's host is this machine.
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_anywhere_and_http_to_loopback_only() {
        for ok in [
            "https://api.knack.com/v1",
            "http://127.0.0.1:3000",
            "http://127.0.0.2:3000/",
            "http://[::1]:8080",
            "http://localhost/x",
        ] {
            assert!(base_url(ok, "X", false).is_ok(), "{ok}");
        }
        assert_eq!(
            base_url("https://h.org/v1", "X", false).unwrap().as_str(),
            "https://h.org/v1/"
        );
        let err = base_url(
            "http://pgrest.internal:3000",
            "ClientBuilder::base_url",
            false,
        )
        .unwrap_err();
        assert!(
            err.contains("ClientBuilder::base_url") && err.contains("allow_insecure_http"),
            "{err}"
        );
        assert!(base_url("http://pgrest.internal:3000", "X", true).is_ok());
    }

    #[test]
    fn a_bare_host_asks_for_a_full_url() {
        for bare in [
            "pgrest.example.org",
            "pgrest.example.org:3000",
            "pgrest.example.org/v1",
            "",
        ] {
            let err = base_url(bare, "ClientBuilder::base_url", false).unwrap_err();
            assert!(
                err.contains("ClientBuilder::base_url") && err.contains("https://"),
                "{bare}: {err}"
            );
        }
        assert!(base_url("ftp://h.org", "X", false)
            .unwrap_err()
            .contains("ftp"));
    }
}
