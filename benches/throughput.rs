//! Normalize + detect throughput per provider shape, against the naive baseline of parsing every
//! record into a `serde_json::Value` (and, for EKS and AKS, also the audit Event their records
//! carry as a string).
//!
//! Run with `cargo bench --bench throughput`. Set `NODEPORT_WATCH_BENCH_EVENTS` to change the
//! mix size (default 1,000,000 events per shape).

mod mix;

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use nodeport_watch::alert::Router;
use nodeport_watch::clock::SystemClock;
use nodeport_watch::detect::Detector;
use nodeport_watch::normalize::RecordContext;
use nodeport_watch::pipeline::{BatchOutcome, Pipeline, RecordLabel};

fn events_per_shape() -> u64 {
    std::env::var("NODEPORT_WATCH_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000)
}

fn pipeline() -> Pipeline {
    Pipeline::new(
        "bench",
        Arc::new(Detector::default()),
        Arc::new(Router::default()),
        false,
        Arc::new(SystemClock),
    )
}

fn detect_all(pipeline: &Pipeline, records: &[String]) -> BatchOutcome {
    let mut out = BatchOutcome::default();
    let label = RecordLabel {
        stream: "bench",
        record_id: None,
    };
    for r in records {
        pipeline.process_bytes(r.as_bytes(), &RecordContext::default(), label, &mut out);
    }
    out
}

fn parse_all_into_values(records: &[String]) -> usize {
    records
        .iter()
        .filter_map(|r| serde_json::from_str::<serde_json::Value>(r).ok())
        .count()
}

/// The baseline plus the audit Event that EKS (`message`) and AKS (`properties.log`) records carry
/// as a JSON string, which the plain baseline leaves unparsed: the work any reader of those
/// shapes must do before it can look at the Event.
fn parse_all_with_embedded_events(records: &[String]) -> usize {
    records
        .iter()
        .filter_map(|r| serde_json::from_str::<serde_json::Value>(r).ok())
        .filter_map(|record| {
            let embedded = record
                .get("message")
                .or_else(|| record.pointer("/properties/log"))?
                .as_str()?;
            serde_json::from_str::<serde_json::Value>(embedded).ok()
        })
        .count()
}

fn throughput(c: &mut Criterion) {
    let n = events_per_shape();
    let pipeline = pipeline();
    for shape in mix::Shape::ALL {
        let records = mix::records(shape, n);
        let bytes: u64 = records.iter().map(|r| r.len() as u64).sum();
        // Sanity: the mix holds exposures and the detector finds them.
        let found = detect_all(&pipeline, &records);
        assert_eq!(found.stats.records, n);
        assert!(
            found.stats.alerts > 0,
            "the mix must contain NodePort creates"
        );
        eprintln!(
            "{}: {n} records, {:.1} MB, {} alerts, {} parsed ({} rejected unparsed by the prefilter)",
            shape.name(),
            bytes as f64 / 1e6,
            found.stats.alerts,
            found.stats.events,
            found.stats.irrelevant
        );

        // Events per second; MB/s is the byte total above divided by the same time.
        let mut group = c.benchmark_group(format!("shape/{}", shape.name()));
        group.sample_size(10);
        group.throughput(Throughput::Elements(n));
        group.bench_function("normalize+detect", |b| {
            b.iter(|| black_box(detect_all(&pipeline, black_box(&records))))
        });
        group.bench_function("baseline: serde_json::Value", |b| {
            b.iter(|| black_box(parse_all_into_values(black_box(&records))))
        });
        if shape.embeds_event() {
            group.bench_function("baseline: serde_json::Value, embedded Event too", |b| {
                b.iter(|| black_box(parse_all_with_embedded_events(black_box(&records))))
            });
        }
        group.finish();
    }
}

criterion_group!(benches, throughput);
criterion_main!(benches);
