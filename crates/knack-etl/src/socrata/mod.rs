//! Socrata's side: the transform (Knack record → row, as a map or straight as JSON text), the
//! [`SocrataSink`], the preflight of a dataset, the drift check and repair, the publish function
//! [`records_to_socrata`] with its [`SocrataTarget`] (where the `no_replace_socrata` rule is
//! decided), what a dataset id looks like ([`is_dataset_id`]), and dated CSV snapshots of a dataset
//! ([`backup_socrata`]) in a [`BackupTarget`] (`backup_target.rs`).

mod backup;
mod backup_target;
pub(crate) mod drift;
pub(crate) mod preflight;
pub(crate) mod publish;
mod sink;
mod target;
mod text_row;
mod transform;

pub use backup::{
    backup_socrata, backup_socrata_dry_run, cell, snapshot_path, BackupError, BackupReport,
    DEFAULT_KEEP,
};
pub use backup_target::BackupTarget;
pub use preflight::{dataset_problems, SOCRATA_ROW_IDENTIFIER};
pub use publish::records_to_socrata;
pub use sink::SocrataSink;
pub use target::{is_dataset_id, SocrataTarget};
pub use text_row::{SocrataRowWriter, TextRow};
pub use transform::{SocrataColumns, SocrataOptions, SocrataTransform, DEFAULT_TIMEZONE};
