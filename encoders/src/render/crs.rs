//! The map CRSs the OGC services draw in, as analytic math (no PROJ per vertex):
//! Web Mercator, WGS84 (EPSG:4326 with WMS 1.3.0's lat/lon axis order, CRS:84 with
//! lon/lat), and TWD97 TM2 (EPSG:3826 on 121°E, EPSG:3825 on 119°E for Penghu, Kinmen and
//! Matsu).
//!
//! TWD97 is realised on GRS80 and, like PROJ's definition of EPSG:3826 (towgs84=0), is
//! taken as coincident with WGS84; GRS80 and WGS84 differ by 0.1 mm in their semi-minor
//! axis, so the projection alone decides where a pixel lands. The transverse Mercator is
//! Krüger's series to n³ (as in UTM), sub-millimetre within TM2's 1.5° zone and about a
//! millimetre at 3° from the central meridian: a test compares it with PROJ (cs2cs).

use formosa_store::mercator::{to_lonlat, to_mercator};

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MapCrs {
    /// EPSG:3857.
    WebMercator,
    /// EPSG:4326: WMS 1.3.0 BBOX and coordinates in latitude, longitude order.
    Wgs84LatLon,
    /// CRS:84 (OGC): WGS84 in longitude, latitude order.
    Crs84,
    /// TWD97 TM2: EPSG:3826 (central meridian 121°E) or EPSG:3825 (119°E).
    Tm2 { epsg: u32 },
}

impl MapCrs {
    pub const SUPPORTED: [MapCrs; 5] = [MapCrs::WebMercator, MapCrs::Wgs84LatLon, MapCrs::Crs84, MapCrs::Tm2 { epsg: 3826 }, MapCrs::Tm2 { epsg: 3825 }];

    /// Parses a CRS identifier as WMS and WMTS clients write it ("EPSG:3826",
    /// "urn:ogc:def:crs:EPSG::3826", "CRS:84"), case-insensitively.
    pub fn parse(s: &str) -> Option<MapCrs> {
        let s = s.trim().to_ascii_uppercase();
        let code = s
            .strip_prefix("EPSG:")
            .or_else(|| s.strip_prefix("URN:OGC:DEF:CRS:EPSG::"))
            .or_else(|| s.strip_prefix("URN:OGC:DEF:CRS:EPSG:6.18.3:"))
            .or_else(|| s.strip_prefix("HTTP://WWW.OPENGIS.NET/DEF/CRS/EPSG/0/"));
        match code {
            Some("3857") | Some("900913") => Some(MapCrs::WebMercator),
            Some("4326") => Some(MapCrs::Wgs84LatLon),
            Some("3826") => Some(MapCrs::Tm2 { epsg: 3826 }),
            Some("3825") => Some(MapCrs::Tm2 { epsg: 3825 }),
            _ if s == "CRS:84" || s == "URN:OGC:DEF:CRS:OGC:1.3:CRS84" || s == "OGC:CRS84" => Some(MapCrs::Crs84),
            _ => None,
        }
    }

    /// The identifier written in capabilities documents.
    pub fn code(self) -> String {
        match self {
            MapCrs::WebMercator => "EPSG:3857".into(),
            MapCrs::Wgs84LatLon => "EPSG:4326".into(),
            MapCrs::Crs84 => "CRS:84".into(),
            MapCrs::Tm2 { epsg } => format!("EPSG:{epsg}"),
        }
    }

    /// Whether WMS 1.3.0 writes this CRS's BBOX with the northing first (EPSG:4326).
    pub fn northing_first(self) -> bool {
        self == MapCrs::Wgs84LatLon
    }

    /// Whether coordinates are degrees (a map's scale then depends on the latitude).
    pub fn is_geographic(self) -> bool {
        matches!(self, MapCrs::Wgs84LatLon | MapCrs::Crs84)
    }

    /// Longitude, latitude → easting, northing (for the geographic CRSs: lon, lat).
    pub fn forward(self, lon: f64, lat: f64) -> (f64, f64) {
        match self {
            MapCrs::WebMercator => to_mercator(lon, lat),
            MapCrs::Wgs84LatLon | MapCrs::Crs84 => (lon, lat),
            MapCrs::Tm2 { epsg } => TM2.forward(central_meridian(epsg), lon, lat),
        }
    }

    /// Easting, northing → longitude, latitude.
    pub fn inverse(self, x: f64, y: f64) -> (f64, f64) {
        match self {
            MapCrs::WebMercator => to_lonlat(x, y),
            MapCrs::Wgs84LatLon | MapCrs::Crs84 => (x, y),
            MapCrs::Tm2 { epsg } => TM2.inverse(central_meridian(epsg), x, y),
        }
    }

    /// A longitude/latitude box in this CRS: min/max of points along its edges (a
    /// projected box's edges are curves).
    pub fn project_envelope(self, e: &formosa_store::Envelope) -> [f64; 4] {
        let mut b = [f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY];
        for i in 0..=8 {
            let t = i as f64 / 8.0;
            let lon = e.min_x + t * (e.max_x - e.min_x);
            let lat = e.min_y + t * (e.max_y - e.min_y);
            for (x, y) in [self.forward(lon, e.min_y), self.forward(lon, e.max_y), self.forward(e.min_x, lat), self.forward(e.max_x, lat)] {
                b = [b[0].min(x), b[1].min(y), b[2].max(x), b[3].max(y)];
            }
        }
        b
    }

    /// Where the CRS is usable, in its own easting/northing: Web Mercator's square world,
    /// the globe for WGS84, and TM2's zone (±3° around its meridian, 10°–35°N).
    pub fn valid_area(self) -> [f64; 4] {
        match self {
            MapCrs::WebMercator => {
                let h = formosa_store::mercator::HALF_WORLD;
                [-h, -h, h, h]
            }
            MapCrs::Wgs84LatLon | MapCrs::Crs84 => [-180.0, -90.0, 180.0, 90.0],
            MapCrs::Tm2 { epsg } => {
                let lon0 = central_meridian(epsg);
                let (x0, y0) = self.forward(lon0 - 3.0, 10.0);
                let (x1, y1) = self.forward(lon0 + 3.0, 35.0);
                let (_, ymin) = self.forward(lon0, 10.0);
                [x0, ymin.min(y0), x1, y1]
            }
        }
    }
}

fn central_meridian(epsg: u32) -> f64 {
    if epsg == 3825 {
        119.0
    } else {
        121.0
    }
}

/// A transverse Mercator on one ellipsoid (Krüger's series to n³).
struct TransverseMercator {
    k0: f64,
    false_easting: f64,
    /// A, the meridian arc per radian of rectifying latitude.
    rect_radius: f64,
    n: f64,
    alpha: [f64; 3],
    beta: [f64; 3],
    delta: [f64; 3],
}

/// TWD97 TM2 on GRS80: k0 0.9999, false easting 250 000 m.
static TM2: std::sync::LazyLock<TransverseMercator> = std::sync::LazyLock::new(|| TransverseMercator::new(6_378_137.0, 1.0 / 298.257_222_101, 0.9999, 250_000.0));

impl TransverseMercator {
    fn new(a: f64, f: f64, k0: f64, false_easting: f64) -> Self {
        let n = f / (2.0 - f);
        let (n2, n3) = (n * n, n * n * n);
        TransverseMercator {
            k0,
            false_easting,
            rect_radius: a / (1.0 + n) * (1.0 + n2 / 4.0 + n2 * n2 / 64.0),
            n,
            alpha: [n / 2.0 - 2.0 * n2 / 3.0 + 5.0 * n3 / 16.0, 13.0 * n2 / 48.0 - 3.0 * n3 / 5.0, 61.0 * n3 / 240.0],
            beta: [n / 2.0 - 2.0 * n2 / 3.0 + 37.0 * n3 / 96.0, n2 / 48.0 + n3 / 15.0, 17.0 * n3 / 480.0],
            delta: [2.0 * n - 2.0 * n2 / 3.0 - 2.0 * n3, 7.0 * n2 / 3.0 - 8.0 * n3 / 5.0, 56.0 * n3 / 15.0],
        }
    }

    fn forward(&self, lon0: f64, lon: f64, lat: f64) -> (f64, f64) {
        let (phi, dl) = (lat.to_radians(), (lon - lon0).to_radians());
        let c = 2.0 * self.n.sqrt() / (1.0 + self.n);
        let t = (phi.sin().atanh() - c * (c * phi.sin()).atanh()).sinh();
        let xi0 = t.atan2(dl.cos());
        let eta0 = (dl.sin() / (1.0 + t * t).sqrt()).atanh();
        let (mut xi, mut eta) = (xi0, eta0);
        for (j, a) in self.alpha.iter().enumerate() {
            let k = 2.0 * (j + 1) as f64;
            xi += a * (k * xi0).sin() * (k * eta0).cosh();
            eta += a * (k * xi0).cos() * (k * eta0).sinh();
        }
        (self.false_easting + self.k0 * self.rect_radius * eta, self.k0 * self.rect_radius * xi)
    }

    fn inverse(&self, lon0: f64, x: f64, y: f64) -> (f64, f64) {
        let xi = y / (self.k0 * self.rect_radius);
        let eta = (x - self.false_easting) / (self.k0 * self.rect_radius);
        let (mut xi0, mut eta0) = (xi, eta);
        for (j, b) in self.beta.iter().enumerate() {
            let k = 2.0 * (j + 1) as f64;
            xi0 -= b * (k * xi).sin() * (k * eta).cosh();
            eta0 -= b * (k * xi).cos() * (k * eta).sinh();
        }
        let chi = (xi0.sin() / eta0.cosh()).asin();
        let mut phi = chi;
        for (j, d) in self.delta.iter().enumerate() {
            phi += d * (2.0 * (j + 1) as f64 * chi).sin();
        }
        (lon0 + eta0.sinh().atan2(xi0.cos()).to_degrees(), phi.to_degrees())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_ways_clients_write_crs() {
        assert_eq!(MapCrs::parse("epsg:3826"), Some(MapCrs::Tm2 { epsg: 3826 }));
        assert_eq!(MapCrs::parse("urn:ogc:def:crs:EPSG::3857"), Some(MapCrs::WebMercator));
        assert_eq!(MapCrs::parse("CRS:84"), Some(MapCrs::Crs84));
        assert_eq!(MapCrs::parse("EPSG:4326"), Some(MapCrs::Wgs84LatLon));
        assert_eq!(MapCrs::parse("EPSG:3828"), None);
        assert_eq!(MapCrs::parse(""), None);
    }

    /// Against PROJ: `cs2cs EPSG:4326 EPSG:3826` (and 3825) at points over Taiwan and the
    /// outlying islands, to a millimetre; inverse round trips to 1e-8° (a millimetre).
    #[test]
    fn tm2_agrees_with_proj() {
        let points = [(121.5645, 25.034, 3826), (120.2, 22.0, 3826), (122.0, 25.3, 3826), (119.56, 23.57, 3825), (118.32, 24.43, 3825), (119.95, 26.16, 3825)];
        let mut input = String::new();
        for (lon, lat, _) in points {
            input.push_str(&format!("{lat} {lon}\n"));
        }
        for epsg in [3826, 3825] {
            let out = std::process::Command::new("cs2cs")
                .args(["-f", "%.4f", "EPSG:4326", &format!("EPSG:{epsg}")])
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .spawn()
                .and_then(|mut c| {
                    use std::io::Write;
                    c.stdin.take().unwrap().write_all(input.as_bytes())?;
                    c.wait_with_output()
                })
                .expect("cs2cs (proj-bin) must be installed");
            let text = String::from_utf8(out.stdout).unwrap();
            for ((lon, lat, zone), line) in points.iter().zip(text.lines()) {
                if *zone != epsg {
                    continue;
                }
                let v: Vec<f64> = line.split_whitespace().take(2).map(|s| s.parse().unwrap()).collect();
                let crs = MapCrs::Tm2 { epsg };
                let (x, y) = crs.forward(*lon, *lat);
                assert!((x - v[0]).abs() < 0.001 && (y - v[1]).abs() < 0.001, "EPSG:{epsg} {lon},{lat}: ours {x:.4} {y:.4}, PROJ {line}");
                let (lon2, lat2) = crs.inverse(x, y);
                assert!((lon2 - lon).abs() < 1e-8 && (lat2 - lat).abs() < 1e-8, "round trip {lon2} {lat2}");
            }
        }
    }
}
