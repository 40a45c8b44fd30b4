//! How far the driver reads ahead of a slow sink: 3 MiB of batches for a source that reads only
//! when asked, and one batch for a source that fetches ahead on its own (a Knack client), so
//! the two bounds do not add up.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::stream::{self, StreamExt};
use knack_etl::{run, BatchOutcome, BatchStream, Error, Sink, Source, WriteMode};
use serde_json::Value;
use tokio::sync::Notify;

const MIB: usize = 1 << 20;

/// 40 batches of one 1 MiB item; counts the batches taken from it.
struct Blobs {
    taken: Arc<AtomicUsize>,
    read_ahead: usize,
}

#[async_trait]
impl Source<Value> for Blobs {
    fn describe(&self) -> String {
        "blobs".into()
    }
    async fn batches(&self) -> Result<BatchStream<Value>, Error> {
        let taken = Arc::clone(&self.taken);
        Ok(stream::iter(0..40)
            .map(move |_| {
                taken.fetch_add(1, Ordering::SeqCst);
                Ok(vec![Value::String("x".repeat(MIB))])
            })
            .boxed())
    }
    fn read_ahead_bytes(&self) -> usize {
        self.read_ahead
    }
}

/// A sink whose first write waits until it is let go.
struct Stuck(Arc<Notify>, bool);

#[async_trait]
impl Sink<Value> for Stuck {
    fn describe(&self) -> String {
        "a slow sink".into()
    }
    async fn write(&mut self, batch: Vec<Value>) -> Result<BatchOutcome, Error> {
        if !self.1 {
            self.1 = true;
            self.0.notified().await;
        }
        Ok(BatchOutcome {
            written: batch.len() as u64,
            ..BatchOutcome::default()
        })
    }
    async fn finish(&mut self, _mode: WriteMode) -> Result<u64, Error> {
        Ok(0)
    }
}

/// Runs 40 batches into a sink stuck on its first write; returns how many batches the driver
/// had taken from the source while the sink was stuck.
async fn taken_while_stuck(source_read_ahead: usize) -> usize {
    let taken = Arc::new(AtomicUsize::new(0));
    let source = Blobs {
        taken: Arc::clone(&taken),
        read_ahead: source_read_ahead,
    };
    let release = Arc::new(Notify::new());
    let mut sink = Stuck(Arc::clone(&release), false);
    let watch = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let n = taken.load(Ordering::SeqCst);
        release.notify_one();
        n
    };
    let (report, n) = tokio::join!(
        run(&source, |b| Ok((b, 0)), &mut sink, WriteMode::Upsert),
        watch
    );
    assert_eq!(report.unwrap().written, 40);
    n
}

#[tokio::test]
async fn a_source_that_reads_when_asked_is_read_up_to_3_mib_ahead() {
    // Batches of a little over 1 MiB: the one being written and one more hold permits for
    // them (two fit in 3 MiB), a third waits for room.
    let n = taken_while_stuck(0).await;
    assert_eq!(n, 3, "{n} batches taken");
}

#[tokio::test]
async fn a_source_that_fetches_ahead_itself_gets_one_batch_of_hand_over() {
    // The batch being written and the next one, waiting to be handed over: the source's own
    // read-ahead (8 MiB here, more than the driver's 3) is the rest of the bound.
    let n = taken_while_stuck(8 * MIB).await;
    assert_eq!(n, 2, "{n} batches taken");
}
