//! Well-known binary (ISO WKB, and the EWKB z/m flags GDAL and PostGIS write): the
//! geometry encoding every backend and importer shares. Reads are bounds-checked, so a
//! corrupt count or a truncated buffer is an error, never a panic or a huge allocation.

use crate::model::{Coord, Geometry};
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

/// Appends the ISO WKB (little-endian) of `geom`.
pub(crate) fn write(out: &mut Vec<u8>, geom: &Geometry, has_z: bool) {
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

// Vectors are sized from the counts (checked against the bytes left): collecting a
// `Result` iterator cannot, and the regrowth was a third of a parcel's decode.
fn read_seq(r: &mut Reader, z: bool, m: bool) -> Result<Vec<Coord>, BlobError> {
    let n = r.count(16)?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(read_coord(r, z, m)?);
    }
    Ok(out)
}

fn read_rings(r: &mut Reader, z: bool, m: bool) -> Result<Vec<Vec<Coord>>, BlobError> {
    let n = r.count(4)?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(read_seq(r, z, m)?);
    }
    Ok(out)
}

fn read_geometry(r: &mut Reader, has_z: &mut bool) -> Result<Geometry, BlobError> {
    let (base, z, m) = read_type(r)?;
    *has_z |= z;
    read_body(r, base, z, m, has_z)
}

/// The geometry after its type header.
fn read_body(r: &mut Reader, base: u32, z: bool, m: bool, has_z: &mut bool) -> Result<Geometry, BlobError> {
    Ok(match base {
        WKB_POINT => Geometry::Point(read_coord(r, z, m)?),
        WKB_LINESTRING => Geometry::MultiLineString(vec![read_seq(r, z, m)?]),
        WKB_POLYGON => Geometry::MultiPolygon(vec![read_rings(r, z, m)?]),
        WKB_MULTIPOINT | WKB_MULTILINESTRING | WKB_MULTIPOLYGON => {
            let n = r.count(5)?;
            let capacity = |b: u32| if base == b { n } else { 0 };
            let mut points = Vec::with_capacity(capacity(WKB_MULTIPOINT));
            let mut lines = Vec::with_capacity(capacity(WKB_MULTILINESTRING));
            let mut polys = Vec::with_capacity(capacity(WKB_MULTIPOLYGON));
            for _ in 0..n {
                let (member, z, m) = read_type(r)?;
                *has_z |= z;
                // Simple members straight into their list; nested multis as a whole.
                match member {
                    WKB_POINT => points.push(read_coord(r, z, m)?),
                    WKB_LINESTRING => lines.push(read_seq(r, z, m)?),
                    WKB_POLYGON => polys.push(read_rings(r, z, m)?),
                    _ => match read_body(r, member, z, m, has_z)? {
                        Geometry::Point(p) => points.push(p),
                        Geometry::MultiPoint(ps) => points.extend(ps),
                        Geometry::MultiLineString(ls) => lines.extend(ls),
                        Geometry::MultiPolygon(ps) => polys.extend(ps),
                    },
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
pub fn decode(wkb: &[u8]) -> Result<(Geometry, bool), BlobError> {
    let mut r = Reader { buf: wkb, pos: 0, le: true };
    let mut has_z = false;
    let g = read_geometry(&mut r, &mut has_z)?;
    Ok((g, has_z))
}

/// Encodes plain ISO WKB (no GeoPackage header).
pub fn encode(geom: &Geometry, has_z: bool) -> Vec<u8> {
    let mut out = Vec::new();
    write(&mut out, geom, has_z);
    out
}
