//! The page-stream state machine the clients share (object_store's
//! `stream_paginated` is the model).

use std::future::Future;

use futures::stream::{self, Stream};

/// Where a paged listing stands.
enum PageState<S, P> {
    Start(S),
    HasMore(S, P),
    Done,
}

/// A stream of pages: `op(state, token)` fetches one page given the token
/// the previous page returned (`None` for the first) and returns the page,
/// the new state and the next token (`None` when this was the last page).
/// The stream ends after the last page or at the first error.
pub fn paginate<S, P, T, E, F, Fut>(state: S, op: F) -> impl Stream<Item = Result<T, E>>
where
    F: Fn(S, Option<P>) -> Fut + Clone,
    Fut: Future<Output = Result<(T, S, Option<P>), E>>,
{
    stream::try_unfold(PageState::Start(state), move |st| {
        let op = op.clone();
        async move {
            let (s, token) = match st {
                PageState::Start(s) => (s, None),
                PageState::HasMore(s, p) => (s, Some(p)),
                PageState::Done => return Ok(None),
            };
            let (page, s, next) = op(s, token).await?;
            let st = match next {
                Some(p) => PageState::HasMore(s, p),
                None => PageState::Done,
            };
            Ok(Some((page, st)))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::TryStreamExt;

    #[tokio::test]
    async fn walks_the_tokens_and_stops_at_the_last_page_or_an_error() {
        let pages: Vec<u32> = paginate(0u32, |calls, token: Option<u32>| async move {
            let n = token.unwrap_or(1);
            Ok::<_, String>((n, calls + 1, (n < 3).then_some(n + 1)))
        })
        .try_collect()
        .await
        .unwrap();
        assert_eq!(pages, vec![1, 2, 3]);
        let err = paginate((), |(), token: Option<u32>| async move {
            match token {
                None => Ok((1, (), Some(2))),
                Some(_) => Err("page 2 failed"),
            }
        })
        .try_collect::<Vec<u32>>()
        .await
        .unwrap_err();
        assert_eq!(err, "page 2 failed");
    }
}
