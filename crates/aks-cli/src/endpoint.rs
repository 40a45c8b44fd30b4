//! Base URLs (from the config file or the environment) and the rule that credentials never travel
//! over plain HTTP to another machine.

use std::net::IpAddr;

use url::{Host, Url};

/// Parses a base URL and refuses transports that would expose credentials.
///
/// `https://` is always accepted; `http://` only for loopback hosts (`localhost`, 127.0.0.0/8, `::1`),
/// which is what local PostgREST or a test server uses. User info in the URL is refused because a
/// URL ends up in logs and error messages. `origin` names where the value came from (an env var or
/// a config key) so the error points at the thing to fix. The error never repeats the full value.
pub fn parse_base_url(origin: &str, raw: &str) -> Result<Url, String> {
    let url = Url::parse(raw.trim()).map_err(|e| {
        format!("{origin} is not a valid URL ({e}); expected e.g. https://host/path")
    })?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!(
            "{origin} contains user credentials; put them in the credential environment variables, \
             not in the URL"
        ));
    }
    let host = url.host();
    let shown = format!("{}://{}", url.scheme(), url.host_str().unwrap_or(""));
    match url.scheme() {
        "https" if host.is_some() => Ok(url),
        "http" if host.as_ref().is_some_and(is_loopback) => Ok(url),
        "http" => Err(format!(
            "{origin} uses plain http:// for {shown}, which would send credentials unencrypted; \
             use https:// (http:// is only allowed for localhost, 127.0.0.0/8 and ::1)"
        )),
        _ => Err(format!(
            "{origin} ({shown}) must be an https:// URL (http:// only for localhost)"
        )),
    }
}

fn is_loopback(host: &Host<&str>) -> bool {
    match host {
        Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
        Host::Ipv4(ip) => IpAddr::V4(*ip).is_loopback(),
        Host::Ipv6(ip) => IpAddr::V6(*ip).is_loopback(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_anywhere_http_only_on_loopback() {
        for ok in [
            "https://api.knack.com/v1",
            "http://localhost:3000",
            "http://LOCALHOST/",
            "http://127.0.0.1:8080/api",
            "http://127.3.4.5",
            "http://[::1]:3000",
        ] {
            assert!(parse_base_url("X", ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://example.com",
            "http://10.0.0.1",
            "http://localhost.evil.com",
            "http://[::2]",
            "ftp://localhost",
            "not a url",
            "https://user:pw@example.com",
        ] {
            assert!(parse_base_url("X", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn errors_name_the_origin_and_never_echo_secrets_in_the_url() {
        let e =
            parse_base_url("PGREST_ENDPOINT", "http://db.example.com/?token=s3cr3t").unwrap_err();
        assert!(e.contains("PGREST_ENDPOINT"), "{e}");
        assert!(e.contains("http://db.example.com"), "{e}");
        assert!(!e.contains("s3cr3t"), "{e}");
        let e = parse_base_url("SOCRATA_URL", "https://u:hunter2@data.example.com").unwrap_err();
        assert!(!e.contains("hunter2"), "{e}");
    }
}
