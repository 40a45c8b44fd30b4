//! Connections that fail below HTTP, which wiremock cannot fake.

use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// A URI on loopback where nothing listens: connecting is refused, so the
/// request surely was never sent.
pub fn refused_uri() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let addr = listener.local_addr().expect("a bound port has an address");
    drop(listener);
    format!("http://{addr}")
}

/// A server that accepts each connection, reads the start of the request,
/// and closes it without answering: the request was sent, the answer is lost.
/// Dropping it stops the server.
#[derive(Debug)]
pub struct DroppingServer {
    uri: String,
    task: JoinHandle<()>,
}

impl DroppingServer {
    /// Starts it on a loopback port.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        let uri = format!("http://{}", listener.local_addr().expect("bound"));
        let task = tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let mut buf = [0u8; 1024];
                let _ = sock.read(&mut buf).await;
                drop(sock);
            }
        });
        Self { uri, task }
    }

    /// Its base URI (`http://127.0.0.1:port`).
    pub fn uri(&self) -> &str {
        &self.uri
    }
}

impl Drop for DroppingServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}
