//! Formatter throughput in records per second, over the golden fixtures'
//! records (object_3: every field type; view_1: 23 typical fields) repeated
//! to 10,000 records.

// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use knack_client::{Container, Formatter, Metadata, Record};
use serde_json::Value;

const RECORDS: usize = 10_000;

fn fixture(path: &str) -> Value {
    let full = format!("{}/tests/fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(full).expect("fixture")).expect("json")
}

fn setup(dir: &str, records: &str, container: Container) -> (Formatter, Vec<Record>) {
    let metadata = Metadata::from_json(fixture(&format!("{dir}/metadata.json"))).expect("metadata");
    let formatter = Formatter::new(&metadata, &container).expect("formatter");
    let base: Vec<Record> =
        serde_json::from_value(fixture(&format!("{dir}/{records}"))).expect("records");
    let records = base.iter().cycle().take(RECORDS).cloned().collect();
    (formatter, records)
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("format");
    group.throughput(Throughput::Elements(RECORDS as u64));
    group.sample_size(20);
    let cases = [
        (
            "object_3",
            setup(
                "knackpy-tests",
                "records_object_3.json",
                Container::object("object_3").expect("container"),
            ),
        ),
        (
            "view_1",
            setup(
                "generated",
                "records_view_1.json",
                Container::view("scene_1", "view_1").expect("container"),
            ),
        ),
    ];
    for (name, (formatter, records)) in &cases {
        group.bench_function(*name, |b| {
            b.iter(|| {
                for record in records {
                    std::hint::black_box(formatter.format(record).expect("format"));
                }
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
