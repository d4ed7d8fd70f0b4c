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

#[derive(Debug, Clone, Default, Serialize)]
pub struct ImportReport {
    pub layer: String,
    pub kind: String,
    pub source: String,
    pub source_crs: String,
    pub read: u64,
    pub imported: u64,
    /// Features kept after at least one repair.
    pub repaired: u64,
    /// How often each repair or derivation was applied.
    pub notes: BTreeMap<String, u64>,
    pub skipped: Vec<Skip>,
    pub warnings: Vec<String>,
    #[serde(serialize_with = "secs")]
    pub elapsed: Duration,
}

fn secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
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

    /// Counts and rates for the summary, the repairs, then each skip and its reason.
    pub fn summary(&self) -> String {
        let secs = self.elapsed.as_secs_f64().max(1e-9);
        let mut s = format!(
            "{} → layer '{}' ({}): imported {}, repaired {}, skipped {} of {} read, in {:.2} s ({:.0} features/s), from {}\n",
            self.source,
            self.layer,
            self.kind,
            self.imported,
            self.repaired,
            self.skipped.len(),
            self.read,
            secs,
            self.read as f64 / secs,
            self.source_crs
        );
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
