use knack_client::Container;
use serde_json::json;

use super::*;

fn apps(value: serde_json::Value) -> Apps {
    serde_json::from_value(value).expect("test apps deserialize")
}

fn view(extra: serde_json::Value) -> serde_json::Value {
    let mut c = json!({"scene_id": "scene_1", "modified_date_field_id": "field_1"});
    c.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    c
}

#[test]
fn unknown_keys_and_item_types_are_refused() {
    let typo = serde_json::from_value::<ContainerConfig>(json!({"scene": "scene_1"}));
    assert!(typo
        .unwrap_err()
        .to_string()
        .contains("unknown field `scene`"));
    let item = serde_json::from_value::<ContainerConfig>(json!({"item_type": "tables"}));
    assert!(item
        .unwrap_err()
        .to_string()
        .contains("unknown variant `tables`"));
}

#[test]
fn every_value_problem_is_reported_with_its_place() {
    let apps = apps(json!({"a": {"containers": {
        "view_1": {"modified_date_field_id": "modified"},
        "table_9": {"modified_date_field_id": "field_2"},
        "object_2": {"scene_id": "scene_1"},
        "object_3": {
            "modified_date_field_id": "field_3",
            "socrata_resource_id": "not-a-4x4",
            "location_fields": ["field_4", "lat"],
            "service_id": "abc"
        }
    }}}));
    let p = app_problems("a", &apps["a"]);
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
    assert!(all.contains("[apps.a.containers.object_2]: modified_date_field_id is required"));
    assert!(
        all.contains("`not-a-4x4`") && all.contains("`lat` must look like field_N"),
        "{all}"
    );
    assert!(all.contains("add layer_id, item_type"), "{all}");
    assert_eq!(p.len(), 8, "{all}");
    let bad_id = apps_with_id("abc/../def");
    assert!(app_problems("a", &bad_id["a"])[0].contains("[apps.a] app_id"));
    assert!(app_problems("a b", &AppConfig::default())[0].contains("no spaces"));
}

fn apps_with_id(id: &str) -> Apps {
    apps(json!({"a": {"app_id": id}}))
}

#[test]
fn socrata_only_keys_need_a_dataset() {
    let apps = apps(json!({"a": {"containers": {"object_1": {
        "modified_date_field_id": "field_1",
        "no_replace_socrata": true,
        "append_timestamps_socrata": {"key": "Published Date"}
    }}}}));
    let p = app_problems("a", &apps["a"]);
    assert_eq!(p.len(), 3, "{p:?}");
    assert!(p
        .iter()
        .any(|m| m.contains("no_replace_socrata has no effect")));
    assert!(p.iter().any(|m| m.contains("`Published Date`")));
}

#[test]
fn field_maps_are_checked_with_their_place() {
    let apps = apps(json!({"a": {"containers": {"view_1": view(json!({
        "knack_destinations": {"b": {
            "container": "object_2",
            "object": "view_3",
            "fields": [
                {"src": "field_1_raw", "dest": "field_9", "primary_key": true},
                {"src": "field_2", "dest": "field_9_raw", "primary_key": true}
            ]
        }}
    }))}}}));
    assert!(app_problems("a", &apps["a"]).is_empty());
    let text = destination_problems("a", &apps["a"]).join("\n");
    let at = "[apps.a.containers.view_1.knack_destinations.b]";
    assert!(
        text.contains(&format!("{at} object = \"view_3\" must be")),
        "{text}"
    );
    assert!(
        text.contains(&format!("{at} the field map needs exactly one entry")),
        "{text}"
    );
    assert!(text.contains("field_9 is mapped twice"), "{text}");
}

#[test]
fn a_container_becomes_its_staging_plan_or_says_what_it_lacks() {
    let c: ContainerConfig = serde_json::from_value(view(json!({}))).unwrap();
    let plan = c.staging_plan("a", "view_1").unwrap();
    assert_eq!(
        plan.container,
        Container::view("scene_1", "view_1").unwrap()
    );
    assert_eq!(plan.modified_date_field, "field_1");
    assert!(plan.socrata.is_none() && plan.agol.is_none() && plan.knack.is_empty());
    let object = ContainerConfig {
        modified_date_field_id: Some("field_1".into()),
        ..ContainerConfig::default()
    };
    let plan = object.staging_plan("a", "object_1").unwrap();
    assert_eq!(plan.container, Container::object("object_1").unwrap());
    let e = ContainerConfig::default()
        .staging_plan("a", "view_2")
        .unwrap_err();
    assert!(
        e.starts_with("[apps.a.containers.view_2] is a view and needs scene_id"),
        "{e}"
    );
    let e = ContainerConfig::default()
        .staging_plan("a", "object_2")
        .unwrap_err();
    assert!(e.contains("needs modified_date_field_id"), "{e}");
}

#[test]
fn targets_know_the_containers_sharing_their_destination() {
    let layer = json!({"service_id": "item1", "layer_id": 0, "item_type": "layer"});
    let mut both = view(json!({"socrata_resource_id": "abcd-1234"}));
    both.as_object_mut()
        .unwrap()
        .extend(layer.as_object().unwrap().clone());
    let mut other = view(json!({"socrata_resource_id": "wxyz-9876", "no_replace_socrata": true}));
    other
        .as_object_mut()
        .unwrap()
        .extend(layer.as_object().unwrap().clone());
    let apps = apps(json!({"t": {"containers": {
        "view_1": view(json!({"socrata_resource_id": "abcd-1234"})),
        "view_2": both,
        "view_3": other
    }}}));
    let app = &apps["t"];
    assert_eq!(
        app.socrata_target("t", "view_1").unwrap().shared_with,
        ["view_2"]
    );
    let own = app.socrata_target("t", "view_3").unwrap();
    assert!(own.shared_with.is_empty() && own.no_replace);
    let layer = app.agol_target("t", "view_2").unwrap();
    assert_eq!(
        (layer.shared_with, layer.matching_field),
        (vec!["view_3".to_string()], "id".into())
    );
    let e = app.agol_target("t", "view_1").unwrap_err();
    assert!(
        e.contains("needs service_id, layer_id and item_type"),
        "{e}"
    );
    let shared = app.shared();
    assert_eq!(shared.len(), 2, "{shared:?}");
    assert_eq!(shared[0].destination, "Socrata dataset abcd-1234");
    assert_eq!(shared[0].containers, ["view_1", "view_2"]);
    assert_eq!(shared[1].destination, "ArcGIS layer 0 of item item1");
    let e = AppConfig::default()
        .socrata_target("t", "view_9")
        .unwrap_err();
    assert!(
        e.contains("[apps.t.containers.view_9] has no socrata_resource_id"),
        "{e}"
    );
}

#[test]
fn knack_copies_name_both_sides_and_refuse_what_sync_cannot_refresh() {
    let fields = json!([{"src": "field_1_raw", "dest": "field_9", "primary_key": true}]);
    let dest =
        |container: &str| json!({"container": container, "object": "object_2", "fields": fields});
    let apps = apps(json!({
        "src": {"containers": {
            "view_1": view(json!({"knack_destinations": {"dst": dest("view_5")}})),
            "view_2": view(json!({"knack_destinations": {"dst": dest("view_6")}}))
        }},
        "dst": {"app_id": "abc123", "containers": {"view_5": view(json!({}))}}
    }));
    let p = plan(&apps, "src", "view_1").unwrap();
    let k = &p.knack[0];
    assert_eq!(
        (k.app_name.as_str(), k.destination.dest_app_id.as_str()),
        ("dst", "abc123")
    );
    assert_eq!(
        k.dest_container,
        Container::view("scene_1", "view_5").unwrap()
    );
    assert_eq!(k.dest_modified_field.as_deref(), Some("field_1"));
    let e = plan(&apps, "src", "view_2").unwrap_err();
    assert!(
        e.contains("container view_6 is a view, and sync refreshes"),
        "{e}"
    );
    let copy = apps["src"]
        .knack_destination("src", "view_1", "dst")
        .unwrap();
    assert_eq!(
        (copy.source_container.as_str(), copy.dest_container.as_str()),
        ("view_1", "view_5")
    );
    let e = apps["src"]
        .knack_destination("src", "view_1", "other")
        .unwrap_err();
    assert!(
        e.contains("has no knack_destinations.other; known destinations: dst"),
        "{e}"
    );
}

#[test]
fn agol_batch_size_sets_the_layers_batches_and_must_be_positive() {
    let layer = |extra: serde_json::Value| {
        let mut c = view(json!({"service_id": "item1", "layer_id": 0, "item_type": "layer"}));
        c.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        c
    };
    let apps = apps(json!({"t": {"containers": {
        "view_1": layer(json!({})),
        "view_2": layer(json!({"agol_batch_size": 250})),
        "view_3": layer(json!({"agol_batch_size": 0}))
    }}}));
    let app = &apps["t"];
    let size = |id: &str| app.agol_target("t", id).unwrap().batch_size;
    assert_eq!(size("view_1"), crate::agol::AgolTarget::DEFAULT_BATCH_SIZE);
    assert_eq!(size("view_2"), 250);
    let all = app_problems("t", app).join("\n");
    assert!(
        all.contains("[apps.t.containers.view_3]: agol_batch_size must be at least 1"),
        "{all}"
    );
    assert!(!all.contains("view_2"), "{all}");
}

#[test]
fn agol_in_flight_sets_the_batches_at_once_and_must_be_within_its_range() {
    let layer = |extra: serde_json::Value| {
        let mut c = view(json!({"service_id": "item1", "layer_id": 0, "item_type": "layer"}));
        c.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        c
    };
    let apps = apps(json!({"t": {"containers": {
        "view_1": layer(json!({})),
        "view_2": layer(json!({"agol_in_flight": 1})),
        "view_3": layer(json!({"agol_in_flight": 0})),
        "view_4": layer(json!({"agol_in_flight": 17}))
    }}}));
    let app = &apps["t"];
    let n = |id: &str| app.agol_target("t", id).unwrap().in_flight;
    assert_eq!(n("view_1"), crate::agol::AgolTarget::DEFAULT_IN_FLIGHT);
    assert_eq!(n("view_2"), 1);
    let all = app_problems("t", app).join("\n");
    for (view, n) in [("view_3", 0), ("view_4", 17)] {
        assert!(
            all.contains(&format!(
                "[apps.t.containers.{view}]: agol_in_flight is {n}; it must be 1 to 16"
            )),
            "{all}"
        );
    }
    assert!(!all.contains("view_2") && !all.contains("view_1]"), "{all}");
}

#[test]
fn a_dataset_or_layer_shared_across_apps_is_shared_by_app_id_and_listed_once() {
    let layer = json!({"service_id": "item1", "layer_id": 0, "item_type": "layer"});
    let mut with_layer = view(json!({"socrata_resource_id": "abcd-1234"}));
    let layer_keys = layer.as_object().unwrap().clone();
    with_layer
        .as_object_mut()
        .unwrap()
        .extend(layer_keys.clone());
    let mut other_layer = view(json!({}));
    other_layer.as_object_mut().unwrap().extend(layer_keys);
    let config = apps(json!({
        "one": {"app_id": "aaaa", "containers": {
            "view_1": with_layer,
            "view_2": view(json!({"socrata_resource_id": "abcd-1234"}))
        }},
        "two": {"app_id": "bbbb", "containers": {
            "view_9": view(json!({"socrata_resource_id": "abcd-1234"})),
            "view_8": other_layer
        }}
    }));
    let one = plan(&config, "one", "view_1").unwrap();
    assert_eq!(one.socrata.unwrap().shared_with, ["view_2", "bbbb/view_9"]);
    assert_eq!(one.agol.unwrap().shared_with, ["bbbb/view_8"]);
    let two = plan(&config, "two", "view_9").unwrap();
    assert_eq!(
        two.socrata.unwrap().shared_with,
        ["aaaa/view_1", "aaaa/view_2"]
    );
    let lines = shared_lines(&config);
    assert_eq!(
        lines,
        [
            "Socrata dataset abcd-1234 is shared by [apps.one] view_1, [apps.one] view_2, \
             [apps.two] view_9: a full replace of one keeps the records the others have staged, \
             whichever app it belongs to",
            "ArcGIS layer 0 of item item1 is shared by [apps.one] view_1, [apps.two] view_8: a \
             full replace of one keeps the records the others have staged, whichever app it \
             belongs to"
        ]
    );

    // Without the other app's id its rows cannot be told apart: the plan is refused.
    let mut config = config;
    config.get_mut("two").unwrap().app_id = None;
    let e = plan(&config, "one", "view_1").unwrap_err();
    assert!(e.contains("[apps.two] has no app_id: add it"), "{e}");
    assert!(shared_lines(&config)[0]
        .ends_with("[apps.two] need(s) app_id, without which sync refuses these containers"));
}

#[test]
fn containers_of_one_app_sharing_a_destination_are_listed_as_before() {
    let layer = json!({"service_id": "item1", "layer_id": 0, "item_type": "layer"});
    let with = |dataset: &str| {
        let mut c = view(json!({ "socrata_resource_id": dataset }));
        c.as_object_mut()
            .unwrap()
            .extend(layer.as_object().unwrap().clone());
        c
    };
    let config = apps(json!({"tracker": {"containers": {
        "view_1": view(json!({"socrata_resource_id": "abcd-1234"})),
        "view_2": with("abcd-1234"),
        "view_3": with("wxyz-9876")
    }}}));
    assert_eq!(
        shared_lines(&config),
        [
            "[apps.tracker]: Socrata dataset abcd-1234 is shared by containers view_1, view_2: a \
             full replace of one keeps the records the others have staged",
            "[apps.tracker]: ArcGIS layer 0 of item item1 is shared by containers view_2, view_3: \
             a full replace of one keeps the records the others have staged"
        ]
    );
}
