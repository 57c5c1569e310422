//! Recorder throughput for output-heavy streams: what a `cat` of a big log costs the bastion.
//!
//! `cargo bench -p recorder --bench write`. Each iteration records 16 MiB of coloured text with
//! some multi-byte characters, in 32 KiB chunks (a typical SSH channel data packet run), to a
//! fresh file in a temp dir, with a checkpoint check per chunk and a final seal (fsync included).

#![allow(clippy::expect_used)] // benchmark set-up failing should stop the run

use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use recorder::{BastionMeta, ChannelKind, Header, Recorder, RecorderOptions, SigningKey, Term};

const STREAM: usize = 16 * 1024 * 1024;
const CHUNK: usize = 32 * 1024;

fn stream() -> Vec<u8> {
    let line =
        "\x1b[32m2025-01-02T03:04:05Z\x1b[0m INFO request id=42 patient=██ took 12ms → ok ✓\r\n";
    line.as_bytes()
        .iter()
        .copied()
        .cycle()
        .take(STREAM)
        .collect()
}

fn header() -> Header {
    Header {
        term: Term {
            cols: 120,
            rows: 40,
            term_type: None,
        },
        timestamp: Some(1_700_000_000),
        ..Header::default()
    }
}

fn meta() -> BastionMeta {
    BastionMeta {
        session: "bench".into(),
        channel: 0,
        user: "bench".into(),
        cert_serial: None,
        source: "127.0.0.1:1".into(),
        target: "t".into(),
        login: "l".into(),
        kind: ChannelKind::Shell,
    }
}

fn write(c: &mut Criterion) {
    let data = stream();
    let key = Arc::new(SigningKey::from_seed(&[3; 32]).expect("seed"));
    let dir = tempfile::tempdir().expect("tempdir");
    let mut group = c.benchmark_group("recorder");
    group.throughput(Throughput::Bytes(STREAM as u64));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(15));
    let mut n = 0u64;
    group.bench_function("output_16MiB_32KiB_chunks", |b| {
        b.iter(|| {
            n += 1;
            let path = dir.path().join(format!("{n}.cast"));
            let mut rec = Recorder::create(
                &path,
                &header(),
                &meta(),
                key.clone(),
                RecorderOptions::default(),
            )
            .expect("create");
            for (i, chunk) in data.chunks(CHUNK).enumerate() {
                // 1 ms of simulated time per chunk: a checkpoint every 1000 chunks.
                let now = Duration::from_millis(i as u64);
                rec.output(now, chunk).expect("output");
                rec.checkpoint_if_due(now).expect("checkpoint");
            }
            let seal = rec.seal(Duration::from_secs(10)).expect("seal");
            std::fs::remove_file(&path).ok();
            std::fs::remove_file(recorder::sidecar_path(&path)).ok();
            seal
        })
    });
    group.finish();
}

criterion_group!(benches, write);
criterion_main!(benches);
