//! `buffer_copy` over scattered sequences against one `copy_from_slice` of the same
//! bytes, with the ratio printed at the end (`cargo bench -p strait-vocab`).

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{Criterion, Throughput};
use strait_vocab::{buffer_copy, ConstBuffer, MutableBuffer};

const TOTAL: usize = 64 * 1024;
const GROUP: &str = "buffer_copy_64KiB";

/// (name, source region size, destination region size)
const SHAPES: &[(&str, usize, usize)] = &[
    ("1x64KiB_to_1x64KiB", TOTAL, TOTAL),
    ("16x4KiB_to_1x64KiB", 4096, TOTAL),
    ("1024x64B_to_64x1KiB", 64, 1024),
    ("4096x16B_to_4096x16B", 16, 16),
];

fn output_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("criterion")
}

fn bench(c: &mut Criterion) {
    let src_bytes: Vec<u8> = (0..TOTAL).map(|i| i as u8).collect();
    let mut dst_bytes = vec![0u8; TOTAL];
    let mut group = c.benchmark_group(GROUP);
    group.throughput(Throughput::Bytes(TOTAL as u64));
    group.bench_function("copy_from_slice", |b| {
        b.iter(|| {
            dst_bytes.copy_from_slice(black_box(&src_bytes));
            black_box(&dst_bytes);
        })
    });
    for &(name, src_chunk, dst_chunk) in SHAPES {
        let src: Vec<ConstBuffer<'_>> = src_bytes.chunks(src_chunk).map(ConstBuffer::new).collect();
        group.bench_function(name, |b| {
            let mut dst: Vec<MutableBuffer<'_>> = dst_bytes
                .chunks_mut(dst_chunk)
                .map(MutableBuffer::new)
                .collect();
            b.iter(|| black_box(buffer_copy(&mut dst, black_box(&src), usize::MAX)))
        });
    }
    group.finish();
}

fn mean_ns(id: &str) -> Option<f64> {
    let path = output_dir().join(GROUP).join(id).join("new/estimates.json");
    let text = std::fs::read_to_string(path).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    json["mean"]["point_estimate"].as_f64()
}

fn main() {
    let mut criterion = Criterion::default()
        .output_directory(&output_dir())
        .configure_from_args();
    bench(&mut criterion);
    criterion.final_summary();

    let Some(base) = mean_ns("copy_from_slice") else {
        return; // `--list` or a filter that skipped the baseline
    };
    println!("\n{GROUP}: ratio to one copy_from_slice of the same bytes (lower is better)");
    println!("{:<24} {:>12} {:>8}", "shape", "mean", "ratio");
    println!("{:<24} {:>9.0} ns {:>8.2}", "copy_from_slice", base, 1.0);
    for &(name, _, _) in SHAPES {
        if let Some(ns) = mean_ns(name) {
            println!("{name:<24} {ns:>9.0} ns {:>8.2}", ns / base);
        }
    }
}
