//! Destinations several containers of one app publish to (the original's config sends two views
//! to one Socrata dataset): each plan's targets learn the others ([`share_destinations`]), so a
//! full replace of one keeps the records the others have staged, and [`shared_destinations`]
//! lists them.

use agol_client::LayerSelector;

use super::plan::SyncPlan;

/// A destination more than one container publishes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedDestination {
    /// The destination in words: `Socrata dataset abcd-1234`, `ArcGIS layer 0 of item <id>`.
    pub destination: String,
    /// The containers publishing to it, sorted.
    pub containers: Vec<String>,
}

/// Where a plan publishes: its dataset's key and its layer's, when it has them.
pub(crate) fn keys(plan: &SyncPlan) -> [Option<String>; 2] {
    [
        plan.socrata
            .as_ref()
            .map(|t| format!("Socrata dataset {}", t.resource_id)),
        plan.agol.as_ref().map(|t| {
            let layer = match t.selector {
                LayerSelector::LayerIndex(i) => format!("layer {i}"),
                LayerSelector::TableIndex(i) => format!("table {i}"),
                LayerSelector::Id(id) => format!("layer with id {id}"),
            };
            format!("ArcGIS {layer} of item {}", t.service_id)
        }),
    ]
}

/// The other plans' containers publishing to destination `which` (0: Socrata, 1: ArcGIS) of
/// `plans[at]`, in plan order.
fn sharers(
    plans: &[SyncPlan],
    all: &[[Option<String>; 2]],
    at: usize,
    which: usize,
) -> Vec<String> {
    let Some(key) = &all[at][which] else {
        return Vec::new();
    };
    plans
        .iter()
        .zip(all)
        .enumerate()
        .filter(|(i, (_, k))| *i != at && k[which].as_ref() == Some(key))
        .map(|(_, (p, _))| p.container.id().to_string())
        .collect()
}

/// Sets the `shared_with` of every plan's Socrata and ArcGIS target: the other plans (of the
/// same app) publishing to the same dataset or layer, in plan order.
pub fn share_destinations(plans: &mut [SyncPlan]) {
    let all: Vec<_> = plans.iter().map(keys).collect();
    for at in 0..plans.len() {
        let (socrata, agol) = (sharers(plans, &all, at, 0), sharers(plans, &all, at, 1));
        if let Some(t) = &mut plans[at].socrata {
            t.shared_with = socrata;
        }
        if let Some(t) = &mut plans[at].agol {
            t.shared_with = agol;
        }
    }
}

/// The destinations more than one of `plans` (one app's) publishes to, each once, in plan order
/// (a container's dataset before its layer).
pub fn shared_destinations(plans: &[SyncPlan]) -> Vec<SharedDestination> {
    let all: Vec<_> = plans.iter().map(keys).collect();
    let mut out: Vec<SharedDestination> = Vec::new();
    for (at, plan) in plans.iter().enumerate() {
        for (which, key) in all[at].iter().enumerate() {
            let Some(destination) = key else {
                continue;
            };
            let others = sharers(plans, &all, at, which);
            if others.is_empty() || out.iter().any(|s| s.destination == *destination) {
                continue;
            }
            let mut containers = vec![plan.container.id().to_string()];
            containers.extend(others);
            containers.sort();
            out.push(SharedDestination {
                destination: destination.clone(),
                containers,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use knack_client::Container;

    use super::*;
    use crate::agol::AgolTarget;
    use crate::socrata::SocrataTarget;

    fn plan(view: &str, dataset: &str, layer: Option<usize>) -> SyncPlan {
        SyncPlan {
            container: Container::view("scene_1", view).unwrap(),
            modified_date_field: "field_1".into(),
            location_fields: Vec::new(),
            socrata: Some(SocrataTarget {
                resource_id: dataset.into(),
                ..SocrataTarget::default()
            }),
            agol: layer.map(|i| AgolTarget::new("item1", LayerSelector::LayerIndex(i), "id")),
            knack: Vec::new(),
        }
    }

    #[test]
    fn containers_sharing_a_dataset_or_a_layer_are_found_and_listed_once() {
        let mut plans = vec![
            plan("view_1", "abcd-1234", None),
            plan("view_2", "abcd-1234", Some(0)),
            plan("view_3", "wxyz-9876", Some(0)),
        ];
        share_destinations(&mut plans);
        let sharers = |i: usize| {
            let p: &SyncPlan = &plans[i];
            let socrata = p.socrata.as_ref().map(|t| t.shared_with.clone());
            let agol = p.agol.as_ref().map(|t| t.shared_with.clone());
            (socrata.unwrap_or_default(), agol.unwrap_or_default())
        };
        assert_eq!(sharers(0).0, ["view_2"]);
        assert!(sharers(2).0.is_empty());
        assert_eq!(sharers(1).1, ["view_3"]);
        assert!(sharers(0).1.is_empty());
        let shared = shared_destinations(&plans);
        assert_eq!(shared.len(), 2, "{shared:?}");
        assert_eq!(shared[0].destination, "Socrata dataset abcd-1234");
        assert_eq!(shared[0].containers, ["view_1", "view_2"]);
        assert_eq!(shared[1].destination, "ArcGIS layer 0 of item item1");
        assert_eq!(shared[1].containers, ["view_2", "view_3"]);
    }
}
