//! What `--store` (and `store =` in formosa.toml) names: a GeoPackage file path, or a
//! PostgreSQL URL. Anything else that looks like a URL is refused, rather than taken for
//! a file path (`postgres://…` once became a folder named `postgres:`).

use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq)]
pub enum StoreUrl {
    /// The embedded store: a GeoPackage file (created if missing).
    Gpkg(PathBuf),
    /// A PostgreSQL database with PostGIS (libpq URL).
    Postgis(String),
}

impl StoreUrl {
    pub fn parse(s: &str) -> Result<StoreUrl, String> {
        let s = s.trim();
        if s.is_empty() {
            return Err("the store is empty: give a GeoPackage path (data/formosa.gpkg) or a postgresql:// URL".into());
        }
        if let Some((scheme, rest)) = s.split_once(':') {
            let looks_like_scheme = scheme.len() > 1 && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
            match scheme.to_ascii_lowercase().as_str() {
                "postgresql" | "postgres" if rest.starts_with("//") => return Ok(StoreUrl::Postgis(s.to_string())),
                "postgresql" | "postgres" => return Err(format!("store '{s}' is not a PostgreSQL URL: write postgresql://user@host:5432/dbname")),
                "file" if rest.starts_with("//") => return Ok(StoreUrl::Gpkg(PathBuf::from(&rest[2..]))),
                other if looks_like_scheme && rest.starts_with("//") => {
                    return Err(format!("store URL scheme '{other}:' is not supported: give a GeoPackage path or postgresql://user@host/dbname"));
                }
                _ => {}
            }
        }
        Ok(StoreUrl::Gpkg(PathBuf::from(s)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_postgresql_urls_are_told_apart() {
        assert_eq!(StoreUrl::parse("data/formosa.gpkg"), Ok(StoreUrl::Gpkg("data/formosa.gpkg".into())));
        assert_eq!(StoreUrl::parse("C:/maps/store.gpkg"), Ok(StoreUrl::Gpkg("C:/maps/store.gpkg".into())));
        assert_eq!(StoreUrl::parse("file:///srv/store.gpkg"), Ok(StoreUrl::Gpkg("/srv/store.gpkg".into())));
        assert_eq!(StoreUrl::parse("postgresql://gis@db:5432/formosa"), Ok(StoreUrl::Postgis("postgresql://gis@db:5432/formosa".into())));
        assert_eq!(StoreUrl::parse("postgres://gis@db/formosa"), Ok(StoreUrl::Postgis("postgres://gis@db/formosa".into())));
        assert!(StoreUrl::parse("postgresql:formosa").unwrap_err().contains("postgresql://"));
        assert!(StoreUrl::parse("mysql://x@y/z").unwrap_err().contains("'mysql:' is not supported"));
        assert!(StoreUrl::parse("s3://bucket/store.gpkg").is_err());
        assert!(StoreUrl::parse("  ").is_err());
    }
}
