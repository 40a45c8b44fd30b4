//! Value-level checks of a parsed config; serde has already refused unknown keys and wrong types.

use super::{
    Config, ContainerConfig, Endpoints, KnackEndpoint, PortalEndpoint, PostgrestEndpoint, Service,
};
use crate::settings::base_url::parse_base_url;
use crate::settings::Env;

/// `prefix` followed by one or more ASCII digits, e.g. `field_12`.
pub(crate) fn is_numbered(s: &str, prefix: &str) -> bool {
    s.strip_prefix(prefix)
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// A Socrata four-by-four: `abcd-1234`.
pub(crate) fn is_four_by_four(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 9
        && b[4] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || c.is_ascii_lowercase() || c.is_ascii_digit())
}

fn is_plain_id(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// A Socrata field name: lowercase letters, digits and `_`, not starting with a digit.
fn is_socrata_field(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with(|c: char| c.is_ascii_digit())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

pub(super) fn problems(config: &Config) -> Vec<String> {
    let mut out = Vec::new();
    endpoints(&mut out, "", &config.top_level());
    // An env table's URL is checked with the opt-in a run uses for it: its own, else the
    // top-level table's (see `Config::endpoints`).
    if let Some(e) = &config.env.dev {
        endpoints(&mut out, "env.dev.", &inherit_opt_ins(e, config, Env::Dev));
    }
    if let Some(e) = &config.env.prod {
        endpoints(
            &mut out,
            "env.prod.",
            &inherit_opt_ins(e, config, Env::Prod),
        );
    }
    for (name, app) in &config.apps {
        if name.is_empty() || name.chars().any(char::is_whitespace) {
            out.push(format!(
                "app name `{name}` must be non-empty and contain no spaces (e.g. data-tracker)"
            ));
        }
        if let Some(id) = &app.app_id {
            if !is_plain_id(id) {
                out.push(format!(
                    "[apps.{name}] app_id `{id}` must be the Knack application id: letters and \
                     digits only (e.g. 5815f29f7f7252cc2ca91c4f)"
                ));
            }
        }
        for (cid, c) in &app.containers {
            container(&mut out, name, cid, c);
        }
    }
    super::services::problems(config, &mut out);
    out
}

/// `e` with each `allow_insecure_http` a run uses with `env` ([`Config::endpoint`]: the env
/// table's own, else the top-level table's).
fn inherit_opt_ins(e: &Endpoints, config: &Config, env: Env) -> Endpoints {
    let allow = |service| config.endpoint(Some(env), service).allow_insecure_http;
    let mut e = e.clone();
    e.knack.allow_insecure_http = allow(Service::Knack);
    e.postgrest.allow_insecure_http = allow(Service::Postgrest);
    e.socrata.allow_insecure_http = allow(Service::Socrata);
    e.agol.allow_insecure_http = allow(Service::Agol);
    e
}

fn endpoints(out: &mut Vec<String>, prefix: &str, e: &Endpoints) {
    let Endpoints {
        knack:
            KnackEndpoint {
                api_url,
                allow_insecure_http: knack_insecure,
            },
        postgrest:
            PostgrestEndpoint {
                endpoint,
                allow_insecure_http: pg_insecure,
            },
        socrata:
            PortalEndpoint {
                url: socrata,
                allow_insecure_http: socrata_insecure,
            },
        agol:
            PortalEndpoint {
                url: agol,
                allow_insecure_http: agol_insecure,
            },
    } = e;
    for (key, value, insecure) in [
        ("knack.api_url", api_url, knack_insecure),
        ("postgrest.endpoint", endpoint, pg_insecure),
        ("socrata.url", socrata, socrata_insecure),
        ("agol.url", agol, agol_insecure),
    ] {
        if let Some(v) = value {
            let insecure = insecure.unwrap_or(false);
            if let Err(msg) = parse_base_url(&format!("{prefix}{key}"), v, insecure) {
                out.push(msg);
            }
        }
    }
}

fn container(out: &mut Vec<String>, app: &str, id: &str, c: &ContainerConfig) {
    let at = format!("[apps.{app}.containers.{id}]");
    let is_view = is_numbered(id, "view_");
    if !is_view && !is_numbered(id, "object_") {
        out.push(format!(
            "{at}: container id `{id}` must be a Knack object or view key, e.g. object_11 or view_197"
        ));
    }
    match (&c.scene_id, is_view) {
        (None, true) => out.push(format!(
            "{at}: a view needs scene_id, the scene that holds it (e.g. scene_id = \"scene_73\")"
        )),
        (Some(s), true) if !is_numbered(s, "scene_") => out.push(format!(
            "{at}: scene_id `{s}` must look like scene_N (e.g. scene_73)"
        )),
        (Some(_), false) if is_numbered(id, "object_") => out.push(format!(
            "{at}: scene_id applies only to views; remove it (objects are read directly)"
        )),
        _ => {}
    }
    match &c.modified_date_field_id {
        None => out.push(format!(
            "{at}: modified_date_field_id is required: the field_N that holds each record's \
             last-modified time (e.g. modified_date_field_id = \"field_205\")"
        )),
        Some(f) if !is_numbered(f, "field_") => out.push(format!(
            "{at}: modified_date_field_id `{f}` must look like field_N (e.g. field_205)"
        )),
        _ => {}
    }
    for f in &c.location_fields {
        if !is_numbered(f, "field_") {
            out.push(format!(
                "{at}: location_fields entry `{f}` must look like field_N (e.g. field_182)"
            ));
        }
    }
    if let Some(r) = &c.socrata_resource_id {
        if !is_four_by_four(r) {
            out.push(format!(
                "{at}: socrata_resource_id `{r}` must be a Socrata dataset id like p53x-x73x"
            ));
        }
    }
    if c.socrata_resource_id.is_none() {
        if c.no_replace_socrata {
            out.push(format!(
                "{at}: no_replace_socrata has no effect without socrata_resource_id; add the \
                 dataset id or remove it"
            ));
        }
        if c.append_timestamps_socrata.is_some() {
            out.push(format!(
                "{at}: append_timestamps_socrata has no effect without socrata_resource_id; add \
                 the dataset id or remove it"
            ));
        }
    }
    if let Some(a) = &c.append_timestamps_socrata {
        if !is_socrata_field(&a.key) {
            out.push(format!(
                "{at}: append_timestamps_socrata key `{}` must be a Socrata field name \
                 (lowercase letters, digits, _), e.g. {{ key = \"published_date\" }}",
                a.key
            ));
        }
    }
    if let Some(s) = &c.service_id {
        if !is_plain_id(s) {
            out.push(format!(
                "{at}: service_id `{s}` must be an ArcGIS Online item id (letters and digits)"
            ));
        }
    }
    // The AGOL keys only make sense together: item, which list, which index.
    let agol = [
        ("service_id", c.service_id.is_some()),
        ("layer_id", c.layer_id.is_some()),
        ("item_type", c.item_type.is_some()),
    ];
    if agol.iter().any(|(_, set)| *set) {
        let missing: Vec<&str> = agol.iter().filter(|(_, s)| !s).map(|(k, _)| *k).collect();
        if !missing.is_empty() {
            out.push(format!(
                "{at}: publishing to ArcGIS Online needs service_id, layer_id and item_type \
                 together; add {}",
                missing.join(", ")
            ));
        }
    }
    if let Some(u) = &c.upsert_matching_field {
        if u.trim().is_empty() {
            out.push(format!(
                "{at}: upsert_matching_field is empty; name the unique AGOL field or remove it"
            ));
        } else if c.service_id.is_none() {
            out.push(format!(
                "{at}: upsert_matching_field applies to ArcGIS Online; add service_id or remove it"
            ));
        }
    }
}
