//! Web Mercator (EPSG:3857) math and the GoogleMapsCompatible / XYZ tile grid.
//! Analytic, so no PROJ call sits on a hot path.

use crate::model::Envelope;

pub const EARTH_RADIUS: f64 = 6_378_137.0;
/// Half the width of the Web Mercator square, in metres.
pub const HALF_WORLD: f64 = std::f64::consts::PI * EARTH_RADIUS;
/// Latitude where the Web Mercator square ends.
pub const MAX_LATITUDE: f64 = 85.051_128_779_806_59;

/// lon/lat degrees → Web Mercator metres.
pub fn to_mercator(lon: f64, lat: f64) -> (f64, f64) {
    let lat = lat.clamp(-MAX_LATITUDE, MAX_LATITUDE);
    let x = lon.to_radians() * EARTH_RADIUS;
    let y = (std::f64::consts::FRAC_PI_4 + lat.to_radians() / 2.0).tan().ln() * EARTH_RADIUS;
    (x, y)
}

/// Web Mercator metres → lon/lat degrees.
pub fn to_lonlat(x: f64, y: f64) -> (f64, f64) {
    let lon = (x / EARTH_RADIUS).to_degrees();
    let lat = (2.0 * (y / EARTH_RADIUS).exp().atan() - std::f64::consts::FRAC_PI_2).to_degrees();
    (lon, lat)
}

/// Width of one tile at zoom `z`, in metres.
pub fn tile_size_m(z: u8) -> f64 {
    2.0 * HALF_WORLD / (1u64 << z) as f64
}

/// Bounds of XYZ tile (z, x, y) (y counted from the north) in Web Mercator metres.
pub fn tile_bounds_m(z: u8, x: u32, y: u32) -> Envelope {
    let s = tile_size_m(z);
    let min_x = -HALF_WORLD + x as f64 * s;
    let max_y = HALF_WORLD - y as f64 * s;
    Envelope { min_x, min_y: max_y - s, max_x: min_x + s, max_y }
}

/// The tile range (inclusive) covering a Web Mercator box at zoom `z`.
pub fn tiles_covering_m(bbox: &Envelope, z: u8) -> (u32, u32, u32, u32) {
    let s = tile_size_m(z);
    let n = (1u64 << z) as f64;
    let col = |x: f64| (((x + HALF_WORLD) / s).floor()).clamp(0.0, n - 1.0) as u32;
    let row = |y: f64| (((HALF_WORLD - y) / s).floor()).clamp(0.0, n - 1.0) as u32;
    (col(bbox.min_x), row(bbox.max_y), col(bbox.max_x), row(bbox.min_y))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_taipei() {
        let (x, y) = to_mercator(121.5654, 25.0330);
        // Reference values from PROJ (cs2cs EPSG:4326 → EPSG:3857).
        assert!((x - 13_532_598.426).abs() < 0.01, "{x}");
        assert!((y - 2_879_798.475).abs() < 0.01, "{y}");
        let (lon, lat) = to_lonlat(x, y);
        assert!((lon - 121.5654).abs() < 1e-9 && (lat - 25.0330).abs() < 1e-9);
    }

    #[test]
    fn tile_zero_is_the_world() {
        let b = tile_bounds_m(0, 0, 0);
        assert_eq!((b.min_x, b.max_y), (-HALF_WORLD, HALF_WORLD));
        assert_eq!(tiles_covering_m(&b, 2), (0, 0, 3, 3));
    }
}
