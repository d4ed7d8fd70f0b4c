#![allow(dead_code)] // each test uses its own part

pub mod mvt;
