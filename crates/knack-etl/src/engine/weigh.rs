//! [`Weigh`]: about how many bytes an item holds, which bounds how far the driver reads ahead of
//! the writer; implemented for the record, row and feature types the pipelines move.

/// About how many bytes of memory an item holds, for bounding how far a reader runs ahead of the
/// writer in bytes rather than in batches (a batch of big records can be many times one of
/// small ones).
pub trait Weigh {
    /// Approximate bytes held: the text's length for an item kept as text, an estimate of the
    /// tree's heap for a parsed one.
    fn weight(&self) -> usize;
}

impl Weigh for knack_client::RawRecord {
    fn weight(&self) -> usize {
        self.raw().get().len() + self.id().len()
    }
}

impl Weigh for knack_client::Record {
    fn weight(&self) -> usize {
        self.raw().weight()
    }
}

impl Weigh for serde_json::Value {
    fn weight(&self) -> usize {
        json_weight(self)
    }
}

impl Weigh for serde_json::Map<String, serde_json::Value> {
    fn weight(&self) -> usize {
        map_weight(self)
    }
}

impl Weigh for agol_client::Feature {
    fn weight(&self) -> usize {
        // A shape is a few numbers (a point) or a few hundred (a line); attributes dominate.
        self.attributes.weight() + 64
    }
}

impl Weigh for String {
    fn weight(&self) -> usize {
        self.len()
    }
}

macro_rules! weigh_as_size {
    ($($t:ty),*) => {$(
        impl Weigh for $t {
            fn weight(&self) -> usize {
                std::mem::size_of::<$t>()
            }
        }
    )*};
}
weigh_as_size!(u32, u64, i64, usize);

/// Roughly the heap a parsed value holds: its text plus what each node costs in a tree of
/// `Value`s (the node itself, an allocation per string, a map entry and index slot per key),
/// about five times the text for a Knack record. Counting the text alone would let the reader
/// hold five times the budget.
fn json_weight(value: &serde_json::Value) -> usize {
    use serde_json::Value;
    const NODE: usize = 32;
    match value {
        Value::String(s) => NODE + 16 + s.len(),
        Value::Array(a) => NODE + 16 + a.iter().map(json_weight).sum::<usize>(),
        Value::Object(m) => NODE + 64 + map_weight(m),
        _ => NODE,
    }
}

/// The entries of a map: key (an allocation), hash index slot, and value.
fn map_weight(map: &serde_json::Map<String, serde_json::Value>) -> usize {
    map.iter()
        .map(|(k, v)| 16 + k.len() + 16 + json_weight(v))
        .sum()
}
