//! Base URLs (from the environment, else the config file) and the rule that credentials never
//! travel over plain HTTP to another machine: [`base_url`] names where each one came from.

use std::net::IpAddr;

use url::{Host, Url};

use super::config::endpoints::ConfigUrl;
use super::vars::EnvVars;

/// Parses a base URL and refuses transports that would expose credentials.
///
/// `https://` is always accepted; `http://` only for loopback hosts (`localhost`, 127.0.0.0/8, `::1`),
/// which is what local PostgREST or a test server uses, unless `allow_insecure_http` (the
/// endpoint's explicit, logged opt-in, for a sidecar or a private network) is set. A bare host
/// (`pg.example.com`, `pg.example.com:3000`) is refused with the full URL it needs. User info in
/// the URL is refused because a URL ends up in logs and error messages. `origin` names where the
/// value came from (an env var or a config key) so the error points at the thing to fix, and a
/// refusal of plain http names the env opt-in of `var`, the endpoint's variable. The error never
/// repeats the full value.
pub fn parse_base_url(
    origin: &str,
    var: &str,
    raw: &str,
    allow_insecure_http: bool,
) -> Result<Url, String> {
    let raw = raw.trim();
    // `host:3000` parses as scheme `host` with path `3000`, so a missing `://` is checked first.
    if !raw.contains("://") {
        let host: String = raw
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
            .collect();
        return Err(format!(
            "{origin} must be a full URL with its scheme, such as https://{}; a bare host name \
             is not enough",
            if host.is_empty() {
                "host/path"
            } else {
                host.as_str()
            }
        ));
    }
    let url = Url::parse(raw).map_err(|e| {
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
        "http" if host.is_some() && allow_insecure_http => Ok(url),
        "http" => Err(format!(
            "{origin} uses plain http:// for {shown}, which would send credentials unencrypted; \
             use https:// (http:// is only allowed for localhost, 127.0.0.0/8 and ::1, or, for a \
             private network, with {}=true in the environment or allow_insecure_http = true in \
             that endpoint's config table)",
            insecure_var(var)
        )),
        _ => Err(format!(
            "{origin} ({shown}) must be an https:// URL (http:// only for localhost)"
        )),
    }
}

/// Whether `url` is plain http to a host off loopback: allowed only by the opt-in, and logged.
pub fn is_insecure(url: &Url) -> bool {
    url.scheme() == "http" && !url.host().as_ref().is_some_and(is_loopback)
}

/// The environment variable that opts `var`'s endpoint into plain http (`PGREST_ENDPOINT` →
/// `PGREST_ALLOW_INSECURE_HTTP`), the env equivalent of the config key `allow_insecure_http`.
pub fn insecure_var(var: &str) -> String {
    let prefix = var.split('_').next().unwrap_or(var);
    format!("{prefix}_ALLOW_INSECURE_HTTP")
}

/// Reads an `*_ALLOW_INSECURE_HTTP` value: `true`/`1`/`yes` or `false`/`0`/`no`.
pub fn parse_flag(name: &str, value: &str) -> Result<bool, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => Err(format!("{name}={value} must be true or false")),
    }
}

fn is_loopback(host: &Host<&str>) -> bool {
    match host {
        Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
        Host::Ipv4(ip) => IpAddr::V4(*ip).is_loopback(),
        Host::Ipv6(ip) => IpAddr::V6(*ip).is_loopback(),
    }
}

/// A base URL that passed [`parse_base_url`], with where it came from.
#[derive(Debug, Clone)]
pub struct BaseUrl {
    /// The URL.
    pub url: Url,
    /// The env var, or the table, key and file, that supplied it (what a message tells the user
    /// to check): `PGREST_ENDPOINT`, `[env.prod.postgrest] endpoint in knack.toml`.
    pub origin: String,
    /// `Some(sentence)` when it is plain http off loopback, allowed by the endpoint's opt-in:
    /// the warning to log.
    pub insecure: Option<String>,
}

/// The base URL from env var `var`, else from the config file (`from_config`, see
/// [`Config::endpoint`]); `None` when neither is set. Either way it must pass [`parse_base_url`]
/// (https, or http on loopback only unless the endpoint opts in: env `*_ALLOW_INSECURE_HTTP`, else
/// the config's `allow_insecure_http`), and its origin names exactly where it came from: the env
/// var, or the table, key and file.
pub fn base_url(
    vars: &EnvVars,
    var: &str,
    from_config: &ConfigUrl,
) -> Option<Result<BaseUrl, String>> {
    let (origin, raw) = match vars.get(var) {
        Some(v) => (var, v),
        None => (from_config.origin.as_str(), from_config.url.as_deref()?),
    };
    let flag_var = insecure_var(var);
    let (allow, allowed_by) = match vars.get(&flag_var) {
        Some(v) => match parse_flag(&flag_var, v) {
            Ok(allow) => (allow, flag_var.clone()),
            Err(e) => return Some(Err(e)),
        },
        None => (
            from_config.allow_insecure_http.unwrap_or(false),
            from_config.allow_origin.clone(),
        ),
    };
    Some(parse_base_url(origin, var, raw, allow).map(|url| {
        let insecure = is_insecure(&url).then(|| {
            format!(
                "{origin} uses plain http:// to {}, allowed by {allowed_by}: credentials travel \
                 unencrypted on that network",
                url.host_str().unwrap_or("")
            )
        });
        BaseUrl {
            url,
            origin: origin.to_owned(),
            insecure,
        }
    }))
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
            assert!(parse_base_url("X", "X", ok, false).is_ok(), "{ok}");
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
            assert!(parse_base_url("X", "X", bad, false).is_err(), "{bad}");
        }
    }

    #[test]
    fn errors_name_the_origin_and_never_echo_secrets_in_the_url() {
        let e = parse_base_url(
            "PGREST_ENDPOINT",
            "PGREST_ENDPOINT",
            "http://db.example.com/?token=s3cr3t",
            false,
        )
        .unwrap_err();
        assert!(e.contains("PGREST_ENDPOINT"), "{e}");
        assert!(e.contains("http://db.example.com"), "{e}");
        assert!(!e.contains("s3cr3t"), "{e}");
        let e = parse_base_url(
            "SOCRATA_URL",
            "SOCRATA_URL",
            "https://u:hunter2@data.example.com",
            false,
        )
        .unwrap_err();
        assert!(!e.contains("hunter2"), "{e}");
    }

    #[test]
    fn a_bare_host_asks_for_a_full_https_url() {
        for bare in ["pg.example.com", "pg.example.com:3000", "10.0.0.5:3000/api"] {
            let e = parse_base_url("PGREST_ENDPOINT", "PGREST_ENDPOINT", bare, false).unwrap_err();
            assert!(e.starts_with("PGREST_ENDPOINT must be a full URL"), "{e}");
            assert!(e.contains("https://"), "{e}");
            assert!(!e.contains("relative URL without a base"), "{e}");
        }
        let e = parse_base_url(
            "PGREST_ENDPOINT",
            "PGREST_ENDPOINT",
            "pg.example.com:3000",
            false,
        )
        .unwrap_err();
        assert!(e.contains("https://pg.example.com:3000"), "{e}");
    }

    #[test]
    fn allow_insecure_http_opens_plain_http_to_any_host_and_nothing_else() {
        for url in ["http://pgrest:3000", "http://10.0.0.1", "http://[::2]"] {
            assert!(parse_base_url("X", "X", url, true).is_ok(), "{url}");
            assert!(is_insecure(&Url::parse(url).unwrap()), "{url}");
        }
        assert!(parse_base_url("X", "X", "ftp://pgrest", true).is_err());
        assert!(parse_base_url("X", "X", "http://u:pw@pgrest", true).is_err());
        for local in [
            "http://127.0.0.9",
            "http://localhost",
            "http://[::1]",
            "https://x.org",
        ] {
            assert!(!is_insecure(&Url::parse(local).unwrap()), "{local}");
        }
        let e = parse_base_url(
            "PGREST_ENDPOINT",
            "PGREST_ENDPOINT",
            "http://pgrest:3000",
            false,
        )
        .unwrap_err();
        assert!(e.contains("allow_insecure_http = true"), "{e}");
        assert!(e.contains("PGREST_ALLOW_INSECURE_HTTP=true"), "{e}");
    }

    #[test]
    fn a_refusal_names_the_env_opt_in_of_its_own_endpoint() {
        for (origin, var, opt_in) in [
            (
                "PGREST_ENDPOINT",
                "PGREST_ENDPOINT",
                "PGREST_ALLOW_INSECURE_HTTP",
            ),
            (
                "[env.prod.postgrest] endpoint in knack.toml",
                "PGREST_ENDPOINT",
                "PGREST_ALLOW_INSECURE_HTTP",
            ),
            (
                "KNACK_API_URL",
                "KNACK_API_URL",
                "KNACK_ALLOW_INSECURE_HTTP",
            ),
            (
                "KNACK_API_URL_DEST",
                "KNACK_API_URL_DEST",
                "KNACK_ALLOW_INSECURE_HTTP",
            ),
            (
                "[knack] api_url in knack.toml",
                "KNACK_API_URL",
                "KNACK_ALLOW_INSECURE_HTTP",
            ),
            ("SOCRATA_URL", "SOCRATA_URL", "SOCRATA_ALLOW_INSECURE_HTTP"),
            (
                "[socrata] url in knack.toml",
                "SOCRATA_URL",
                "SOCRATA_ALLOW_INSECURE_HTTP",
            ),
            ("AGOL_URL", "AGOL_URL", "AGOL_ALLOW_INSECURE_HTTP"),
            (
                "[env.dev.agol] url in knack.toml",
                "AGOL_URL",
                "AGOL_ALLOW_INSECURE_HTTP",
            ),
            (
                "[knack] api_url in /srv/socrata/knack.toml",
                "KNACK_API_URL",
                "KNACK_ALLOW_INSECURE_HTTP",
            ),
            (
                "default KNACK_API_URL",
                "KNACK_API_URL",
                "KNACK_ALLOW_INSECURE_HTTP",
            ),
        ] {
            let e = parse_base_url(origin, var, "http://10.0.0.7:3000", false).unwrap_err();
            assert!(e.contains(&format!("{opt_in}=true")), "{origin}: {e}");
        }
    }

    #[test]
    fn insecure_flags_have_one_env_name_per_endpoint() {
        assert_eq!(
            insecure_var("PGREST_ENDPOINT"),
            "PGREST_ALLOW_INSECURE_HTTP"
        );
        assert_eq!(insecure_var("KNACK_API_URL"), "KNACK_ALLOW_INSECURE_HTTP");
        assert_eq!(insecure_var("SOCRATA_URL"), "SOCRATA_ALLOW_INSECURE_HTTP");
        assert_eq!(insecure_var("AGOL_URL"), "AGOL_ALLOW_INSECURE_HTTP");
        assert_eq!(parse_flag("X", " TRUE "), Ok(true));
        assert_eq!(parse_flag("X", "0"), Ok(false));
        assert!(parse_flag("X", "maybe").unwrap_err().contains("X=maybe"));
    }
}
