"""`/metrics` read by Prometheus's own text-format parser (prometheus_client, Debian's
python3-prometheus-client): it parses, it carries the metric families the README
documents with the types they are documented with, and its counters move as requests
are made."""

import math

from prometheus_client.parser import text_string_to_metric_families

from support import CENTRE_LONLAT

# Every family the README's metrics table lists, with its type.
DOCUMENTED = {
    "formosa_http_requests": "counter",
    "formosa_http_request_duration_seconds": "histogram",
    "formosa_cache_hits": "counter",
    "formosa_cache_misses": "counter",
    "formosa_cache_evictions": "counter",
    "formosa_cache_bytes": "gauge",
    "formosa_cache_entries": "gauge",
    "formosa_build_queue_depth": "gauge",
    "formosa_build_wait_seconds": "histogram",
    "formosa_build_seconds": "histogram",
    "formosa_builds_inline": "counter",
    "formosa_builds_cancelled": "counter",
    "formosa_builds_timed_out": "counter",
    "formosa_builds_refused": "counter",
    "formosa_changes_applied": "counter",
    "formosa_tiles_invalidated": "counter",
    "formosa_reimports": "counter",
    "formosa_sse_subscribers": "gauge",
    "formosa_sse_events": "counter",
    "formosa_sse_lagged": "counter",
    "formosa_sse_delivery_lag_seconds": "histogram",
    "formosa_store_bytes": "gauge",
    "formosa_process_resident_memory_bytes": "gauge",
    "formosa_layer_features": "gauge",
    "formosa_layers_in_memory": "gauge",
    "formosa_imports_running": "gauge",
    "formosa_import_rows_done": "gauge",
    "formosa_import_rows_total": "gauge",
}

# Labelled by the layer being imported: a family with no series is not exposed, so these
# appear only while an import runs (cli/tests/import_progress.rs watches them then).
WHILE_IMPORTING = {"formosa_import_rows_done", "formosa_import_rows_total"}


def scrape(base, get):
    r = get(f"{base}/metrics")
    assert r.status == 200
    assert r.content_type.startswith("text/plain; version=0.0.4")
    families = {f.name: f for f in text_string_to_metric_families(r.text())}
    samples = {}
    for f in families.values():
        for s in f.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return families, samples


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def tile_at(lon, lat, z):
    n = 2**z
    r = math.radians(lat)
    return int((lon + 180) / 360 * n), int((1 - math.log(math.tan(r) + 1 / math.cos(r)) / math.pi) / 2 * n)


def test_metrics_parse_with_the_documented_families(base, get):
    # Requests are counted once answered: one before the first scrape.
    assert get(f"{base}/health").status == 200
    families, samples = scrape(base, get)
    for name, kind in DOCUMENTED.items():
        if name in WHILE_IMPORTING and name not in families:
            continue
        assert name in families, f"{name} is missing from /metrics"
        assert families[name].type == kind, f"{name} is a {families[name].type}, documented as {kind}"
    assert value(samples, "formosa_process_resident_memory_bytes") > 10 * 2**20
    assert value(samples, "formosa_layer_features", layer="cadastral") > 1000
    assert ("formosa_imports_running", ()) in samples and value(samples, "formosa_imports_running") == 0
    # Histogram buckets are cumulative and end in +Inf = count.
    buckets = sorted(((float(dict(k[1])["le"]), v) for k, v in samples.items() if k[0] == "formosa_build_seconds_bucket" and dict(k[1])["kind"] == "vector_tile"))
    assert buckets and buckets[-1][0] == math.inf
    assert all(a[1] <= b[1] for a, b in zip(buckets, buckets[1:]))
    assert buckets[-1][1] == value(samples, "formosa_build_seconds_count", kind="vector_tile")


def test_counters_move_as_requests_are_made(base, get):
    x, y = tile_at(*CENTRE_LONLAT, 16)
    tile = f"{base}/tiles/basemap/16/{x}/{y}.mvt"
    wms = (
        f"{base}/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=basemap&STYLES=&CRS=CRS:84"
        f"&BBOX={CENTRE_LONLAT[0] - 0.003},{CENTRE_LONLAT[1] - 0.002},{CENTRE_LONLAT[0] + 0.003},{CENTRE_LONLAT[1] + 0.002}&WIDTH=300&HEIGHT=200&FORMAT=image/png"
    )
    _, before = scrape(base, get)
    assert get(tile).status == 200
    assert get(tile).status == 200  # cached now: a hit
    assert get(wms).status == 200
    assert get(f"{base}/tiles/nosuchlayer/16/{x}/{y}.mvt").status == 404
    _, after = scrape(base, get)

    def moved(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("formosa_http_requests_total", route="vector_tile", status="200") == 2
    assert moved("formosa_http_requests_total", route="vector_tile", status="404") == 1
    assert moved("formosa_http_requests_total", route="wms_map", status="200") == 1
    assert moved("formosa_http_request_duration_seconds_count", route="vector_tile") == 3
    assert moved("formosa_cache_hits_total", kind="mvt") >= 1
    assert moved("formosa_build_seconds_count", kind="wms_map") == 1
    assert moved("formosa_build_wait_seconds_count", **{"class": "cheap"}) >= 1, "the small map waited as cheap work"


def test_the_sample_dashboard_asks_only_for_metrics_that_exist(base, get):
    import json
    import re

    from support import REPO

    assert get(f"{base}/health").status == 200
    _, samples = scrape(base, get)
    exposed = {name for name, _ in samples}
    dashboard = json.loads((REPO / "docs" / "grafana-dashboard.json").read_text())
    asked = {m for p in dashboard["panels"] for t in p["targets"] for m in re.findall(r"\bformosa_[a-z0-9_]+", t["expr"])}
    assert asked, "the dashboard has queries"
    missing = sorted(asked - exposed)
    assert not missing, f"the dashboard queries metrics /metrics does not expose: {missing}"
