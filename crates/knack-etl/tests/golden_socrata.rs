//! Every fixture record becomes exactly the Socrata row the original published.

mod common;

use common::{diff, fixture, records, view_fields, CONTAINER, LOCATION_FIELD};
use knack_etl::socrata::{SocrataColumns, SocrataOptions, SocrataTransform};

#[test]
fn every_record_matches_the_originals_socrata_row() {
    let fields = view_fields(&fixture("metadata.json"), CONTAINER);
    let columns = SocrataColumns::from_metadata(&fixture("socrata_dataset.json")).unwrap();
    let options = SocrataOptions::default().location_field(LOCATION_FIELD);
    let transform = SocrataTransform::new(columns, &fields, options).unwrap();
    assert_eq!(transform.dropped_fields(), ["contact_email"]);

    let expected = fixture("expected_socrata_rows.json");
    let expected = expected.as_array().unwrap();
    let records = records();
    assert_eq!(records.len(), expected.len());
    assert_eq!(records.len(), 60);

    let mut mismatches = Vec::new();
    for ((id, formatted, raw), want) in records.into_iter().zip(expected) {
        let want = want.as_object().unwrap();
        assert_eq!(want["id"], id.as_str(), "fixtures are in the same order");
        let row = transform
            .row(formatted, &raw)
            .unwrap_or_else(|e| panic!("{id}: {e}"));
        mismatches.extend(diff(&id, want, &row));
    }
    assert!(
        mismatches.is_empty(),
        "{} mismatches:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}
