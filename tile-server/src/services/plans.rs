//! 3D Tiles plans: a buildings or pipelines layer's tiling, made on first request (on a
//! tile builder) and kept until the layer is re-imported, with its tileset.json.

use crate::builders::{BuildKind, Cost, Work};
use crate::cache::CachedTile;
use crate::problem::Problem;
use crate::services::tiles::TileService;
use formosa_encoders::terrain::heights::ElevationCache;
use formosa_encoders::tiles3d::{Plan, Tiles3dError};
use formosa_store::Store;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Plans by (layer, import time): a re-import gets a new plan.
#[derive(Clone, Default)]
pub struct Plans(Arc<Mutex<HashMap<PlanKey, Arc<Planned>>>>);

/// A plan and its tileset.json, serialised and compressed (gzip and brotli) once with the
/// plan: written per request on an async worker, the 3,123-tile buildings tileset of the
/// surge's city held that worker 45–80 ms each time, and every request queued behind it
/// waited as long (cached terrain tiles: p50 56 ms under the 10× surge).
struct Planned {
    plan: Arc<Plan>,
    tileset: Arc<CachedTile>,
}

/// A layer's name and import time.
type PlanKey = (String, String);

impl Plans {
    /// The plan of `layer` as it is now, made if there is none yet.
    pub async fn get(&self, store: &Arc<dyn Store>, tiles: &TileService, elevation: &ElevationCache, geoid_undulation_m: f64, layer: &str) -> Result<Arc<Plan>, Problem> {
        Ok(self.planned(store, tiles, elevation, geoid_undulation_m, layer).await?.plan.clone())
    }

    /// The tileset.json of `layer`'s plan as it is now, ready to send.
    pub async fn tileset(&self, store: &Arc<dyn Store>, tiles: &TileService, elevation: &ElevationCache, geoid_undulation_m: f64, layer: &str) -> Result<Arc<CachedTile>, Problem> {
        Ok(self.planned(store, tiles, elevation, geoid_undulation_m, layer).await?.tileset.clone())
    }

    async fn planned(&self, store: &Arc<dyn Store>, tiles: &TileService, elevation: &ElevationCache, geoid_undulation_m: f64, layer: &str) -> Result<Arc<Planned>, Problem> {
        let l = store.layer_info(layer).ok_or_else(|| Problem::from(Tiles3dError::UnknownLayer(layer.into())))?;
        let key = (layer.to_string(), l.imported_at.clone());
        if let Some(p) = self.0.lock().unwrap().get(&key) {
            return Ok(p.clone());
        }
        let (store, elevation, name, plans) = (store.clone(), elevation.clone(), layer.to_string(), self.clone());
        // Planning reads every feature of the layer: heavy work for a large one.
        let work = Work::new(BuildKind::Plan3d, tiles.class(Cost { pixels: 0, features: l.feature_count as usize }));
        tiles
            .run(work, move |_| {
                // Made by a request that reached a builder before us?
                if let Some(p) = plans.0.lock().unwrap().get(&key) {
                    return Ok(p.clone());
                }
                let started = std::time::Instant::now();
                let plan = Arc::new(Plan::make(&*store, &elevation, &name, geoid_undulation_m)?);
                let tileset = CachedTile::new(serde_json::to_vec(&plan.tileset()).map_err(|e| Problem::internal(e.to_string()))?);
                tileset.brotli();
                tracing::info!(
                    "3D Tiles plan for '{name}': {} features in {} content tiles, tileset.json {} KB, {:.2} s",
                    plan.feature_count(),
                    plan.content_tiles().len(),
                    tileset.raw.len() / 1024,
                    started.elapsed().as_secs_f64()
                );
                let planned = Arc::new(Planned { plan, tileset: Arc::new(tileset) });
                plans.0.lock().unwrap().insert(key, planned.clone());
                Ok::<_, Problem>(planned)
            })
            .await?
    }
}
