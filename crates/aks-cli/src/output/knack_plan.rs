//! `records-to-knack --dry-run`'s plan on stdout: one line per record (create, update with the
//! fields that differ, unchanged), then the totals.

use knack_etl::knack_copy::{Action, KnackReport};

/// One line per record on stdout, then the totals.
pub(crate) fn print_plan(report: &KnackReport) {
    for p in &report.plan {
        match &p.action {
            Action::Create => println!(
                "create    source {} (primary key {})",
                p.source_record_id, p.primary_key
            ),
            Action::Update {
                dest_record_id,
                changed,
            } => println!(
                "update    source {} -> {dest_record_id} (primary key {}): {}",
                p.source_record_id,
                p.primary_key,
                changed.join(", ")
            ),
            Action::Unchanged { dest_record_id } => println!(
                "unchanged source {} = {dest_record_id} (primary key {})",
                p.source_record_id, p.primary_key
            ),
        }
    }
    println!(
        "plan: {} to create, {} to update, {} unchanged (dry run: nothing was written)",
        report.created, report.updated, report.unchanged
    );
}
