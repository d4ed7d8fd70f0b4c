//! Store kernels on the hot paths: GeoPackage blob decoding (every feature a tile reads)
//! and R-tree bbox queries (every tile request).

use criterion::{criterion_group, criterion_main, Criterion};
use formosa_store::gpkg::geometry_blob;
use formosa_store::memory::index::SpatialIndex;
use formosa_store::{Envelope, Geometry};
use std::hint::black_box;

fn parcel(x: f64, y: f64) -> Geometry {
    let d = 0.0002;
    Geometry::MultiPolygon(vec![vec![vec![[x, y, 0.0], [x + d, y, 0.0], [x + d, y + d * 1.3, 0.0], [x + d * 0.1, y + d * 1.2, 0.0], [x, y, 0.0]]]])
}

fn blobs(c: &mut Criterion) {
    let g = parcel(121.5, 25.03);
    let blob = geometry_blob::encode(&g, 4326, false);
    c.bench_function("gpkg blob encode (parcel)", |b| b.iter(|| geometry_blob::encode(black_box(&g), 4326, false)));
    c.bench_function("gpkg blob decode (parcel)", |b| b.iter(|| geometry_blob::decode(black_box(&blob)).unwrap()));
}

fn rtree(c: &mut Criterion) {
    // 1,000,000 parcel envelopes on a 1000 × 1000 grid over Taipei (≈ 22 m apart).
    let entries: Vec<(i64, Envelope)> = (0..1_000_000i64)
        .map(|i| {
            let (x, y) = (121.45 + (i % 1000) as f64 * 0.0002, 24.98 + (i / 1000) as f64 * 0.0002);
            (i, Envelope { min_x: x, min_y: y, max_x: x + 0.00018, max_y: y + 0.00018 })
        })
        .collect();
    let mut group = c.benchmark_group("rtree");
    group.sample_size(10);
    group.bench_function("bulk load 1M envelopes", |b| b.iter(|| SpatialIndex::bulk_load(black_box(entries.clone()))));
    let index = SpatialIndex::bulk_load(entries);
    // A z15 tile over Taipei is about 0.011° wide.
    let tile = Envelope { min_x: 121.50, min_y: 25.03, max_x: 121.511, max_y: 25.04 };
    group.bench_function("query z15-sized bbox (≈3,000 hits)", |b| b.iter(|| index.query(black_box(&tile)).len()));
    group.finish();
}

criterion_group!(benches, blobs, rtree);
criterion_main!(benches);
