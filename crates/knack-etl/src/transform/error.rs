//! The one error type of the transforms.

/// Why a transform could not be built or could not turn a record into a row.
///
/// Construction errors (`UnknownLocationField`, `LocationColumnMissing`, `LocationColumnType`,
/// `InvalidDatasetMetadata`) are configuration mistakes: fix the container config or the dataset.
/// Record errors (`InvalidCoordinate`, `InvalidLocation`, `InvalidTimestamp`) concern one record: the
/// pipeline decides whether to skip it or stop. None of them is worth retrying.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TransformError {
    /// The configured location field is not one of the container's fields.
    #[error(
        "location field `{field_key}` is not a field of this container; \
         check `location_field_id` in the container config or re-sync the Knack metadata"
    )]
    UnknownLocationField {
        /// The configured field key, e.g. `field_9`.
        field_key: String,
    },
    /// The Socrata dataset has no column for the location field.
    #[error(
        "Socrata dataset has no column `{column}` for location field `{field_key}`; \
         add the column or rename the Knack field so its normalised label matches"
    )]
    LocationColumnMissing {
        /// The configured field key.
        field_key: String,
        /// The column name the field's label normalises to.
        column: String,
    },
    /// The location field's Socrata column is not a geometry type.
    #[error(
        "Socrata column `{column}` for location field `{field_key}` is of type `{data_type}`, \
         not `point`, `location` or `multipoint`; change the column type or unset the location field"
    )]
    LocationColumnType {
        /// The configured field key.
        field_key: String,
        /// The Socrata column.
        column: String,
        /// Its `dataTypeName`.
        data_type: String,
    },
    /// Socrata dataset metadata without a usable `columns` list.
    #[error("Socrata dataset metadata is not usable: {reason}; pass the `/api/views/<id>.json` response")]
    InvalidDatasetMetadata {
        /// What is wrong with it.
        reason: String,
    },
    /// The `append_timestamps_socrata` column is not in the Socrata dataset.
    #[error(
        "Socrata dataset has no column `{column}` for `append_timestamps_socrata`; \
         add the column (floating timestamp) or change the key in the container config"
    )]
    TimestampColumnMissing {
        /// The configured column.
        column: String,
    },
    /// A latitude or longitude that is present but not a number.
    #[error("location field `{field_key}` holds a non-numeric coordinate {value}; fix the address in Knack")]
    InvalidCoordinate {
        /// The location field key.
        field_key: String,
        /// The offending value, as JSON.
        value: String,
    },
    /// A location value whose shape does not fit the Socrata column type.
    #[error("location field `{field_key}` cannot be sent to a `{data_type}` column: {reason}")]
    InvalidLocation {
        /// The location field key.
        field_key: String,
        /// The Socrata column type.
        data_type: String,
        /// What is wrong.
        reason: String,
    },
    /// A value in a floating-timestamp (`calendar_date`) column that is not a timestamp.
    #[error("column `{column}` is a Socrata floating timestamp but holds {value}, which is not an ISO-8601 timestamp")]
    InvalidTimestamp {
        /// The Socrata column.
        column: String,
        /// The offending value, as JSON.
        value: String,
    },
    /// `no_replace_socrata` is set and a full replace was asked for.
    #[error(
        "replacing this Socrata dataset is not allowed (`no_replace_socrata`); \
         run incrementally with a date or change the container config"
    )]
    ReplaceForbidden,
    /// A row built as JSON text did not read back as JSON (a bug here, not in the record).
    #[error("a row could not be written as JSON ({reason}); please report this with the record")]
    InvalidRow {
        /// What the JSON reader said.
        reason: String,
    },
}
