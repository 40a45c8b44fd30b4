//! The whole pipeline in a few seconds, with no account and no network:
//!
//! ```sh
//! cargo run --example quickstart
//! ```
//!
//! It starts fake Knack, PostgREST, Socrata and ArcGIS Online servers on
//! 127.0.0.1, generates a demo Knack app, and moves its records with the real
//! clients and pipelines: metadata → PostgREST, records → PostgREST → Socrata
//! and ArcGIS (full runs), then edits a few records in Knack and runs again
//! incrementally. The code it runs is `examples/src/quickstart.rs`.

#[tokio::main]
async fn main() -> knack_services_examples::Result<()> {
    knack_services_examples::quickstart::run(&mut std::io::stdout()).await?;
    Ok(())
}
