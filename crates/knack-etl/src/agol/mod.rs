//! ArcGIS Online's side: the transform (Knack record → feature, as a map or from formatted
//! values), the matching keys, the [`AgolSink`], the preflight of a layer or table, the drift
//! check and repair, and the publish function [`records_to_agol`] with its [`AgolTarget`].

pub(crate) mod drift;
mod flight;
mod keys;
pub(crate) mod preflight;
pub(crate) mod publish;
mod resolve;
mod send;
mod sink;
mod target;
mod transform;
mod values;

pub use preflight::layer_problems;
pub use publish::records_to_agol;
pub use sink::AgolSink;
pub use target::AgolTarget;
pub use transform::{AgolOptions, AgolTransform, WKID_WGS84};
pub use values::AgolFeatureBuilder;
