use std::path::Path;

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
    let v = c
        .container(Path::new("x"), "data-tracker", "view_197")
        .unwrap();
    assert_eq!(
        v.kind,
        ContainerKind::View {
            scene_id: "scene_73".into()
        }
    );
    assert_eq!(v.modified_date_field_id, "field_205");
    assert_eq!(v.config.location_fields, ["field_182"]);
    assert_eq!(v.config.layer_id, Some(0));
    assert_eq!(v.config.item_type, Some(ItemType::Layer));
    let dest = &v.config.knack_destinations["smart-mobility"];
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
    let o = c
        .container(Path::new("x"), "data-tracker", "object_11")
        .unwrap();
    assert_eq!(o.kind, ContainerKind::Object);
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
fn value_problems_are_all_reported_with_their_place() {
    let p = problems(
        r#"
[apps.a.containers.view_1]
modified_date_field_id = "modified"
[apps.a.containers.table_9]
modified_date_field_id = "field_2"
[apps.a.containers.object_2]
scene_id = "scene_1"
[apps.a.containers.object_3]
modified_date_field_id = "field_3"
socrata_resource_id = "not-a-4x4"
location_fields = ["field_4", "lat"]
service_id = "abc"
"#,
    );
    let all = p.join("\n");
    assert!(
        all.contains("[apps.a.containers.view_1]: a view needs scene_id"),
        "{all}"
    );
    assert!(all.contains("`modified` must look like field_N"), "{all}");
    assert!(
        all.contains("`table_9` must be a Knack object or view key"),
        "{all}"
    );
    assert!(
        all.contains("[apps.a.containers.object_2]: scene_id applies only to views"),
        "{all}"
    );
    assert!(
        all.contains("[apps.a.containers.object_2]: modified_date_field_id is required"),
        "{all}"
    );
    assert!(all.contains("`not-a-4x4`"), "{all}");
    assert!(all.contains("`lat` must look like field_N"), "{all}");
    assert!(all.contains("add layer_id, item_type"), "{all}");
    assert_eq!(p.len(), 8, "{all}");
}

#[test]
fn socrata_only_keys_need_a_dataset() {
    let p = problems(
        "[apps.a.containers.object_1]\nmodified_date_field_id = \"field_1\"\nno_replace_socrata = true\nappend_timestamps_socrata = { key = \"Published Date\" }\n",
    );
    assert_eq!(p.len(), 3, "{p:?}");
    assert!(p
        .iter()
        .any(|m| m.contains("no_replace_socrata has no effect")));
    assert!(p.iter().any(|m| m.contains("`Published Date`")));
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
    let e = c
        .app(Path::new("k.toml"), "data-trackr")
        .unwrap_err()
        .to_string();
    assert!(e.contains("unknown app `data-trackr`"), "{e}");
    assert!(e.contains("data-tracker, signs-markings"), "{e}");
    let e = c
        .container(Path::new("k.toml"), "data-tracker", "view_1")
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
