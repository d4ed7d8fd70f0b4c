//! GeoPackage geometry blobs (GeoPackage 1.3 §2.1.3): a small header with the SRS id and
//! the envelope, followed by ISO WKB (`crate::wkb`). Written and read here so that the hot paths need no
//! GDAL, and so that GDAL and QGIS read the same bytes.

use crate::model::{Envelope, Geometry};
pub use crate::wkb::{decode as decode_wkb, encode as encode_wkb, BlobError};

/// Encodes a geometry as a GeoPackage blob with an XY envelope, little-endian.
pub fn encode(geom: &Geometry, srs_id: i32, has_z: bool) -> Vec<u8> {
    let env = geom.envelope();
    let mut out = Vec::with_capacity(48 + 16 * 32);
    out.extend_from_slice(b"GP");
    out.push(0); // version 1
                 // flags: little endian (bit 0); envelope [minx,maxx,miny,maxy] (1 << 1); empty (bit 4)
    let mut flags = 0x01u8;
    if env.is_some() {
        flags |= 1 << 1;
    } else {
        flags |= 1 << 4;
    }
    out.push(flags);
    out.extend_from_slice(&srs_id.to_le_bytes());
    if let Some(e) = env {
        for v in [e.min_x, e.max_x, e.min_y, e.max_y] {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
    crate::wkb::write(&mut out, geom, has_z);
    out
}

/// Reads the envelope from a blob's header without decoding the geometry.
pub fn header_envelope(blob: &[u8]) -> Result<Option<Envelope>, BlobError> {
    let (env, _) = parse_header(blob)?;
    Ok(env)
}

fn parse_header(blob: &[u8]) -> Result<(Option<Envelope>, usize), BlobError> {
    if blob.len() < 8 {
        return Err(BlobError::Truncated);
    }
    if &blob[0..2] != b"GP" {
        return Err(BlobError::BadMagic);
    }
    let flags = blob[3];
    let le = flags & 1 == 1;
    let indicator = (flags >> 1) & 0x07;
    let n = match indicator {
        0 => 0,
        1 => 4,
        2 | 3 => 6,
        4 => 8,
        other => return Err(BlobError::BadEnvelope(other)),
    };
    let end = 8 + n * 8;
    if blob.len() < end {
        return Err(BlobError::Truncated);
    }
    let read = |i: usize| {
        let b: [u8; 8] = blob[8 + i * 8..16 + i * 8].try_into().unwrap();
        if le {
            f64::from_le_bytes(b)
        } else {
            f64::from_be_bytes(b)
        }
    };
    let env = (n > 0).then(|| Envelope { min_x: read(0), max_x: read(1), min_y: read(2), max_y: read(3) });
    Ok((env, end))
}

/// The WKB part of a blob (after its header).
pub fn wkb_part(blob: &[u8]) -> Result<&[u8], BlobError> {
    let (_, start) = parse_header(blob)?;
    Ok(&blob[start..])
}

/// Decodes a GeoPackage blob. Returns the geometry (polygons and lines in multi form)
/// and whether it carries z.
pub fn decode(blob: &[u8]) -> Result<(Geometry, bool), BlobError> {
    let (_, start) = parse_header(blob)?;
    crate::wkb::decode(&blob[start..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Coord;

    fn square(x: f64, y: f64) -> Vec<Coord> {
        vec![[x, y, 0.0], [x + 1.0, y, 0.0], [x + 1.0, y + 1.0, 0.0], [x, y + 1.0, 0.0], [x, y, 0.0]]
    }

    #[test]
    fn polygon_with_hole_round_trips() {
        let g = Geometry::MultiPolygon(vec![vec![square(0.0, 0.0), square(0.25, 0.25)], vec![square(5.0, 5.0)]]);
        let blob = encode(&g, 4326, false);
        assert_eq!(&blob[0..2], b"GP");
        assert_eq!(i32::from_le_bytes(blob[4..8].try_into().unwrap()), 4326);
        let env = header_envelope(&blob).unwrap().unwrap();
        assert_eq!((env.min_x, env.min_y, env.max_x, env.max_y), (0.0, 0.0, 6.0, 6.0));
        assert_eq!(decode(&blob).unwrap(), (g, false));
    }

    #[test]
    fn z_lines_round_trip_with_iso_codes() {
        let g = Geometry::MultiLineString(vec![vec![[121.5, 25.0, -1.2], [121.6, 25.1, -1.5]]]);
        let blob = encode(&g, 4326, true);
        // ISO MultiLineString Z is 1005.
        assert_eq!(u32::from_le_bytes(blob[41..45].try_into().unwrap()), 1005);
        assert_eq!(decode(&blob).unwrap(), (g, true));
    }

    #[test]
    fn truncated_blob_is_an_error_not_a_panic() {
        let g = Geometry::MultiPolygon(vec![vec![square(0.0, 0.0)]]);
        let blob = encode(&g, 4326, false);
        for cut in 0..blob.len() {
            assert!(decode(&blob[..cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn absurd_counts_are_rejected_before_allocating() {
        let mut wkb = vec![1u8];
        wkb.extend_from_slice(&5u32.to_le_bytes());
        wkb.extend_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(decode_wkb(&wkb), Err(BlobError::Truncated));
    }
}
