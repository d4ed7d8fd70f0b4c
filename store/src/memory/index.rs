//! The in-memory spatial index of one layer: an `rstar` R-tree of feature envelopes,
//! bulk-loaded from the backend's stored envelopes when the store opens.

use crate::model::Envelope;
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{RTree, AABB};

type Entry = GeomWithData<Rectangle<[f64; 2]>, i64>;

#[derive(Default)]
pub struct SpatialIndex {
    tree: RTree<Entry>,
}

impl SpatialIndex {
    /// Bulk-loads (OMT packing), which is several times faster than inserting one by one
    /// and gives a better-balanced tree.
    pub fn bulk_load(entries: Vec<(i64, Envelope)>) -> Self {
        let items = entries.into_iter().map(|(id, e)| GeomWithData::new(Rectangle::from_corners([e.min_x, e.min_y], [e.max_x, e.max_y]), id)).collect();
        Self { tree: RTree::bulk_load(items) }
    }

    /// Ids of the features whose envelope intersects `bbox`, in no particular order.
    pub fn query(&self, bbox: &Envelope) -> Vec<i64> {
        let aabb = AABB::from_corners([bbox.min_x, bbox.min_y], [bbox.max_x, bbox.max_y]);
        self.tree.locate_in_envelope_intersecting(&aabb).map(|e| e.data).collect()
    }

    /// How many features' envelopes intersect `bbox` (nothing is collected).
    pub fn count(&self, bbox: &Envelope) -> usize {
        let aabb = AABB::from_corners([bbox.min_x, bbox.min_y], [bbox.max_x, bbox.max_y]);
        self.tree.locate_in_envelope_intersecting(&aabb).count()
    }

    /// Like [`query`](Self::query), with each hit's envelope (for size-based filtering
    /// before any geometry is read).
    pub fn query_envelopes(&self, bbox: &Envelope) -> Vec<(i64, Envelope)> {
        let aabb = AABB::from_corners([bbox.min_x, bbox.min_y], [bbox.max_x, bbox.max_y]);
        self.tree
            .locate_in_envelope_intersecting(&aabb)
            .map(|e| {
                let (lo, hi) = (e.geom().lower(), e.geom().upper());
                (e.data, Envelope { min_x: lo[0], min_y: lo[1], max_x: hi[0], max_y: hi[1] })
            })
            .collect()
    }

    /// Adds one feature's envelope (a live edit).
    pub fn insert(&mut self, id: i64, e: Envelope) {
        self.tree.insert(GeomWithData::new(Rectangle::from_corners([e.min_x, e.min_y], [e.max_x, e.max_y]), id));
    }

    /// Removes feature `id`, whose envelope intersects `near`; false when it was not
    /// there. By id, not by exact envelope: envelopes loaded from the GeoPackage R*Tree
    /// are float32, rounded outward, and differ from the geometry's own in the last bits.
    pub fn remove(&mut self, id: i64, near: Envelope) -> bool {
        struct ById {
            id: i64,
            near: AABB<[f64; 2]>,
        }
        impl rstar::SelectionFunction<Entry> for ById {
            fn should_unpack_parent(&self, envelope: &AABB<[f64; 2]>) -> bool {
                rstar::Envelope::intersects(envelope, &self.near)
            }
            fn should_unpack_leaf(&self, entry: &Entry) -> bool {
                entry.data == self.id
            }
        }
        let pad = 1e-6;
        let near = AABB::from_corners([near.min_x - pad, near.min_y - pad], [near.max_x + pad, near.max_y + pad]);
        self.tree.remove_with_selection_function(ById { id, near }).is_some()
    }

    pub fn len(&self) -> usize {
        self.tree.size()
    }

    pub fn is_empty(&self) -> bool {
        self.tree.size() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_exactly_the_intersecting_boxes() {
        let boxes: Vec<(i64, Envelope)> = (0..100)
            .map(|i| {
                let x = (i % 10) as f64;
                let y = (i / 10) as f64;
                (i, Envelope { min_x: x, min_y: y, max_x: x + 0.5, max_y: y + 0.5 })
            })
            .collect();
        let index = SpatialIndex::bulk_load(boxes);
        let mut hits = index.query(&Envelope { min_x: 2.2, min_y: 3.2, max_x: 3.1, max_y: 4.1 });
        hits.sort();
        assert_eq!(hits, vec![32, 33, 42, 43]);
        assert!(index.query(&Envelope { min_x: 2.6, min_y: 0.6, max_x: 2.9, max_y: 0.9 }).is_empty());
    }
}
