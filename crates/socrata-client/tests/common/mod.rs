//! Setup shared by the tests that run against plain wiremock servers.

use socrata_client::Client;
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Mounted last: any request no other mock claimed fails loudly.
pub async fn catch_all(server: &MockServer) {
    Mock::given(wiremock::matchers::any())
        .respond_with(
            ResponseTemplate::new(418).set_body_string("UNEXPECTED REQUEST: no mock matched"),
        )
        .mount(server)
        .await;
}

/// A client of `server` with default settings and no credentials.
pub fn plain_client(server: &MockServer) -> Client {
    Client::builder().domain(server.uri()).build().unwrap()
}
