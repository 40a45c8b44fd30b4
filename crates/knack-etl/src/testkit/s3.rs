//! moto's standalone S3 server, for the backups' tests: started from the virtualenv
//! `.ci/python-env` builds (`AKS_TEST_VENV`) on a free loopback port, and killed when its guard
//! drops.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use object_store::aws::AmazonS3Builder;
use object_store::ObjectStore;

/// A running moto server; dropping it kills the process.
#[derive(Debug)]
pub struct S3Server {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub endpoint: String,
}

impl S3Server {
    /// Starts moto from the virtualenv `AKS_TEST_VENV` names. Without it, or without moto in it,
    /// it panics with one line saying how to get it: a test that uses S3 either tests S3 or
    /// fails, never passes unchecked. (Such tests are `#[ignore]`d so that plain `cargo test`
    /// lists them as ignored; `scripts/test` prepares the venv and runs them.)
    pub fn start() -> Self {
        let venv = match std::env::var("AKS_TEST_VENV") {
            Ok(v) if !v.trim().is_empty() => PathBuf::from(v),
            _ => panic!(
                "AKS_TEST_VENV is not set: the S3 tests need moto; run scripts/test (it builds the \
                 Python tools), or export AKS_TEST_VENV=$(bash .ci/python-env)"
            ),
        };
        let bin = venv.join("bin").join("moto_server");
        assert!(
            bin.is_file(),
            "{} is missing: AKS_TEST_VENV must be the virtualenv .ci/python-env prints",
            bin.display()
        );
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("no free loopback port")
            .port();
        let child = Command::new(&bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let server = Self {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "moto_server did not listen on port {port} within 60 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        server
    }

    /// Creates a bucket (object_store cannot): a plain `PUT /<bucket>`, which moto accepts
    /// without signing.
    pub fn create_bucket(&self, bucket: &str) {
        let host = self.endpoint.trim_start_matches("http://");
        let mut s = TcpStream::connect(host).unwrap();
        write!(
            s,
            "PUT /{bucket} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut answer = String::new();
        s.read_to_string(&mut answer).unwrap();
        assert!(
            answer.starts_with("HTTP/1.1 200"),
            "create bucket: {answer}"
        );
    }

    /// The AWS variables that point an S3 client (object_store's `from_env`, `aks`) at this
    /// server: endpoint, plain http allowed, path-style requests, region and dummy keys.
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ENDPOINT_URL", self.endpoint.as_str()),
            ("AWS_ALLOW_HTTP", "true"),
            ("AWS_VIRTUAL_HOSTED_STYLE_REQUEST", "false"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    /// An object store for `bucket` on this server: path-style requests, plain http, dummy keys.
    pub fn store(&self, bucket: &str) -> Arc<dyn ObjectStore> {
        Arc::new(
            AmazonS3Builder::new()
                .with_endpoint(&self.endpoint)
                .with_allow_http(true)
                .with_virtual_hosted_style_request(false)
                .with_bucket_name(bucket)
                .with_region("us-east-1")
                .with_access_key_id("testing")
                .with_secret_access_key("testing")
                .build()
                .unwrap(),
        )
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
