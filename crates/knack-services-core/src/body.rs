//! Reading an answer's body into one buffer as it arrives.

use bytes::Bytes;

/// The most a `Content-Length` header may reserve up front, in bytes (64 MiB). A larger body
/// still arrives whole, its buffer grown as it comes, so a wrong header cannot reserve memory
/// that the body never fills.
pub const MAX_BODY_PREALLOCATION: usize = 64 << 20;

/// The whole body of `resp`, in one buffer sized from its `Content-Length` when it has one.
///
/// `reqwest::Response::bytes` keeps the chunks as they arrive, then copies them into one buffer
/// at the end, so a page of megabytes is held twice at that moment and copied once more. Here
/// each chunk is copied into the final buffer as it arrives and dropped; a body that arrives in
/// one chunk is that chunk, not copied at all.
///
/// # Errors
/// reqwest's, as [`reqwest::Response::bytes`] returns them: the connection dropped or the
/// client's timeout passed while the body was arriving, or a body shorter than its
/// `Content-Length`.
pub async fn read_body(mut resp: reqwest::Response) -> reqwest::Result<Bytes> {
    let expected = resp
        .content_length()
        .map_or(0, |n| usize::try_from(n).unwrap_or(usize::MAX));
    let Some(first) = resp.chunk().await? else {
        return Ok(Bytes::new());
    };
    let Some(second) = resp.chunk().await? else {
        return Ok(first);
    };
    let mut buffer = Vec::with_capacity(
        expected
            .min(MAX_BODY_PREALLOCATION)
            .max(first.len() + second.len()),
    );
    buffer.extend_from_slice(&first);
    buffer.extend_from_slice(&second);
    drop((first, second));
    while let Some(chunk) = resp.chunk().await? {
        buffer.extend_from_slice(&chunk);
    }
    Ok(buffer.into())
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    /// Serves one answer, written as `head` then `parts`, each part flushed on its own.
    async fn serve_once(head: String, parts: Vec<Vec<u8>>) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = [0u8; 4096];
            let _ = socket.read(&mut request).await.unwrap();
            socket.write_all(head.as_bytes()).await.unwrap();
            for part in parts {
                socket.write_all(&part).await.unwrap();
                socket.flush().await.unwrap();
                tokio::task::yield_now().await;
            }
        });
        url
    }

    async fn get(url: &str) -> reqwest::Result<Bytes> {
        read_body(reqwest::get(url).await?).await
    }

    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i % 251) as u8).collect()
    }

    #[tokio::test]
    async fn a_sized_body_of_megabytes_arrives_whole() {
        let body = pattern(3 << 20);
        let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n", body.len());
        let parts = body.chunks(100_000).map(<[u8]>::to_vec).collect();
        assert_eq!(get(&serve_once(head, parts).await).await.unwrap(), body);
    }

    #[tokio::test]
    async fn a_chunked_body_without_a_length_arrives_whole() {
        let body = pattern(700_000);
        let mut parts: Vec<Vec<u8>> = body
            .chunks(65_536)
            .map(|c| [format!("{:x}\r\n", c.len()).as_bytes(), c, b"\r\n"].concat())
            .collect();
        parts.push(b"0\r\n\r\n".to_vec());
        let head = "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n".to_string();
        assert_eq!(get(&serve_once(head, parts).await).await.unwrap(), body);
    }

    #[tokio::test]
    async fn an_empty_or_one_chunk_body_is_returned_as_is() {
        let head = "HTTP/1.1 204 No Content\r\n\r\n".to_string();
        assert!(get(&serve_once(head, vec![]).await)
            .await
            .unwrap()
            .is_empty());
        let head = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n".to_string();
        let url = serve_once(head, vec![b"[]".to_vec()]).await;
        assert_eq!(&get(&url).await.unwrap()[..], b"[]");
    }

    #[tokio::test]
    async fn a_body_cut_short_of_its_length_is_an_error() {
        // The server closes the connection after half the promised bytes.
        let head = "HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n".to_string();
        let url = serve_once(head, vec![pattern(500)]).await;
        assert!(get(&url).await.is_err());
    }
}
