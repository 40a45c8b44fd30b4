//! [`Bisection`]: the order in which the parts of a refused all-or-nothing request are sent again
//! so that few requests find the refused records, for a destination that answers record by record
//! only for small requests.
//!
//! A request sent all-or-nothing (ArcGIS `rollbackOnFailure=true`) answers one bit: it landed, or
//! it was refused because of at least one of its records, unnamed. Three rules keep the cost of a
//! refused record near one request per halving (⌈log2 n⌉ for a batch of n), where sending both
//! halves of every refused part costs twice that:
//! - a refused part is split and only its first half is sent; when that half lands, the second
//!   half must hold the refused record, so it is split in turn without being sent whole;
//! - when the first half is refused too, the second half is unknown: it waits in a pool, and the
//!   whole pool goes out as one request once every known-refused part is resolved, so the good
//!   records of all those halves land together;
//! - a part of [`Bisection::per_record_below`] records or fewer is sent so that the destination
//!   answers for each record (ArcGIS `rollbackOnFailure=false`): its good records land and its
//!   refused ones are named by that one answer, which saves the last halvings.
//!
//! For 3 refused records among 1,000 this costs at most 3·⌈log2 1000⌉ = 30 requests beyond the
//! first (tested in `agol_batches.rs`), against about 2·3·10 = 60 for plain halving.

/// The parts still to send of one refused request; see the module documentation.
///
/// The caller sends [`Bisection::next`] and then reports what became of it: [`Bisection::landed`]
/// (every record written), [`Bisection::named`] (answered record by record: some refused and
/// named, the rest written), or [`Bisection::refused`] (refused whole, nothing named).
#[derive(Debug)]
pub(crate) struct Bisection<T> {
    /// Parts known to hold a refused record; `true` when the part was already sent whole.
    known: Vec<(Vec<T>, bool)>,
    /// Records not known either way, sent together when nothing is known to be refused.
    pool: Vec<T>,
    /// The second half of the part in flight, when the part in flight is a first half.
    sibling: Option<Vec<T>>,
    /// Parts this size or smaller are sent to be answered record by record.
    small: usize,
}

impl<T> Bisection<T> {
    /// Starts with a request whose first sending was refused whole (`items`), asking the
    /// destination to answer record by record for parts of `small` records or fewer (at least 1).
    pub(crate) fn refused_request(items: Vec<T>, small: usize) -> Self {
        let mut this = Self {
            known: Vec::new(),
            pool: Vec::new(),
            sibling: None,
            small: small.max(1),
        };
        if !items.is_empty() {
            this.known.push((items, true));
        }
        this
    }

    /// Whether a part of `len` records is to be sent so that the destination answers for each
    /// record (ArcGIS `rollbackOnFailure=false`), instead of all-or-nothing.
    pub(crate) fn per_record(&self, len: usize) -> bool {
        len <= self.small
    }

    /// Parts this size or smaller are answered record by record.
    #[cfg(test)]
    pub(crate) fn per_record_below(&self) -> usize {
        self.small
    }

    /// The next part to send, or `None` when every record is written or named.
    pub(crate) fn next(&mut self) -> Option<Vec<T>> {
        debug_assert!(self.sibling.is_none(), "report the part in flight first");
        if let Some((mut part, sent)) = self.known.pop() {
            if part.len() <= self.small && !sent {
                return Some(part);
            }
            // A part already refused whole, or too big to be answered record by record: its
            // first half goes out, its second waits for the answer.
            debug_assert!(
                part.len() > 1,
                "a single refused record is named, not split"
            );
            let second = part.split_off(part.len() / 2);
            self.sibling = Some(second);
            return Some(part);
        }
        if self.pool.is_empty() {
            return None;
        }
        Some(std::mem::take(&mut self.pool))
    }

    /// The part in flight landed whole: when it was a first half, the second holds the refused
    /// record its parent was refused for.
    pub(crate) fn landed(&mut self) {
        if let Some(second) = self.sibling.take() {
            self.known.push((second, false));
        }
    }

    /// The part in flight was answered record by record: its refused records are named, the rest
    /// written. Whether it held a refused record (`any_refused`) tells what its sibling holds.
    pub(crate) fn named(&mut self, any_refused: bool) {
        if any_refused {
            self.pool.extend(self.sibling.take().unwrap_or_default());
        } else {
            self.landed();
        }
    }

    /// The part in flight was refused whole without naming a record. A single record is handed
    /// back for the caller to name (the destination's answer is its reason); a bigger part is
    /// split further.
    pub(crate) fn refused(&mut self, mut part: Vec<T>) -> Option<T> {
        if let Some(second) = self.sibling.take() {
            self.pool.extend(second);
        }
        if part.len() == 1 {
            return part.pop();
        }
        if !part.is_empty() {
            self.known.push((part, true));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Plays a destination that refuses the records in `bad`: returns the records written, those
    /// named, and how many requests it took beyond the first (refused) one.
    fn play(n: u32, bad: &[u32], small: usize) -> (Vec<u32>, Vec<u32>, usize) {
        let mut b = Bisection::refused_request((0..n).collect(), small);
        let (mut written, mut named, mut requests) = (Vec::new(), Vec::new(), 0);
        while let Some(part) = b.next() {
            requests += 1;
            let refused: Vec<u32> = part.iter().copied().filter(|i| bad.contains(i)).collect();
            if b.per_record(part.len()) {
                written.extend(part.iter().filter(|i| !bad.contains(i)));
                named.extend(&refused);
                b.named(!refused.is_empty());
            } else if refused.is_empty() {
                written.extend(part);
                b.landed();
            } else if let Some(one) = b.refused(part) {
                named.push(one);
            }
        }
        written.sort_unstable();
        named.sort_unstable();
        (written, named, requests)
    }

    #[test]
    fn three_refused_among_a_thousand_cost_at_most_three_halvings_each() {
        // Spread, clustered, at the edges, and pseudo-random placements.
        let mut placements = vec![
            vec![0, 1, 2],
            vec![997, 998, 999],
            vec![0, 500, 999],
            vec![10, 500, 990],
            vec![333, 666, 999],
            vec![7, 512, 901],
        ];
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..2000 {
            let mut p = Vec::new();
            while p.len() < 3 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let i = (x % 1000) as u32;
                if !p.contains(&i) {
                    p.push(i);
                }
            }
            placements.push(p);
        }
        for bad in placements {
            let (written, mut named, extra) = play(1000, &bad, 8);
            let mut expected = bad.clone();
            expected.sort_unstable();
            named.dedup();
            assert_eq!(named, expected, "{bad:?}");
            assert_eq!(written.len(), 997, "{bad:?}");
            assert!(written.iter().all(|i| !bad.contains(i)));
            assert!(extra <= 30, "{bad:?} took {extra} extra requests");
        }
    }

    #[test]
    fn one_refused_record_costs_no_more_than_its_halvings() {
        for bad in 0..1000 {
            let (written, named, extra) = play(1000, &[bad], 8);
            assert_eq!((written.len(), named), (999, vec![bad]));
            assert!(extra <= 10, "{bad} took {extra}");
        }
    }

    #[test]
    fn a_small_part_refused_whole_is_split_down_to_single_records() {
        // A destination that refuses a small part whole even when asked to answer per record
        // (ArcGIS does for some errors): the part is halved until the record stands alone.
        let mut b = Bisection::refused_request(vec![1, 2, 3, 4], 8);
        assert_eq!(b.per_record_below(), 8);
        let mut named = Vec::new();
        let mut written = Vec::new();
        let mut guard = 0;
        while let Some(part) = b.next() {
            guard += 1;
            assert!(guard < 20, "no progress");
            if part.contains(&3) {
                if let Some(one) = b.refused(part) {
                    named.push(one);
                }
            } else {
                written.extend(part);
                b.landed();
            }
        }
        written.sort_unstable();
        assert_eq!((named, written), (vec![3], vec![1, 2, 4]));
    }
}
