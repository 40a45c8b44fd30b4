//! Pages fetched ahead of their consumer on their own tasks, bounded in count and in bytes.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use futures::Stream;
use tokio::sync::oneshot;

use crate::{Error, Result};

/// A fetch in flight: the page's size in bytes and the page.
type Fetch<P> = AbortOnDrop<Result<(usize, P)>>;

/// Spawns page `n`'s fetch, which waits for `previous` before it asks the rate limiter and
/// fires `mine` when it has its slot.
type Start<P> = Box<dyn FnMut(u32, oneshot::Receiver<()>, oneshot::Sender<()>) -> Fetch<P> + Send>;

/// Pages `next..=last`, each fetched on its own task and yielded in order.
///
/// Fetches run on tasks so they go on (up to the client's rate limiter) while the consumer is
/// busy elsewhere, writing an earlier page; a future polled only by the consumer would stall
/// with it. What is started and not yet taken is bounded twice: at most `concurrency` pages,
/// and no more pages than fit in `budget` bytes at the largest page seen so far (always at
/// least one). The bytes bound is what keeps memory flat when the consumer is slower than
/// Knack: pages of large records would otherwise pile up `concurrency` deep. Pages take the
/// rate limiter's slots in page order, so the page the consumer needs next is never the one
/// sent last.
pub(crate) struct Prefetch<P> {
    // u64, so `last` may be u32::MAX without `next` overflowing past it.
    next: u64,
    last: u64,
    start: Start<P>,
    queue: VecDeque<Fetch<P>>,
    concurrency: usize,
    budget: usize,
    largest: usize,
    /// Resolves when the last page started has taken its slot of the rate limiter.
    turn: oneshot::Receiver<()>,
}

tokio::task_local! {
    /// Set on a page's fetch task: fired when it takes its slot of the rate limiter
    /// ([`took_limiter_slot`]), which lets the next page take the next one.
    static NEXT_TURN: RefCell<Option<oneshot::Sender<()>>>;
}

/// Called by the request path when a request has its rate-limiter slot. On a page's fetch task
/// it lets the next page's fetch go to the limiter; elsewhere, and on a retry, it does nothing.
pub(crate) fn took_limiter_slot() {
    let next = NEXT_TURN
        .try_with(|turn| turn.borrow_mut().take())
        .ok()
        .flatten();
    if let Some(next) = next {
        let _ = next.send(());
    }
}

impl<P: Send + 'static> Prefetch<P> {
    /// Pages `first..=last`; `fetch(n)` fetches page `n`, returning its size in bytes and the
    /// page. `largest` is the size of a page already seen (page 1), the first estimate. The
    /// first fetches start at once, on the current Tokio runtime.
    pub(crate) fn new<F, Fut>(
        first: u32,
        last: u32,
        concurrency: usize,
        budget: usize,
        largest: usize,
        mut fetch: F,
    ) -> Self
    where
        F: FnMut(u32) -> Fut + Send + 'static,
        Fut: Future<Output = Result<(usize, P)>> + Send + 'static,
    {
        let (_, turn) = oneshot::channel();
        let mut prefetch = Self {
            next: u64::from(first),
            last: u64::from(last),
            start: Box::new(move |n, previous: oneshot::Receiver<()>, mine| {
                let fetch = fetch(n);
                // Pages take the limiter's slots in page order. Tasks spawned together start in
                // no set order (Tokio runs the last one spawned first) and the limiter is not
                // fair, so page 4 could take the first slot and page 2 the third, leaving the
                // consumer to wait on page 2 with 3 and 4 done. A page whose predecessor ended
                // without a slot (an error, an abort) goes on: its `previous` is closed.
                AbortOnDrop(tokio::spawn(async move {
                    let _ = previous.await;
                    NEXT_TURN.scope(RefCell::new(Some(mine)), fetch).await
                }))
            }),
            queue: VecDeque::new(),
            concurrency: concurrency.max(1),
            budget,
            largest,
            turn,
        };
        // Start now: the stream is built when page 1 arrives, and its first poll comes only after
        // the consumer is done with page 1, which would leave the limiter's slots unused.
        prefetch.fill();
        prefetch
    }

    /// Whether one more page may be started.
    fn has_room(&self) -> bool {
        let held = self.queue.len();
        held == 0
            || (held < self.concurrency && (held + 1).saturating_mul(self.largest) <= self.budget)
    }

    fn fill(&mut self) {
        while self.next <= self.last && self.has_room() {
            // `next <= last`, which is a u32.
            let (mine, next_turn) = oneshot::channel();
            let previous = std::mem::replace(&mut self.turn, next_turn);
            let fetch = (self.start)(self.next as u32, previous, mine);
            self.queue.push_back(fetch);
            self.next += 1;
        }
    }
}

impl<P: Send + 'static> Stream for Prefetch<P> {
    type Item = Result<P>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        this.fill();
        let Some(front) = this.queue.front_mut() else {
            return Poll::Ready(None);
        };
        let joined = ready!(Pin::new(front).poll(cx));
        this.queue.pop_front();
        let item = match joined {
            Ok(Ok((bytes, page))) => {
                this.largest = this.largest.max(bytes);
                Ok(page)
            }
            Ok(Err(e)) => Err(e),
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => Err(Error::Decode {
                path: "a page of records".into(),
                message: format!("its fetch was cancelled ({e})"),
            }),
        };
        // Start the next fetch now, not when the consumer is done with this page.
        this.fill();
        Poll::Ready(Some(item))
    }
}

/// A spawned task that is aborted when its handle is dropped (a stream of them dropped part-way
/// leaves nothing running).
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl<T> Future for AbortOnDrop<T> {
    type Output = std::result::Result<T, tokio::task::JoinError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0).poll(cx)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    use futures::StreamExt;

    use super::*;

    /// Pages of `size` bytes each; counts fetches started.
    fn pages(size: usize, concurrency: usize, budget: usize) -> (Prefetch<u32>, Arc<AtomicUsize>) {
        let started = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&started);
        let stream = Prefetch::new(2, 50, concurrency, budget, size, move |n| {
            counter.fetch_add(1, Ordering::SeqCst);
            async move { Ok((size, n)) }
        });
        (stream, started)
    }

    /// Gives the spawned fetches time to run.
    async fn settle() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    #[tokio::test]
    async fn a_slow_consumer_holds_no_more_pages_than_fit_in_the_budget() {
        // Pages of 3 MB, 8 MiB budget: two fit, although four may be in flight.
        let (mut stream, started) = pages(3_000_000, 4, 8 << 20);
        assert_eq!(stream.next().await.unwrap().unwrap(), 2);
        settle().await;
        // Page 2 was taken; pages 3 and 4 are held or in flight, no more.
        assert_eq!(started.load(Ordering::SeqCst), 3);
        assert_eq!(stream.next().await.unwrap().unwrap(), 3);
        settle().await;
        assert_eq!(started.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn the_first_fetches_start_before_the_stream_is_polled() {
        // Built when page 1 arrives; the consumer may hold page 1 a while before polling.
        let (stream, started) = pages(1_000, 4, 8 << 20);
        assert_eq!(started.load(Ordering::SeqCst), 4);
        let (_big, started) = pages(3_000_000, 4, 8 << 20);
        assert_eq!(started.load(Ordering::SeqCst), 2, "still within the budget");
        drop(stream);
    }

    /// Each page waits a little before it "asks the limiter", later pages less: started at once,
    /// they would take their slots in reverse. The chain makes them take them in page order.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn pages_take_the_limiters_slots_in_page_order() {
        let order = Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = Arc::clone(&order);
        let mut stream = Prefetch::new(2, 9, 4, usize::MAX, 1, move |n| {
            let log = Arc::clone(&log);
            async move {
                tokio::time::sleep(Duration::from_millis(u64::from(20 - 2 * n))).await;
                log.lock().unwrap().push(n);
                took_limiter_slot();
                Ok((1, n))
            }
        });
        let mut pages = Vec::new();
        while let Some(page) = stream.next().await {
            pages.push(page.unwrap());
        }
        assert_eq!(pages, (2..=9).collect::<Vec<_>>());
        assert_eq!(*order.lock().unwrap(), (2..=9).collect::<Vec<_>>());
    }

    /// A page that ends without a slot (an error before its request) does not hold up the next.
    #[tokio::test]
    async fn a_page_that_fails_before_its_slot_lets_the_next_go() {
        let mut stream = Prefetch::new(2, 4, 4, usize::MAX, 1, |n| async move {
            if n == 2 {
                return Err(Error::InvalidQuery("no slot taken".into()));
            }
            took_limiter_slot();
            Ok((1, n))
        });
        assert!(stream.next().await.unwrap().is_err());
        assert_eq!(stream.next().await.unwrap().unwrap(), 3);
        assert_eq!(stream.next().await.unwrap().unwrap(), 4);
        assert!(stream.next().await.is_none());
    }

    #[tokio::test]
    async fn small_pages_are_bounded_by_the_count() {
        let (mut stream, started) = pages(1_000, 4, 8 << 20);
        stream.next().await.unwrap().unwrap();
        settle().await;
        assert_eq!(started.load(Ordering::SeqCst), 5);
    }

    #[tokio::test]
    async fn a_page_bigger_than_the_budget_is_still_fetched_one_at_a_time() {
        let (stream, started) = pages(20 << 20, 4, 8 << 20);
        let mut stream = stream.enumerate();
        while let Some((i, page)) = stream.next().await {
            assert_eq!(page.unwrap(), i as u32 + 2);
            settle().await;
            // The one taken, and the next one: never two ahead.
            assert!(started.load(Ordering::SeqCst) <= i + 2);
        }
        assert_eq!(started.load(Ordering::SeqCst), 49);
    }
}
