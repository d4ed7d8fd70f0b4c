//! The `formosa` command-line tool's library: the configuration file, store URLs, seeding
//! and publishing. The binary (`main.rs`) sits on top of every crate and is the only place
//! that opens a store backend.

pub mod config;
pub mod publish;
pub mod seed;
pub mod store_url;
