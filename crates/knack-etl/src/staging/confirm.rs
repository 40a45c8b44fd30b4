//! The confirmation of a full reload's deletes ([`Confirmation`]): the staged records the read of
//! Knack did not return are candidates, not facts, and each is confirmed gone (or found, and
//! staged again) before anything is deleted.
//!
//! Knack pages by number and computes each page when it is asked for, so a record deleted,
//! created or moved by a sort while the read is under way shifts later records across page
//! boundaries: a record Knack still has can be missing from every page of a read. Two ways to
//! confirm, chosen by cost:
//!
//! - **One request per record** (`GET objects/{object}/records/{id}`, a 404 is gone): exact,
//!   and used while there are no more open records than a read of the container has pages (so
//!   it never costs more than a read). Objects only: Knack documents the per-record view route
//!   for PUT and DELETE, not GET.
//! - **Another read of the container**: what it returns is staged (the candidates it has, and any
//!   record no read staged). A record is gone when two reads lacked it and the last read held
//!   still (Knack's `total_records` the same on its first and last page); the container is read
//!   at most twice more, and a record never settled is kept, not deleted.
//!
//! A read whose own `total_records` moved is always followed by another read (the confirmation is
//! widened): records may have shifted that no earlier run staged, and a record the read returned
//! and the next read lacks (deleted during the run) is open too.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};

use futures::{StreamExt, TryStreamExt};
use knack_client::{Client, Container, RawRecord, RecordsQuery};

use crate::knack::seen::ReadSeen;
use crate::Error;

/// The most reads of the container a confirmation makes after the run's own read. With one
/// request per record for at most a read's worth of records, a confirmation costs at most three
/// reads' worth of requests: two reads, and one read's worth of single-record requests.
pub(crate) const MAX_CONFIRMING_READS: u32 = 2;

/// Single-record requests in flight at once (the client's limiter keeps them within Knack's 10 a
/// second).
const LOOKUPS_AT_ONCE: usize = 4;

/// What confirms a reload's deletes: the Knack container the run read, how, and what the read saw.
#[derive(Debug)]
pub(crate) struct Confirmation {
    client: Client,
    container: Container,
    query: RecordsQuery,
    main: Arc<Mutex<ReadSeen>>,
}

/// Why an id is open, and how many reads lacked it.
#[derive(Debug, Clone, Copy)]
struct Doubt {
    /// Reads that lacked it (the run's own read included, for a candidate).
    misses: u32,
    /// Whether the run's read returned it (and staged it): a record that vanished from a later
    /// read, not a candidate.
    returned: bool,
}

impl Doubt {
    /// A staged record the run's read lacked.
    const CANDIDATE: Self = Self {
        misses: 1,
        returned: false,
    };
    /// A record the run's read returned and a confirming read lacked.
    const RETURNED: Self = Self {
        misses: 1,
        returned: true,
    };
}

/// The ids not yet settled.
type Open = BTreeMap<String, Doubt>;

/// What a confirmation found.
#[derive(Debug, Default)]
pub(crate) struct Verdict {
    /// Records to stage: candidates Knack still has, and records a confirming read returned that
    /// the run's read lacked.
    pub(crate) found: Vec<RawRecord>,
    /// Candidates confirmed gone.
    pub(crate) gone: Vec<String>,
    /// Candidates missing from every read while Knack kept changing: kept, not deleted.
    pub(crate) unconfirmed: Vec<String>,
    /// Single-record requests made.
    pub(crate) lookups: u64,
    /// Confirming reads made, and their pages (requests).
    pub(crate) reads: u32,
    pub(crate) pages: u64,
    /// `total_records` on the first and the last page of the run's read, when they differ.
    pub(crate) moved: Option<(u64, u64)>,
}

impl Verdict {
    /// Knack requests the confirmation made.
    pub(crate) fn requests(&self) -> u64 {
        self.lookups + self.pages
    }
}

impl Confirmation {
    /// Confirms against `container` read with `query`, the run's read having noted its pages in
    /// `main`.
    pub(crate) fn new(
        client: Client,
        container: Container,
        query: RecordsQuery,
        main: Arc<Mutex<ReadSeen>>,
    ) -> Self {
        Self {
            client,
            container,
            query,
            main,
        }
    }

    /// Sorts `candidates` (staged ids the run's read lacked) into found, gone and unconfirmed:
    /// see the module docs.
    ///
    /// # Errors
    /// Any Knack error (after the client's retries): nothing is then deleted.
    pub(crate) async fn confirm(&self, candidates: Vec<String>) -> Result<Verdict, Error> {
        let mut main = std::mem::take(&mut *self.main.lock().unwrap_or_else(|e| e.into_inner()));
        main.ids.seal();
        let per_read = main.total_pages.max(1) as usize;
        let object = matches!(self.container, Container::Object { .. });
        let mut open: Open = candidates
            .into_iter()
            .map(|id| (id, Doubt::CANDIDATE))
            .collect();
        let mut verdict = Verdict::default();
        let mut found = HashSet::new();
        // Whether the last read held still (the run's own read included).
        let mut still = !main.moved();
        if main.moved() {
            let (first, last) = main.totals();
            verdict.moved = Some((first, last));
            tracing::warn!(
                container = %self.container,
                first,
                last,
                "Knack's total_records changed during the read (records were created or deleted \
                 meanwhile, so some may have shifted between pages): reading the container again"
            );
            let mut seen = self
                .read_again(&main, &mut open, &mut found, &mut verdict)
                .await?;
            still = !seen.moved();
            // Records the run's read returned that this one lacks: deleted since (or shifted).
            for id in main.ids.not_in(&mut seen.ids) {
                open.entry(id).or_insert(Doubt::RETURNED);
            }
        }
        loop {
            if open.is_empty() {
                break;
            }
            if object && open.len() <= per_read {
                self.look_up(&mut open, &mut verdict).await?;
                break;
            }
            let settled = open.values().all(|d| d.misses >= 2);
            if (still && settled) || verdict.reads == MAX_CONFIRMING_READS {
                break;
            }
            still = !self
                .read_again(&main, &mut open, &mut found, &mut verdict)
                .await?
                .moved();
        }
        for (id, doubt) in open {
            if still && doubt.misses >= 2 {
                verdict.gone.push(id);
            } else {
                verdict.unconfirmed.push(id);
            }
        }
        Ok(verdict)
    }

    /// One request per open id: a 404 is gone; a candidate found is kept to stage (a record the
    /// run's read returned is staged already).
    async fn look_up(&self, open: &mut Open, verdict: &mut Verdict) -> Result<(), Error> {
        let ids = std::mem::take(open);
        verdict.lookups += ids.len() as u64;
        let mut answers = futures::stream::iter(ids)
            .map(|(id, doubt)| async move {
                let answer = self.client.raw_record(&self.container, &id).await;
                (id, doubt, answer)
            })
            .buffer_unordered(LOOKUPS_AT_ONCE);
        while let Some((id, doubt, answer)) = answers.next().await {
            match answer? {
                Some(record) if !doubt.returned => verdict.found.push(record),
                Some(_) => {}
                None => verdict.gone.push(id),
            }
        }
        Ok(())
    }

    /// Reads the container again: a candidate it returns, and a record the run's read lacked,
    /// is kept to stage; an open id it lacks has one more miss. Returns what the read saw.
    async fn read_again(
        &self,
        main: &ReadSeen,
        open: &mut Open,
        found: &mut HashSet<String>,
        verdict: &mut Verdict,
    ) -> Result<ReadSeen, Error> {
        let mut seen = ReadSeen::default();
        let mut pages = Box::pin(self.client.raw_pages(&self.container, self.query.clone()));
        while let Some(page) = pages.try_next().await? {
            seen.page(&page);
            for record in page.records {
                let id = record.id();
                let missed = match open.remove(id) {
                    Some(doubt) => !doubt.returned,
                    None => !main.ids.contains(id),
                };
                if missed && found.insert(id.to_string()) {
                    verdict.found.push(record);
                }
            }
        }
        seen.ids.seal();
        for doubt in open.values_mut() {
            doubt.misses += 1;
        }
        verdict.reads += 1;
        verdict.pages += u64::from(seen.pages);
        if seen.moved() {
            let (first, last) = seen.totals();
            tracing::warn!(
                container = %self.container,
                first,
                last,
                "Knack's total_records changed during a confirming read too"
            );
        }
        Ok(seen)
    }
}
