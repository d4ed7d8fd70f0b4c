//! What handlers call besides the encoders: tile building through the cache, live edits
//! and their rules, cache invalidation after edits and re-imports, and 3D Tiles plans.
//! No module here knows a route or an extractor.

pub mod edits;
pub mod invalidation;
pub mod plans;
pub mod tiles;
