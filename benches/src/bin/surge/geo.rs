//! Where the clients look: the places file (points where the data is, in lon/lat and
//! TWD97 TM2, made by benches/surge.sh) and the Web Mercator tile arithmetic.

use std::f64::consts::PI;

/// Half the Web Mercator world, in metres.
pub const HALF_WORLD: f64 = 20_037_508.342_789_244;

#[derive(Debug, Clone, Copy)]
pub struct Place {
    pub lon: f64,
    pub lat: f64,
    /// TWD97 TM2 (EPSG:3826) easting and northing.
    pub e: f64,
    pub n: f64,
}

/// Reads `lon lat e n` lines.
pub fn read_places(path: &str) -> Result<Vec<Place>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let places: Vec<Place> = text
        .lines()
        .filter_map(|l| {
            let v: Vec<f64> = l.split_whitespace().filter_map(|s| s.parse().ok()).collect();
            (v.len() >= 4).then(|| Place { lon: v[0], lat: v[1], e: v[2], n: v[3] })
        })
        .collect();
    if places.is_empty() {
        return Err(format!("{path}: no `lon lat e n` lines"));
    }
    Ok(places)
}

pub fn to_mercator(lon: f64, lat: f64) -> (f64, f64) {
    let x = lon.to_radians() * 6_378_137.0;
    let y = (PI / 4.0 + lat.to_radians() / 2.0).tan().ln() * 6_378_137.0;
    (x, y)
}

/// The XYZ tile (rows from the north) holding a point.
pub fn tile_of(lon: f64, lat: f64, z: u8) -> (u32, u32) {
    let n = (1u64 << z) as f64;
    let (x, y) = to_mercator(lon, lat);
    let tx = ((x + HALF_WORLD) / (2.0 * HALF_WORLD) * n).floor().clamp(0.0, n - 1.0);
    let ty = ((HALF_WORLD - y) / (2.0 * HALF_WORLD) * n).floor().clamp(0.0, n - 1.0);
    (tx as u32, ty as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn taipei_101_tiles() {
        // Taipei 101 at z15 is tile 27449/14029 (the slippy-map formula).
        assert_eq!(tile_of(121.5645, 25.0340, 15), (27449, 14029));
        assert_eq!(tile_of(121.5645, 25.0340, 0), (0, 0));
    }
}
