use std::path::Path;

use knack_etl::knack_client::Container;
use knack_etl::sync::config::ItemType;

use super::*;
use crate::settings::Env;

const EXAMPLE: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../knack.example.toml"
));

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(text, Path::new("test.toml"))
}

fn problems(text: &str) -> Vec<String> {
    match parse(text) {
        Err(ConfigError::Invalid { problems, .. }) => problems,
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[test]
fn example_config_parses_and_is_valid() {
    let c = parse(EXAMPLE).unwrap();
    assert_eq!(
        c.apps.keys().collect::<Vec<_>>(),
        ["data-tracker", "signs-markings", "smart-mobility"]
    );
    let v = c.container("data-tracker", "view_197").unwrap();
    let plan = v.staging_plan("data-tracker", "view_197").unwrap();
    assert_eq!(
        plan.container,
        Container::view("scene_73", "view_197").unwrap()
    );
    assert_eq!(plan.modified_date_field, "field_205");
    assert_eq!(v.location_fields, ["field_182"]);
    assert_eq!(v.layer_id, Some(0));
    assert_eq!(v.item_type, Some(ItemType::Layer));
    let dest = &v.knack_destinations["smart-mobility"];
    assert_eq!(
        (dest.container.as_str(), dest.object.as_str()),
        ("view_396", "object_26")
    );
    assert_eq!(dest.field_map().unwrap().primary_key().dest, "field_380");
    assert_eq!(c.backup.keep, Some(30));
    let inv = &c.apps["data-tracker"].containers["view_2863"];
    assert!(inv.no_replace_socrata);
    assert_eq!(
        inv.append_timestamps_socrata.as_ref().unwrap().key,
        "published_date"
    );
    let o = c.container("data-tracker", "object_11").unwrap();
    let plan = o.staging_plan("data-tracker", "object_11").unwrap();
    assert_eq!(plan.container, Container::object("object_11").unwrap());
    assert_eq!(
        c.apps["signs-markings"].containers["view_3096"].item_type,
        Some(ItemType::Table)
    );
}

#[test]
fn per_env_endpoints_override_top_level() {
    let c = parse(EXAMPLE).unwrap();
    assert_eq!(
        c.endpoint(Some(Env::Dev), Service::Postgrest)
            .url
            .as_deref(),
        Some("http://localhost:3000")
    );
    assert_eq!(
        c.endpoint(Some(Env::Prod), Service::Postgrest)
            .url
            .as_deref(),
        Some("https://atd-knack-services.austinmobility.io")
    );
    assert_eq!(
        c.endpoint(Some(Env::Dev), Service::Socrata).url.as_deref(),
        Some("https://datahub.austintexas.gov")
    );
}

#[test]
fn unknown_key_names_key_file_and_line() {
    let text =
        "[apps.a.containers.object_1]\nmodified_date_field_id = \"field_1\"\nscene = \"scene_1\"\n";
    let err = parse(text).unwrap_err().to_string();
    assert!(err.contains("unknown field `scene`"), "{err}");
    assert!(err.contains("test.toml"), "{err}");
    assert!(err.contains("line 3"), "{err}");
}

#[test]
fn unknown_top_level_and_endpoint_keys_are_refused() {
    assert!(parse("[socrata]\nhost = \"x\"\n")
        .unwrap_err()
        .to_string()
        .contains("unknown field `host`"));
    assert!(parse("[env.staging.postgrest]\nendpoint = \"https://x\"\n")
        .unwrap_err()
        .to_string()
        .contains("unknown field `staging`"));
    assert!(parse("verbose = true\n")
        .unwrap_err()
        .to_string()
        .contains("verbose"));
}

#[test]
fn wrong_types_and_item_type_values_are_refused() {
    let base = "[apps.a.containers.object_1]\nmodified_date_field_id = \"field_1\"\n";
    let e = parse(&format!("{base}item_type = \"layers\"\n"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("layer") && e.contains("table"), "{e}");
    let e = parse(&format!("{base}layer_id = -1\n"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("layer_id") || e.contains("line 3"), "{e}");
    let e = parse(&format!("{base}location_fields = \"field_2\"\n"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("line 3"), "{e}");
}

#[test]
fn insecure_endpoints_in_config_are_refused() {
    let p = problems("[postgrest]\nendpoint = \"http://db.example.com\"\n[env.prod.socrata]\nurl = \"http://data.example.com\"\n");
    assert_eq!(p.len(), 2, "{p:?}");
    assert!(p[0].contains("postgrest.endpoint"), "{p:?}");
    assert!(p[1].contains("env.prod.socrata.url"), "{p:?}");
}

#[test]
fn bad_app_id_is_refused() {
    let p = problems("[apps.a]\napp_id = \"abc/../def\"\n");
    assert!(p[0].contains("[apps.a] app_id"), "{p:?}");
}

#[test]
fn unknown_app_and_container_list_the_known_ones() {
    let c = parse(EXAMPLE).unwrap();
    let e = c.app("data-trackr").unwrap_err().to_string();
    assert!(e.contains("unknown app `data-trackr`"), "{e}");
    assert!(e.contains("data-tracker, signs-markings"), "{e}");
    let e = c
        .container("data-tracker", "view_1")
        .unwrap_err()
        .to_string();
    assert!(e.contains("unknown container `view_1`"), "{e}");
    assert!(e.contains("object_11, view_197, view_2863"), "{e}");
}

#[test]
fn missing_file_says_how_to_point_at_one() {
    let e = Config::load(Path::new("/nonexistent/knack.toml"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("/nonexistent/knack.toml") && e.contains("--config"),
        "{e}"
    );
}

#[test]
fn knack_destination_maps_are_checked_at_load() {
    let base = "[apps.a.containers.view_1]\nscene_id = \"scene_1\"\nmodified_date_field_id = \"field_1\"\n";
    let two_pks = format!(
        "{base}[apps.a.containers.view_1.knack_destinations.b]\ncontainer = \"object_2\"\nobject = \"view_3\"\n\
         fields = [{{ src = \"field_1_raw\", dest = \"field_9\", primary_key = true }},\n\
         {{ src = \"field_2\", dest = \"field_9_raw\", primary_key = true }}]\n"
    );
    let text = problems(&two_pks).join("\n");
    let at = "[apps.a.containers.view_1.knack_destinations.b]";
    assert!(
        text.contains(&format!(
            "{at} object = \"view_3\" must be the destination object"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "{at} the field map needs exactly one entry with primary_key = true (found 2)"
        )),
        "{text}"
    );
    assert!(text.contains("field_9 is mapped twice"), "{text}");
    let unknown = format!(
        "{base}[apps.a.containers.view_1.knack_destinations.b]\ncontainer = \"object_2\"\nobject = \"object_2\"\n\
         fields = [{{ src = \"field_1\", dest = \"field_9\", primary_key = true, handler = \"upper\" }}]\n"
    );
    let e = parse(&unknown).unwrap_err().to_string();
    assert!(e.contains("unknown variant `upper`"), "{e}");
    let typo = format!(
        "{base}[apps.a.containers.view_1.knack_destinations.b]\ncontainer = \"object_2\"\nobject = \"object_2\"\n\
         fields = [{{ src = \"field_1\", dest = \"field_9\", pk = true }}]\n"
    );
    let e = parse(&typo).unwrap_err().to_string();
    assert!(e.contains("unknown field `pk`"), "{e}");
}

#[test]
fn an_env_table_url_is_checked_with_the_opt_in_a_run_uses_for_it() {
    let text = |top_allows: bool| {
        format!(
            "[postgrest]\nendpoint = \"https://pg.example\"\nallow_insecure_http = {top_allows}\n\
             [env.dev.postgrest]\nendpoint = \"http://pg.internal:3000\"\n"
        )
    };
    // The top-level opt-in covers the env table's URL, as a run with `-e dev` accepts it.
    let c = parse(&text(true)).unwrap();
    let dev = c.endpoint(Some(Env::Dev), Service::Postgrest);
    assert_eq!(dev.allow_insecure_http, Some(true));
    assert!(
        dev.allow_origin
            .starts_with("[postgrest] allow_insecure_http"),
        "{dev:?}"
    );
    // Without it, the plain-http URL is refused, naming its table.
    let err = parse(&text(false)).unwrap_err().to_string();
    assert!(err.contains("env.dev.postgrest"), "{err}");
}
