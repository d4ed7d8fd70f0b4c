//! 3D Tiles plans: a buildings or pipelines layer's tiling, made on first request (on a
//! tile builder) and kept until the layer is re-imported.

use crate::builders::{BuildKind, Cost, Work};
use crate::problem::Problem;
use crate::services::tiles::TileService;
use formosa_encoders::terrain::heights::ElevationCache;
use formosa_encoders::tiles3d::{Plan, Tiles3dError};
use formosa_store::Store;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Plans by (layer, import time): a re-import gets a new plan.
#[derive(Clone, Default)]
pub struct Plans(Arc<Mutex<HashMap<PlanKey, Arc<Plan>>>>);

/// A layer's name and import time.
type PlanKey = (String, String);

impl Plans {
    /// The plan of `layer` as it is now, made if there is none yet.
    pub async fn get(&self, store: &Arc<dyn Store>, tiles: &TileService, elevation: &ElevationCache, geoid_undulation_m: f64, layer: &str) -> Result<Arc<Plan>, Problem> {
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
                tracing::info!(
                    "3D Tiles plan for '{name}': {} features in {} content tiles, {:.2} s",
                    plan.feature_count(),
                    plan.content_tiles().len(),
                    started.elapsed().as_secs_f64()
                );
                plans.0.lock().unwrap().insert(key, plan.clone());
                Ok(plan)
            })
            .await?
    }
}
