//! What the fake holds: the app, its records (each as its JSON text), each container's own sort,
//! the hooks run before a page is answered, and the counters the server reads (arrivals for the
//! rate limit, the daily quota, cached filter matches and sort orders).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::value::RawValue;
use serde_json::Value;

pub(super) struct State {
    pub(super) app_id: String,
    pub(super) api_key: String,
    pub(super) metadata: Option<Value>,
    /// Records by container records path (`objects/object_1/records`).
    pub(super) records: HashMap<String, Vec<Stored>>,
    pub(super) overstated: HashMap<String, u64>,
    pub(super) user_tokens: Vec<String>,
    pub(super) rate_limit: Option<usize>,
    /// The daily quota: (limit, remaining), when the fake sends it.
    pub(super) plan: Option<(u64, u64)>,
    /// When Knack counts each recent request (its arrival plus jitter), in arrival order.
    pub(super) arrivals: VecDeque<Instant>,
    /// The most a request's counted arrival lags its real one (see
    /// `FakeKnack::set_arrival_jitter`), and the state of the generator that draws the lag.
    pub(super) arrival_jitter: Duration,
    pub(super) jitter_state: u64,
    next_id: u64,
    /// Indexes of the records a read shows, in its order, by (container, `filters` text, sort):
    /// a filtered or sorted read pages in O(page) after its first page. Any change to the records
    /// forgets them, so every page is computed from the records as they are when it is asked for.
    pub(super) matches: HashMap<(String, String, Option<Sort>), Arc<Vec<usize>>>,
    /// A container's own order when a request names none (a view's configured sort), by records
    /// path.
    pub(super) sorts: HashMap<String, Sort>,
    /// Run once, before the page they name of their container is answered.
    pub(super) hooks: Vec<PageHook>,
}

/// An order of records: the field (`field_N`, read from `field_N_raw` when there is one) and
/// whether it is descending.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct Sort {
    pub(super) field: String,
    pub(super) descending: bool,
}

/// What a test runs against a container's records before a page of it is answered.
pub(super) struct PageHook {
    pub(super) container: String,
    pub(super) page: u64,
    pub(super) run: Box<dyn FnOnce(&mut super::RecordsEdit<'_>) + Send>,
}

impl State {
    pub(super) fn new(app_id: &str, api_key: &str) -> Self {
        Self {
            app_id: app_id.into(),
            api_key: api_key.into(),
            metadata: None,
            records: HashMap::new(),
            overstated: HashMap::new(),
            user_tokens: Vec::new(),
            rate_limit: Some(10),
            plan: None,
            arrivals: VecDeque::new(),
            arrival_jitter: Duration::ZERO,
            jitter_state: 0,
            next_id: 0,
            matches: HashMap::new(),
            sorts: HashMap::new(),
            hooks: Vec::new(),
        }
    }

    /// The records of `container` (none when it has never been given any).
    pub(super) fn records_of(&self, container: &str) -> &[Stored] {
        self.records
            .get(container)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// The records of `container`, to change (forgets the cached filter matches).
    pub(super) fn records_mut(&mut self, container: &str) -> &mut Vec<Stored> {
        self.matches.clear();
        self.records.entry(container.to_string()).or_default()
    }

    pub(super) fn with_id(&mut self, mut record: Value) -> Value {
        if let Value::Object(m) = &mut record {
            if !m.contains_key("id") {
                m.insert("id".into(), Value::String(self.new_id()));
            }
        }
        record
    }

    pub(super) fn new_id(&mut self) -> String {
        self.next_id += 1;
        format!("f{:023x}", self.next_id)
    }
}

/// A record as its JSON text (parsed when a filter or a write needs it), with its id: a million
/// records held as trees of values would not fit in memory.
pub(super) struct Stored {
    pub(super) id: Option<String>,
    text: Box<RawValue>,
}

impl Stored {
    pub(super) fn new(record: &Value) -> Self {
        let text = serde_json::value::to_raw_value(record)
            .unwrap_or_else(|_| RawValue::from_string("null".into()).unwrap_or_default());
        Stored {
            id: record.get("id").and_then(Value::as_str).map(str::to_owned),
            text,
        }
    }

    pub(super) fn value(&self) -> Value {
        // Written by `new` from a value: always reads back.
        serde_json::from_str(self.text.get()).unwrap_or_default()
    }

    pub(super) fn text(&self) -> &RawValue {
        &self.text
    }
}
