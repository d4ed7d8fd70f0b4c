//! Label points for polygon layers. MapLibre places a polygon's label once per tile the
//! polygon touches, so a district spanning nine tiles showed its name nine times; a
//! separate `{layer}_label` MVT layer carries one point per polygon, in the one tile that
//! holds it. The points themselves are the store's (`formosa_store::labels`): computed
//! once per feature and kept with its row.

pub use formosa_store::labels::label_point;

/// The MVT layer name for `layer`'s label points.
pub fn label_layer(layer: &str) -> String {
    format!("{layer}{LABEL_SUFFIX}")
}

pub const LABEL_SUFFIX: &str = "_label";
