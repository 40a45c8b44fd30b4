//! What one read of a container saw ([`ReadSeen`]): Knack's counters on its first and last pages
//! and the ids it returned, so a replace can tell whether the container moved under the read and
//! which staged records the read lacked.

use knack_client::RawPage;

use crate::engine::keyset::KeySet;

/// One read of a container, page by page. Knack computes each page when it is asked for
/// (`page=N&rows_per_page=1000`), so a record deleted, created or moved by a sort while the read
/// is under way shifts the later records across page boundaries: one can be skipped, another
/// returned twice. A change of `total_records` between the first and the last page is the
/// visible sign.
#[derive(Debug, Default)]
pub(crate) struct ReadSeen {
    /// `total_pages` of the first page: what one more read of the container costs in requests.
    pub(crate) total_pages: u32,
    /// `total_records` of the first page.
    pub(crate) first_total: Option<u64>,
    /// `total_records` of the last page read.
    pub(crate) last_total: Option<u64>,
    /// Pages read (requests made).
    pub(crate) pages: u32,
    /// The ids the read returned.
    pub(crate) ids: KeySet,
}

impl ReadSeen {
    /// Takes one page in, in read order.
    pub(crate) fn page(&mut self, page: &RawPage) {
        if self.pages == 0 {
            self.total_pages = page.total_pages;
            self.first_total = Some(page.total_records);
        }
        self.pages += 1;
        self.last_total = Some(page.total_records);
        for record in &page.records {
            self.ids.insert(record.id());
        }
    }

    /// Whether Knack's `total_records` changed between the first and the last page: records were
    /// created or deleted while the read was under way.
    pub(crate) fn moved(&self) -> bool {
        self.first_total != self.last_total
    }

    /// `total_records` on the first and the last page, for the log.
    pub(crate) fn totals(&self) -> (u64, u64) {
        (
            self.first_total.unwrap_or_default(),
            self.last_total.unwrap_or_default(),
        )
    }
}
