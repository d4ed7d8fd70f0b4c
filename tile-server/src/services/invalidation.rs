//! Which cached tiles a change makes stale, and dropping exactly those.
//!
//! After a live edit: every cached tile whose content meets the feature's envelope before
//! or after the edit — the layer's and the base map's vector tiles (and the layer's part
//! of the composite), the layer's 3D Tiles, with the render buffer; the layer's and the
//! base map's WMTS tiles in every matrix set, with their label margin (and a cluster
//! cell's reach when the layer's reports are clustered). After a re-import: every tile
//! that reads a re-imported layer.
//!
//! The places are enumerated (a handful per zoom) and dropped one by one: a predicate over
//! the whole cache per write was evaluated by every cache read until its scan finished,
//! which under a surge of writes was a fifth of the server's time. Zooms where a large
//! edit meets more than `MAX_LISTED` tiles fall back to the predicate.

use crate::cache::{TileCache, TileKey};
use crate::tile_key::{grids, places_touching, XYZ_GRID};
use formosa_encoders::cluster;
use formosa_encoders::render::LABEL_MARGIN_PX;
use formosa_store::{Change, ChangeListener, Envelope, Store};
use std::sync::{Arc, Weak};

/// Tiles per zoom (and per area) an edit's invalidation lists one by one.
const MAX_LISTED: u64 = 4096;

/// Drops the cached tiles that change `c` touches. `clustered`: whether the layer's points
/// are clustered in maps (a report moves its cluster, which can sit a cell away). Returns
/// how many tiles were dropped by place (those of an overflowing zoom are not counted).
pub fn after_edit(cache: &TileCache, c: &Change, clustered: bool) -> usize {
    let areas: Vec<Envelope> = [c.before, c.after].into_iter().flatten().collect();
    let clustered = clustered && areas.iter().any(cluster::point_sized);
    let margin = LABEL_MARGIN_PX + if clustered { cluster::MAX_CELL_DIAGONAL_PX } else { 0.0 };
    let layer = c.layer.as_str();
    let mut xyz_overflow: Vec<u8> = Vec::new();
    let mut wmts_overflow = false;
    let mut dropped = 0;
    for grid in grids() {
        let mut places = Vec::new();
        for a in &areas {
            let (listed, overflow) = places_touching(grid, a, margin, MAX_LISTED);
            places.extend(listed);
            if grid == XYZ_GRID {
                xyz_overflow.extend(overflow);
            } else {
                wmts_overflow |= !overflow.is_empty();
            }
        }
        dropped += cache.invalidate_places(&places, |k| k.grid() == grid && k.edited_by(layer));
    }
    if !xyz_overflow.is_empty() || wmts_overflow {
        let layer = c.layer.clone();
        cache.invalidate(move |k: &TileKey| {
            let overflowed = if k.kind.grid() == XYZ_GRID { xyz_overflow.contains(&k.z) } else { wmts_overflow };
            overflowed && k.touched_by(&layer, &areas)
        });
    }
    dropped
}

/// Drops every cached tile that reads one of the `changed` layers (hot re-import).
pub fn after_reimport(cache: &TileCache, changed: &[String]) {
    let changed = changed.to_vec();
    cache.invalidate(move |k: &TileKey| changed.iter().any(|n| k.kind.reads_layer(n)));
}

/// The store listener that invalidates after every committed edit and then tells
/// `publish` (the change feed) the change and how many tiles it dropped. Holds the store
/// weakly: the store holds the listener.
pub fn listener(cache: TileCache, store: Weak<dyn Store>, publish: impl Fn(&Change, usize) + Send + Sync + 'static) -> ChangeListener {
    Arc::new(move |c: &Change| {
        let clustered = store.upgrade().and_then(|s| s.feature_layer(&c.layer)).is_some_and(|l| cluster::clusters(l.as_ref(), 0));
        let dropped = after_edit(&cache, c, clustered);
        publish(c, dropped);
    })
}
