//! What an import did: counts, repairs by kind, every skipped feature with its reason.

use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

#[derive(Debug, Clone, Serialize)]
pub struct Skip {
    /// The feature's id in the source (its FID; for shapefiles, the 0-based record number).
    pub fid: i64,
    pub reason: String,
}

/// What an import counts, in the data's own units: a vector import reads and imports
/// features; a DEM import reads cells and writes pyramid tiles; an imagery import reads
/// pixels and writes tiles. The summary line and the `--report` JSON use the same names.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Units {
    #[default]
    Features,
    DemCells,
    ImagePixels,
}

impl Units {
    /// The JSON names of the two counts and of the rate: (read, written, rate).
    pub fn json_names(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Units::Features => ("read", "imported", "features_per_s"),
            Units::DemCells => ("cells_read", "tiles_written", "cells_per_s"),
            Units::ImagePixels => ("pixels_read", "tiles_written", "pixels_per_s"),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct ImportReport {
    pub layer: String,
    pub kind: String,
    pub source: String,
    pub source_crs: String,
    /// What `read` and `imported` count.
    pub units: Units,
    /// Features, DEM cells or image pixels read from the source.
    pub read: u64,
    /// Features imported, or pyramid tiles written (rasters).
    pub imported: u64,
    /// Features kept after at least one repair.
    pub repaired: u64,
    /// How often each repair or derivation was applied.
    pub notes: BTreeMap<String, u64>,
    pub skipped: Vec<Skip>,
    pub warnings: Vec<String>,
    /// The deepest pyramid level written (rasters).
    pub max_zoom: Option<u8>,
    pub elapsed: Duration,
}

/// The `--report` JSON: the counts under the names of their units (`read`/`imported` for
/// features, `cells_read`/`tiles_written` for a DEM, `pixels_read`/`tiles_written` for
/// imagery) and the rate to match.
impl Serialize for ImportReport {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let (read, written, rate) = self.units.json_names();
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("layer", &self.layer)?;
        m.serialize_entry("kind", &self.kind)?;
        m.serialize_entry("source", &self.source)?;
        m.serialize_entry("source_crs", &self.source_crs)?;
        m.serialize_entry(read, &self.read)?;
        m.serialize_entry(written, &self.imported)?;
        if self.units == Units::Features {
            m.serialize_entry("repaired", &self.repaired)?;
            m.serialize_entry("notes", &self.notes)?;
            m.serialize_entry("skipped", &self.skipped)?;
        }
        if let Some(z) = self.max_zoom {
            m.serialize_entry("max_zoom", &z)?;
        }
        m.serialize_entry("warnings", &self.warnings)?;
        m.serialize_entry("elapsed", &self.elapsed.as_secs_f64())?;
        m.serialize_entry(rate, &self.rate())?;
        m.end()
    }
}

/// How many skipped features the printed summary lists one by one.
const LISTED_SKIPS: usize = 100;

impl ImportReport {
    pub fn note(&mut self, notes: &[String]) {
        if notes.iter().any(|n| n.starts_with("repaired") || n.starts_with("closed") || n.starts_with("dropped")) {
            self.repaired += 1;
        }
        for n in notes {
            // Counting by the note's general form keeps the summary short.
            let key = n.split(':').next().unwrap_or(n).to_string();
            *self.notes.entry(key).or_default() += 1;
        }
    }

    /// Read per second, in the units of the data (features, DEM cells, pixels).
    pub fn rate(&self) -> f64 {
        (self.read as f64 / self.elapsed.as_secs_f64().max(1e-9)).round()
    }

    /// Counts and rates for the summary, the repairs, then each skip and its reason.
    pub fn summary(&self) -> String {
        let secs = self.elapsed.as_secs_f64().max(1e-9);
        let levels = self.max_zoom.map_or(String::new(), |z| format!(" (z0–z{z})"));
        let counts = match self.units {
            Units::Features => format!(
                "imported {}, repaired {}, skipped {} of {} read, in {secs:.2} s ({:.0} features/s)",
                self.imported,
                self.repaired,
                self.skipped.len(),
                self.read,
                self.rate()
            ),
            Units::DemCells => format!("read {} DEM cells, wrote {} pyramid tiles{levels}, in {secs:.2} s ({:.0} cells/s)", self.read, self.imported, self.rate()),
            Units::ImagePixels => format!("read {} pixels, wrote {} tiles{levels}, in {secs:.2} s ({:.0} pixels/s)", self.read, self.imported, self.rate()),
        };
        let mut s = format!("{} → layer '{}' ({}): {counts}, from {}\n", self.source, self.layer, self.kind, self.source_crs);
        for (note, n) in &self.notes {
            let _ = writeln!(s, "  {n} × {note}");
        }
        for w in &self.warnings {
            let _ = writeln!(s, "  warning: {w}");
        }
        for skip in self.skipped.iter().take(LISTED_SKIPS) {
            let _ = writeln!(s, "  skipped feature {}: {}", skip.fid, skip.reason);
        }
        if self.skipped.len() > LISTED_SKIPS {
            let _ = writeln!(s, "  … and {} more skipped (use --report FILE for all)", self.skipped.len() - LISTED_SKIPS);
        }
        s
    }
}
