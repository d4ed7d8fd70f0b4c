//! The HTTP handlers, one module per group of routes. Only the router (`server.rs`)
//! names them; they never import each other, and reach the encoders and the store
//! directly or through `services/`.

pub mod archives;
pub mod changes;
pub mod edits;
pub mod features;
pub mod meta;
pub mod style;
pub mod tiles;
pub mod tiles3d;
pub mod wms;
pub mod wmts;
