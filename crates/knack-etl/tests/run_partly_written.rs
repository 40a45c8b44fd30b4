//! The driver's accounting when a sink reports a batch written in part (`Error::PartlyWritten`).

use std::collections::VecDeque;

use async_trait::async_trait;
use futures::stream::{self, StreamExt};
use knack_etl::{run, BatchOutcome, BatchStream, Error, Sink, Source, WriteMode};

struct Batches(Vec<Vec<u32>>);

#[async_trait]
impl Source<u32> for Batches {
    fn describe(&self) -> String {
        "numbers".into()
    }
    async fn batches(&self) -> Result<BatchStream<u32>, Error> {
        Ok(stream::iter(self.0.clone().into_iter().map(Ok)).boxed())
    }
}

/// Answers each `write` with the next scripted result.
struct Scripted {
    answers: VecDeque<Result<BatchOutcome, Error>>,
    finished: bool,
}

impl Scripted {
    fn new(answers: impl IntoIterator<Item = Result<BatchOutcome, Error>>) -> Self {
        Self {
            answers: answers.into_iter().collect(),
            finished: false,
        }
    }
}

#[async_trait]
impl Sink<u32> for Scripted {
    fn describe(&self) -> String {
        "scripted sink".into()
    }
    async fn write(&mut self, _batch: Vec<u32>) -> Result<BatchOutcome, Error> {
        self.answers.pop_front().expect("a write nobody scripted")
    }
    async fn finish(&mut self, _mode: WriteMode) -> Result<u64, Error> {
        self.finished = true;
        Ok(0)
    }
}

fn written(n: u64) -> Result<BatchOutcome, Error> {
    Ok(BatchOutcome {
        written: n,
        ..BatchOutcome::default()
    })
}

fn source() -> Batches {
    Batches(vec![
        (0..5).collect(),
        (5..10).collect(),
        (10..15).collect(),
    ])
}

#[tokio::test]
async fn a_partly_written_batch_counts_its_written_items_and_fails_with_the_inner_error() {
    let mut sink = Scripted::new([
        written(5),
        Err(Error::after_writing(
            3,
            Error::Staging("the destination refused".into()),
        )),
    ]);

    let failure = run(&source(), |b| Ok((b, 0)), &mut sink, WriteMode::REPLACE)
        .await
        .unwrap_err();

    let r = &failure.report;
    assert_eq!((r.written, r.failed, r.deleted), (8, 2, 0), "{r}");
    assert!(r.read >= 10, "{r}");
    assert!(
        matches!(&*failure.error, Error::Staging(m) if m == "the destination refused"),
        "the inner error, unwrapped: {:?}",
        failure.error
    );
    assert!(!sink.finished, "a failed replace never finishes");
    assert!(r
        .notes
        .iter()
        .any(|n| n.contains("keeps its previous records")));
}

#[tokio::test]
async fn a_sink_claiming_more_than_its_batch_is_capped_at_the_batch() {
    let mut sink = Scripted::new([Err(Error::after_writing(9, Error::Refused("stop".into())))]);
    let failure = run(&source(), |b| Ok((b, 0)), &mut sink, WriteMode::Upsert)
        .await
        .unwrap_err();
    assert_eq!((failure.report.written, failure.report.failed), (5, 0));
}

#[tokio::test]
async fn any_other_error_still_fails_the_whole_batch() {
    let mut sink = Scripted::new([written(5), Err(Error::Staging("down".into()))]);
    let failure = run(&source(), |b| Ok((b, 0)), &mut sink, WriteMode::Upsert)
        .await
        .unwrap_err();
    assert_eq!((failure.report.written, failure.report.failed), (5, 5));
}

#[test]
fn partly_written_names_both_and_delegates_retryability() {
    let inner = socrata_client::Error::Timeout {
        operation: "upsert to abcd-1234".into(),
    };
    let err = Error::after_writing(40, inner);
    let text = err.to_string();
    assert!(text.contains("40 item(s)"), "{text}");
    assert!(text.contains("abcd-1234"), "{text}");
    assert!(err.is_retryable(), "a timeout is worth retrying");

    let err = Error::after_writing(40, Error::Refused("no".into()));
    assert!(matches!(err, Error::PartlyWritten { written: 40, .. }));
    assert!(!err.is_retryable());

    let err = Error::after_writing(0, Error::Refused("no".into()));
    assert!(
        matches!(err, Error::Refused(_)),
        "nothing written: the error as is"
    );
}
