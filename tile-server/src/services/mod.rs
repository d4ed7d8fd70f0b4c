//! What handlers call besides the encoders: tile building through the cache, live edits
//! and their rules, cache invalidation after edits and re-imports, 3D Tiles plans, and
//! reading seeded archives.
//! No module here knows a route or an extractor.

pub mod archives;
pub mod edits;
pub mod invalidation;
pub mod plans;
pub mod tiles;
