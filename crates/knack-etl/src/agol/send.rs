//! How [`AgolSink`] sends one batch of edits: one `applyEdits`, and when ArcGIS refuses it because
//! of some of its features, a [`Bisection`] that lands the good ones in a few requests and names
//! each refused one with ArcGIS's own reason.
//!
//! ArcGIS REST, applyEdits (layer):
//! <https://developers.arcgis.com/rest/services-reference/enterprise/apply-edits-feature-service-layer/>.
//! With `rollbackOnFailure=true` one bad feature fails the whole call, and hosted layers then
//! answer with one top-level error naming no feature; with `false` each feature gets its own edit
//! result (`success`, `error.code`, `error.description`).

use agol_client::{EditFailure, EditKind, EditResult, Edits, Feature};
use serde_json::Value;

use super::flight::Done;
use super::resolve;
use super::sink::AgolSink;
use crate::engine::bisect::Bisection;
use crate::engine::reject::field_named_in;
use crate::engine::Rejection;
use crate::Error;

/// Parts of a refused batch this size or smaller are sent with `rollbackOnFailure=false`, so that
/// ArcGIS writes their good features and names each refused one in the same answer. 8 saves the
/// last three halvings of every refused feature (for 3 refused among 1,000, at most 27 requests
/// beyond the first instead of 36 when halving down to single features), while a lost answer
/// leaves at most 8 features whose fate the run does not know (as a single feature's would be).
pub(crate) const PER_FEATURE_BELOW: usize = 8;

/// One feature of a batch, ready to send as an add or an update.
pub(crate) struct Edit {
    pub(crate) key: String,
    pub(crate) feature: Feature,
    pub(crate) add: bool,
}

/// What ArcGIS did with one request.
enum Answer {
    /// Every feature written; the add results in the order of the part's adds.
    Landed(Vec<EditResult>),
    /// Answered feature by feature: the part's positions ArcGIS refused, with code and text, and
    /// the add results of the adds it wrote, in order.
    Named(Vec<(usize, Option<i64>, String)>, Vec<EditResult>),
    /// Refused whole, naming no feature.
    Refused(agol_client::Error),
}

impl AgolSink {
    /// Sends `edits` as one `applyEdits`; when ArcGIS refuses it because of some of its features,
    /// sends its parts again in the order [`Bisection`] chooses until every good feature is
    /// written and every bad one is named.
    ///
    /// Every request of more than [`PER_FEATURE_BELOW`] features carries
    /// `rollbackOnFailure=true`, so it applies whole or not at all and the count of written
    /// features is exact even when an answer is lost (the first request of a batch of two or
    /// more too). A failure that is not about the features (transient beyond the client's
    /// retries, a token, a permission) stops the run as before.
    pub(super) async fn send_bisecting(
        &self,
        edits: Vec<Edit>,
        done: &mut Done,
    ) -> Result<(), Error> {
        let mut part = edits;
        let mut per_feature = part.len() == 1;
        let mut bisection: Option<Bisection<Edit>> = None;
        let mut read_backs = 0;
        while !part.is_empty() {
            let answer = match self.send(&mut part, per_feature).await {
                // Lost or failed with adds: read back what landed, then send the part again with
                // each add found turned into an update (resolve.rs).
                Err(e)
                    if read_backs < resolve::MAX_ROUNDS
                        && part.iter().any(|e| e.add)
                        && resolve::outcome_unknown(&e) =>
                {
                    read_backs += 1;
                    resolve::read_back(self, &mut part, &e).await?;
                    continue;
                }
                other => other,
            };
            match answer? {
                Answer::Landed(adds) => {
                    done.landed(&part, &adds, self.preloaded);
                    if let Some(b) = &mut bisection {
                        b.landed();
                    }
                }
                Answer::Named(refused, adds) => {
                    let mut good = Vec::new();
                    for (at, edit) in part.into_iter().enumerate() {
                        match refused.iter().find(|(i, _, _)| *i == at) {
                            Some((_, code, text)) => {
                                done.refused(&edit.key, rejection(&edit, *code, text));
                            }
                            None => good.push(edit),
                        }
                    }
                    done.landed(&good, &adds, self.preloaded);
                    match &mut bisection {
                        Some(b) => b.named(!refused.is_empty()),
                        None => break,
                    }
                }
                Answer::Refused(e) => {
                    let b = bisection.get_or_insert_with(|| {
                        Bisection::refused_request(Vec::new(), PER_FEATURE_BELOW)
                    });
                    if let Some(edit) = b.refused(part) {
                        let (code, reason) = reason_of(&e);
                        done.refused(&edit.key, rejection(&edit, code, &reason));
                    }
                }
            }
            let Some(b) = &mut bisection else { break };
            let Some(next) = b.next() else { break };
            per_feature = b.per_record(next.len());
            part = next;
        }
        Ok(())
    }

    /// Sends `part` as one `applyEdits`. The features move into the request and back out of it
    /// (a copy of each would cost as much as building it), so a refused part can be split and
    /// named.
    async fn send(
        &self,
        part: &mut [Edit],
        per_feature: bool,
    ) -> Result<Answer, agol_client::Error> {
        let (mut adds, mut updates) = (Vec::new(), Vec::new());
        let (mut add_at, mut update_at) = (Vec::new(), Vec::new());
        for (at, edit) in part.iter_mut().enumerate() {
            let feature = std::mem::take(&mut edit.feature);
            if edit.add {
                adds.push(feature);
                add_at.push(at);
            } else {
                updates.push(feature);
                update_at.push(at);
            }
        }
        let request = Edits {
            adds,
            updates,
            rollback_on_failure: !per_feature,
            ..Edits::default()
        };
        let answer = self.layer.apply_edits(&request).await;
        let (adds, updates) = (request.adds, request.updates);
        for (at, feature) in add_at.iter().zip(adds).chain(update_at.iter().zip(updates)) {
            part[*at].feature = feature;
        }
        match answer {
            Ok(results) => Ok(Answer::Landed(results.add_results)),
            Err(agol_client::Error::EditsFailed {
                rolled_back: false,
                failures,
                applied,
                ..
            }) => {
                let position = |f: &EditFailure| match f.kind {
                    EditKind::Add => add_at.get(f.index).copied(),
                    EditKind::Update => update_at.get(f.index).copied(),
                    EditKind::Delete => None,
                };
                let refused = failures
                    .iter()
                    .filter_map(|f| Some((position(f)?, f.code, f.description.clone())))
                    .collect();
                Ok(Answer::Named(refused, applied.add_results))
            }
            Err(e) if refused_for_its_features(&e) => Ok(Answer::Refused(e)),
            Err(e) => Err(e),
        }
    }
}

/// Whether ArcGIS refused an `applyEdits` because of the features it carried (per-feature
/// failures, or the rolled-back batch's "Unable to complete operation."), as opposed to a failure
/// of the service, the token or the request itself, which splitting cannot cure.
fn refused_for_its_features(e: &agol_client::Error) -> bool {
    match e {
        agol_client::Error::EditsFailed { .. } => true,
        agol_client::Error::Api { code, status, .. } => {
            !e.is_retryable() && (*code == Some(400) || (code.is_none() && *status == 400))
        }
        _ => false,
    }
}

/// ArcGIS's code and text for a request of one feature it refused.
fn reason_of(e: &agol_client::Error) -> (Option<i64>, String) {
    match e {
        agol_client::Error::EditsFailed { failures, .. } => {
            let first = failures
                .iter()
                .find(|f| !f.only_rolled_back())
                .or(failures.first());
            match first {
                Some(f) => (f.code, f.description.clone()),
                None => (None, e.to_string()),
            }
        }
        agol_client::Error::Api {
            code,
            message,
            details,
            ..
        } => {
            let mut reason = message.clone();
            if !details.is_empty() {
                reason = format!("{reason} ({})", details.join("; "));
            }
            (*code, reason)
        }
        other => (None, other.to_string()),
    }
}

/// A single refused feature, named with ArcGIS's own reason and the field it names.
fn rejection(edit: &Edit, code: Option<i64>, reason: &str) -> Rejection {
    let record_id = match edit.feature.attributes.get("id") {
        Some(Value::String(id)) if !id.is_empty() => id.clone(),
        _ => edit.key.clone(),
    };
    let field = field_named_in(reason, edit.feature.attributes.keys().map(String::as_str));
    Rejection {
        record_id,
        field,
        code: code.map(|c| c.to_string()),
        reason: reason.to_string(),
    }
}
