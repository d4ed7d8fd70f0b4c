//! GeoPackage geometry blobs (GeoPackage 1.3 §2.1.3): a small header with the SRS id and
//! the envelope, followed by ISO WKB. Written and read here so that the hot paths need no
//! GDAL, and so that GDAL and QGIS read the same bytes.

use crate::model::{Coord, Envelope, Geometry};
use thiserror::Error;

#[derive(Debug, Error, PartialEq)]
pub enum BlobError {
    #[error("geometry blob is truncated")]
    Truncated,
    #[error("geometry blob does not start with the GeoPackage magic 'GP'")]
    BadMagic,
    #[error("unsupported WKB geometry type {0}")]
    UnsupportedType(u32),
    #[error("geometry blob uses an unknown envelope indicator {0}")]
    BadEnvelope(u8),
}

const WKB_POINT: u32 = 1;
const WKB_LINESTRING: u32 = 2;
const WKB_POLYGON: u32 = 3;
const WKB_MULTIPOINT: u32 = 4;
const WKB_MULTILINESTRING: u32 = 5;
const WKB_MULTIPOLYGON: u32 = 6;
const ISO_Z: u32 = 1000;

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
    write_wkb(&mut out, geom, has_z);
    out
}

fn write_wkb(out: &mut Vec<u8>, geom: &Geometry, has_z: bool) {
    let z = if has_z { ISO_Z } else { 0 };
    let header = |out: &mut Vec<u8>, ty: u32| {
        out.push(1);
        out.extend_from_slice(&(ty + z).to_le_bytes());
    };
    let coord = |out: &mut Vec<u8>, c: &Coord| {
        out.extend_from_slice(&c[0].to_le_bytes());
        out.extend_from_slice(&c[1].to_le_bytes());
        if has_z {
            out.extend_from_slice(&c[2].to_le_bytes());
        }
    };
    let seq = |out: &mut Vec<u8>, cs: &[Coord]| {
        out.extend_from_slice(&(cs.len() as u32).to_le_bytes());
        for c in cs {
            coord(out, c);
        }
    };
    match geom {
        Geometry::Point(c) => {
            header(out, WKB_POINT);
            coord(out, c);
        }
        Geometry::MultiPoint(pts) => {
            header(out, WKB_MULTIPOINT);
            out.extend_from_slice(&(pts.len() as u32).to_le_bytes());
            for p in pts {
                header(out, WKB_POINT);
                coord(out, p);
            }
        }
        Geometry::MultiLineString(lines) => {
            header(out, WKB_MULTILINESTRING);
            out.extend_from_slice(&(lines.len() as u32).to_le_bytes());
            for l in lines {
                header(out, WKB_LINESTRING);
                seq(out, l);
            }
        }
        Geometry::MultiPolygon(polys) => {
            header(out, WKB_MULTIPOLYGON);
            out.extend_from_slice(&(polys.len() as u32).to_le_bytes());
            for rings in polys {
                header(out, WKB_POLYGON);
                out.extend_from_slice(&(rings.len() as u32).to_le_bytes());
                for r in rings {
                    seq(out, r);
                }
            }
        }
    }
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
        if le { f64::from_le_bytes(b) } else { f64::from_be_bytes(b) }
    };
    let env = (n > 0).then(|| Envelope { min_x: read(0), max_x: read(1), min_y: read(2), max_y: read(3) });
    Ok((env, end))
}

/// Decodes a GeoPackage blob. Returns the geometry (polygons and lines in multi form)
/// and whether it carries z.
pub fn decode(blob: &[u8]) -> Result<(Geometry, bool), BlobError> {
    let (_, start) = parse_header(blob)?;
    let mut r = Reader { buf: blob, pos: start, le: true };
    let mut has_z = false;
    let g = read_geometry(&mut r, &mut has_z)?;
    Ok((g, has_z))
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    le: bool,
}

impl Reader<'_> {
    fn bytes<const N: usize>(&mut self) -> Result<[u8; N], BlobError> {
        let b = self.buf.get(self.pos..self.pos + N).ok_or(BlobError::Truncated)?;
        self.pos += N;
        Ok(b.try_into().unwrap())
    }
    fn u32(&mut self) -> Result<u32, BlobError> {
        let b = self.bytes::<4>()?;
        Ok(if self.le { u32::from_le_bytes(b) } else { u32::from_be_bytes(b) })
    }
    fn f64(&mut self) -> Result<f64, BlobError> {
        let b = self.bytes::<8>()?;
        Ok(if self.le { f64::from_le_bytes(b) } else { f64::from_be_bytes(b) })
    }
    /// A count, checked against the bytes left so a corrupt count cannot allocate wildly.
    fn count(&mut self, min_item_bytes: usize) -> Result<usize, BlobError> {
        let n = self.u32()? as usize;
        if n.saturating_mul(min_item_bytes) > self.buf.len().saturating_sub(self.pos) {
            return Err(BlobError::Truncated);
        }
        Ok(n)
    }
}

/// Reads one WKB geometry header: byte order, base type, dimensions (z, m).
fn read_type(r: &mut Reader) -> Result<(u32, bool, bool), BlobError> {
    let order = r.bytes::<1>()?[0];
    r.le = order == 1;
    let raw = r.u32()?;
    // ISO (1000s) and the EWKB high-bit flags both occur in the wild.
    let ewkb_z = raw & 0x8000_0000 != 0;
    let ewkb_m = raw & 0x4000_0000 != 0;
    let code = raw & 0x0FFF_FFFF;
    let (base, iso_z, iso_m) = match code / 1000 {
        0 => (code, false, false),
        1 => (code - 1000, true, false),
        2 => (code - 2000, false, true),
        3 => (code - 3000, true, true),
        _ => return Err(BlobError::UnsupportedType(raw)),
    };
    Ok((base, iso_z || ewkb_z, iso_m || ewkb_m))
}

fn read_coord(r: &mut Reader, z: bool, m: bool) -> Result<Coord, BlobError> {
    let x = r.f64()?;
    let y = r.f64()?;
    let zv = if z { r.f64()? } else { 0.0 };
    if m {
        r.f64()?;
    }
    Ok([x, y, zv])
}

fn read_seq(r: &mut Reader, z: bool, m: bool) -> Result<Vec<Coord>, BlobError> {
    let n = r.count(16)?;
    (0..n).map(|_| read_coord(r, z, m)).collect()
}

fn read_rings(r: &mut Reader, z: bool, m: bool) -> Result<Vec<Vec<Coord>>, BlobError> {
    let n = r.count(4)?;
    (0..n).map(|_| read_seq(r, z, m)).collect()
}

fn read_geometry(r: &mut Reader, has_z: &mut bool) -> Result<Geometry, BlobError> {
    let (base, z, m) = read_type(r)?;
    *has_z |= z;
    Ok(match base {
        WKB_POINT => Geometry::Point(read_coord(r, z, m)?),
        WKB_LINESTRING => Geometry::MultiLineString(vec![read_seq(r, z, m)?]),
        WKB_POLYGON => Geometry::MultiPolygon(vec![read_rings(r, z, m)?]),
        WKB_MULTIPOINT | WKB_MULTILINESTRING | WKB_MULTIPOLYGON => {
            let n = r.count(5)?;
            let mut points = Vec::new();
            let mut lines = Vec::new();
            let mut polys = Vec::new();
            for _ in 0..n {
                match read_geometry(r, has_z)? {
                    Geometry::Point(p) => points.push(p),
                    Geometry::MultiPoint(ps) => points.extend(ps),
                    Geometry::MultiLineString(ls) => lines.extend(ls),
                    Geometry::MultiPolygon(ps) => polys.extend(ps),
                }
            }
            match base {
                WKB_MULTIPOINT => Geometry::MultiPoint(points),
                WKB_MULTILINESTRING => Geometry::MultiLineString(lines),
                _ => Geometry::MultiPolygon(polys),
            }
        }
        other => return Err(BlobError::UnsupportedType(other)),
    })
}

/// Parses plain (ISO or EWKB-flagged) WKB, as GDAL exports it.
pub fn decode_wkb(wkb: &[u8]) -> Result<(Geometry, bool), BlobError> {
    let mut r = Reader { buf: wkb, pos: 0, le: true };
    let mut has_z = false;
    let g = read_geometry(&mut r, &mut has_z)?;
    Ok((g, has_z))
}

/// Encodes plain ISO WKB (no GeoPackage header).
pub fn encode_wkb(geom: &Geometry, has_z: bool) -> Vec<u8> {
    let mut out = Vec::new();
    write_wkb(&mut out, geom, has_z);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

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
