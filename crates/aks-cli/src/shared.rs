//! Destinations several containers of one app publish to (the original's config sends two views
//! to one Socrata dataset): a run passes the others to knack-etl, so a full replace keeps their
//! records, and `config check` lists them.

use crate::config::{AppConfig, Config, ContainerConfig};

/// The other containers of `app` that publish to the same Socrata dataset as `container`.
pub fn socrata_sharers(app: &AppConfig, container: &str) -> Vec<String> {
    let Some(resource) = app
        .containers
        .get(container)
        .and_then(|c| c.socrata_resource_id.as_deref())
    else {
        return Vec::new();
    };
    others(app, container, |c| {
        c.socrata_resource_id.as_deref() == Some(resource)
    })
}

/// The other containers of `app` that publish to the same ArcGIS layer or table as `container`.
pub fn agol_sharers(app: &AppConfig, container: &str) -> Vec<String> {
    let Some(key) = app.containers.get(container).and_then(agol_key) else {
        return Vec::new();
    };
    others(app, container, |c| agol_key(c).as_ref() == Some(&key))
}

/// One line per destination that more than one container of an app publishes to.
pub fn shared_destinations(config: &Config) -> Vec<String> {
    let mut lines = Vec::new();
    for (name, app) in &config.apps {
        let mut seen: Vec<String> = Vec::new();
        for (id, c) in &app.containers {
            let groups = [
                (
                    c.socrata_resource_id
                        .as_ref()
                        .map(|r| format!("Socrata dataset {r}")),
                    socrata_sharers(app, id),
                ),
                (
                    agol_key(c).map(|(s, l, t)| format!("ArcGIS {t} {l} of item {s}")),
                    agol_sharers(app, id),
                ),
            ];
            for (destination, sharers) in groups {
                let Some(destination) = destination else {
                    continue;
                };
                if sharers.is_empty() || seen.contains(&destination) {
                    continue;
                }
                seen.push(destination.clone());
                let mut all = vec![id.clone()];
                all.extend(sharers);
                all.sort();
                lines.push(format!(
                    "[apps.{name}]: {destination} is shared by containers {}: a full replace of \
                     one keeps the records the others have staged",
                    all.join(", ")
                ));
            }
        }
    }
    lines
}

fn agol_key(c: &ContainerConfig) -> Option<(String, u32, String)> {
    match (&c.service_id, c.layer_id, c.item_type) {
        (Some(s), Some(l), Some(t)) => Some((s.clone(), l, t.to_string())),
        _ => None,
    }
}

fn others(
    app: &AppConfig,
    container: &str,
    same: impl Fn(&ContainerConfig) -> bool,
) -> Vec<String> {
    app.containers
        .iter()
        .filter(|(id, c)| id.as_str() != container && same(c))
        .map(|(id, _)| id.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> Config {
        toml::from_str(text).expect("test config parses")
    }

    #[test]
    fn containers_sharing_a_dataset_or_a_layer_are_found_and_listed_once() {
        let c = config(
            r#"
            [apps.tracker.containers.view_1]
            scene_id = "scene_1"
            modified_date_field_id = "field_1"
            socrata_resource_id = "abcd-1234"
            [apps.tracker.containers.view_2]
            scene_id = "scene_1"
            modified_date_field_id = "field_1"
            socrata_resource_id = "abcd-1234"
            service_id = "item1"
            layer_id = 0
            item_type = "layer"
            [apps.tracker.containers.view_3]
            scene_id = "scene_1"
            modified_date_field_id = "field_1"
            socrata_resource_id = "wxyz-9876"
            service_id = "item1"
            layer_id = 0
            item_type = "layer"
            "#,
        );
        let app = &c.apps["tracker"];
        assert_eq!(socrata_sharers(app, "view_1"), ["view_2"]);
        assert!(socrata_sharers(app, "view_3").is_empty());
        assert_eq!(agol_sharers(app, "view_2"), ["view_3"]);
        assert!(agol_sharers(app, "view_1").is_empty());
        let lines = shared_destinations(&c);
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(
            lines[0].contains("Socrata dataset abcd-1234 is shared by containers view_1, view_2")
        );
        assert!(lines[1]
            .contains("ArcGIS layer 0 of item item1 is shared by containers view_2, view_3"));
    }
}
