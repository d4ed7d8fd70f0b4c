//! Request parsing and encoder errors as HTTP answers, shared by the handlers.

use crate::problem::Problem;
use axum::http::{header, HeaderMap};
use formosa_encoders::tiles::{check_tile, TileError};
use formosa_encoders::tiles3d::Tiles3dError;

impl From<TileError> for Problem {
    fn from(e: TileError) -> Self {
        match e {
            TileError::UnknownLayer(_) => Problem::not_found(format!("{e}; see /tiles for the layers")),
            TileError::OutOfRange { .. } | TileError::BadZoom(_) => Problem::bad_request(e.to_string()),
            TileError::Store(e) => e.into(),
        }
    }
}

impl From<Tiles3dError> for Problem {
    fn from(e: Tiles3dError) -> Self {
        match e {
            Tiles3dError::UnknownLayer(_) | Tiles3dError::NoSuchTile { .. } => Problem::not_found(e.to_string()),
            Tiles3dError::Store(e) => e.into(),
        }
    }
}

/// The origin clients reached this server at (behind a proxy: its forwarded protocol).
pub fn base_url(headers: &HeaderMap) -> String {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1:8080");
    let proto = headers.get("x-forwarded-proto").and_then(|h| h.to_str().ok()).unwrap_or("http");
    format!("{proto}://{host}")
}

/// Parses "{y}.{ext}" and the numeric path parts, with a clear message for each mistake.
pub fn parse_tile(z: &str, x: &str, y_file: &str, exts: &[&str]) -> Result<(u8, u32, u32), Problem> {
    let y = exts
        .iter()
        .find_map(|e| y_file.strip_suffix(e))
        .ok_or_else(|| Problem::bad_request(format!("tile file '{y_file}' must end in {} (e.g. 15/27441/14020{})", exts[0], exts[0])))?;
    let num = |name: &str, v: &str| -> Result<u32, Problem> { v.parse::<u32>().map_err(|_| Problem::bad_request(format!("{name} '{v}' is not a non-negative whole number"))) };
    let (z, x, y) = (num("zoom", z)?, num("x", x)?, num("y", y)?);
    Ok((check_tile(z, x, y)?, x, y))
}

/// A feature id from the path: a positive whole number.
pub fn parse_fid(fid: &str) -> Result<i64, Problem> {
    fid.parse::<i64>().ok().filter(|n| *n > 0).ok_or_else(|| Problem::bad_request(format!("feature id '{fid}' is not a positive whole number")))
}
