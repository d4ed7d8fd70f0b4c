//! Mapping the agencies' attribute names onto the store's typed columns.
//!
//! Agencies name the same thing differently (地號, LANDNO, PARCEL_NO…), often in Chinese.
//! Each column has a list of common names, matched case-insensitively and ignoring
//! spaces, '_' and '-'; `--map column=FIELD` overrides the guess.

use crate::ImportError;
use formosa_store::LayerKind;

/// Known source names of each column, most specific first.
fn aliases(kind: LayerKind, column: &str) -> &'static [&'static str] {
    match (kind, column) {
        (LayerKind::Cadastral, "parcel_no") => &["地號", "地號全碼", "地號碼", "landno", "land_no", "parcelno", "parcel_no", "parcel", "lotno"],
        (LayerKind::Cadastral, "section") => &["段名", "地段", "地段名稱", "段", "段號", "section", "sectname", "sect_name", "secname", "sec_name"],
        (LayerKind::Cadastral, "county_code") => &["縣市代碼", "縣市", "countycode", "county_code", "county", "countyid"],
        (LayerKind::Cadastral, "town_code") => &["鄉鎮代碼", "鄉鎮市區代碼", "鄉鎮", "鄉鎮市區", "towncode", "town_code", "town", "townid"],
        (LayerKind::Cadastral, "land_use") => &["使用分區", "土地使用分區", "分區", "使用地類別", "zone", "zoning", "landuse", "land_use"],
        (LayerKind::Cadastral, "area_m2") => &["面積", "登記面積", "area_m2", "area", "shape_area"],
        (LayerKind::Pipelines, "utility") => &["管線種類", "管線類別", "管線類型", "種類", "類別", "utility", "type", "pipetype", "pipe_type", "category"],
        (LayerKind::Pipelines, "owner") => &["權屬單位", "管理單位", "權責單位", "所有權人", "owner", "agency", "operator"],
        (LayerKind::Pipelines, "diameter_mm") => &["管徑", "管徑mm", "口徑", "diameter_mm", "diameter", "dia", "pipe_dia", "size_mm"],
        (LayerKind::Pipelines, "depth_m") => &["埋深", "埋設深度", "深度", "管頂深度", "depth_m", "depth", "cover"],
        (LayerKind::Pipelines, "material") => &["材質", "管材", "material", "mat"],
        (LayerKind::Pipelines, "install_year") => &["埋設年", "埋設年份", "埋設年度", "設置年", "年份", "install_year", "installyear", "year"],
        (LayerKind::Pipelines, "status") => &["狀態", "status", "condition"],
        (LayerKind::Buildings, "height_m") => &["高度", "建物高度", "建物高", "height_m", "height", "bldg_ht", "hgt"],
        (LayerKind::Buildings, "floors") => &["樓層", "樓層數", "地上樓層", "地上層數", "floors", "floor", "storeys", "stories", "num_floors", "levels"],
        (LayerKind::Buildings, "use") => &["用途", "使用用途", "主要用途", "use", "usage", "bldg_use"],
        (LayerKind::Buildings, "structure") => &["構造", "建物構造", "結構", "structure", "struct", "construction"],
        (LayerKind::Buildings, "name") => &["名稱", "建物名稱", "name"],
        (LayerKind::Vector, "name") => &["名稱", "名字", "name", "villname", "townname", "countyname", "roadname", "路名"],
        (LayerKind::Vector, "class") => &["類別", "種類", "class", "kind", "type", "fclass"],
        (LayerKind::Roads, "name") => &["道路名稱", "路名", "道路名", "名稱", "roadname", "rd_name", "road_name", "name"],
        (LayerKind::Roads, "class") => {
            &["道路等級", "道路類別", "道路分類", "道路種類", "等級", "類別", "roadclass", "rdclass", "road_class", "class", "fclass", "highway", "type"]
        }
        (LayerKind::Roads, "width_m") => &["路寬", "道路寬度", "寬度", "width_m", "width", "rd_width", "roadwidth"],
        (LayerKind::Railways, "name") => &["路線名稱", "鐵路名稱", "線名", "路線", "名稱", "line_name", "linename", "name", "line"],
        (LayerKind::Railways, "class") => &["鐵路類別", "軌道類別", "軌道系統", "系統", "類別", "種類", "class", "type", "fclass", "railway", "system"],
        (LayerKind::Water, "name") => &["河川名稱", "水系名稱", "水體名稱", "河川", "名稱", "rivername", "river_name", "name"],
        (LayerKind::Water, "class") => &["水體類別", "類別", "種類", "class", "type", "fclass", "waterway"],
        (LayerKind::Pois, "name") => &["地標名稱", "機關名稱", "名稱", "name", "poi_name"],
        (LayerKind::Pois, "class") => &["地標類別", "類別", "類型", "種類", "class", "type", "category", "fclass", "amenity"],
        (LayerKind::Pois, "address") => &["地址", "門牌", "address", "addr"],
        (LayerKind::Shelters, "name") => &["避難收容處所名稱", "收容處所名稱", "收容所名稱", "處所名稱", "名稱", "name", "shelter_name"],
        (LayerKind::Shelters, "capacity") => &["預計收容人數", "收容人數", "容納人數", "可收容人數", "capacity", "persons"],
        (LayerKind::Shelters, "address") => &["避難收容處所地址", "收容處所地址", "地址", "address", "addr"],
        (LayerKind::Shelters, "type") => &["室內室外", "處所類型", "場所類型", "類型", "type", "indoor_outdoor", "setting"],
        (LayerKind::Shelters, "disasters") => &["適用災害類別", "適用災害", "災害類別", "災害種類", "disasters", "hazards", "disaster_types"],
        (LayerKind::Roads | LayerKind::Railways, "bridge") => &["橋梁", "橋樑", "是否橋梁", "是否為橋梁", "bridge", "is_bridge"],
        (LayerKind::Roads | LayerKind::Railways, "tunnel") => &["隧道", "是否隧道", "是否為隧道", "tunnel", "is_tunnel"],
        (LayerKind::Roads, "oneway") => &["單行道", "單向", "單行", "oneway", "one_way"],
        (LayerKind::Roads, "level") => &["高程層", "層級", "立體層", "level", "layer", "z_order"],
        (LayerKind::Incidents, "type") => &["災情類別", "類別", "type", "category"],
        (LayerKind::Incidents, "severity") => &["嚴重程度", "等級", "severity", "level"],
        (LayerKind::Incidents, "time") => &["時間", "通報時間", "time", "reported_at", "datetime"],
        (LayerKind::Incidents, "description") => &["描述", "說明", "內容", "description", "desc"],
        (LayerKind::Incidents, "reporter") => &["通報者", "通報單位", "reporter", "source"],
        _ => &[],
    }
}

fn normalise(name: &str) -> String {
    name.chars().filter(|c| !matches!(c, ' ' | '_' | '-')).flat_map(char::to_lowercase).collect()
}

/// For each column of a kind, the index of the source field that feeds it (if any).
#[derive(Debug, Clone, PartialEq)]
pub struct FieldMap {
    pub columns: Vec<Option<usize>>,
    /// Source fields feeding no column: kept as extra attributes under their own names.
    pub unmapped: Vec<usize>,
}

impl FieldMap {
    /// Resolves the mapping. `overrides` are `column=FIELD` pairs from `--map`.
    pub fn resolve(kind: LayerKind, source_fields: &[String], overrides: &[String]) -> Result<FieldMap, ImportError> {
        let columns = kind.columns();
        let mut chosen: Vec<Option<usize>> = vec![None; columns.len()];
        for o in overrides {
            let (col, field) = o.split_once('=').ok_or_else(|| ImportError::Mapping(format!("--map '{o}' is not of the form column=FIELD (e.g. --map parcel_no=LANDNO)")))?;
            let ci = columns.iter().position(|c| c.name == col.trim()).ok_or_else(|| {
                let names: Vec<&str> = columns.iter().map(|c| c.name).collect();
                ImportError::Mapping(format!("--map: '{col}' is not a column of {kind} layers; columns are: {}", names.join(", ")))
            })?;
            let fi = source_fields
                .iter()
                .position(|f| f == field.trim())
                .ok_or_else(|| ImportError::Mapping(format!("--map: the source has no field '{field}'; its fields are: {}", source_fields.join(", "))))?;
            chosen[ci] = Some(fi);
        }
        let normalised: Vec<String> = source_fields.iter().map(|f| normalise(f)).collect();
        for (ci, col) in columns.iter().enumerate() {
            if chosen[ci].is_some() {
                continue;
            }
            let taken: Vec<usize> = chosen.iter().flatten().copied().collect();
            chosen[ci] = aliases(kind, col.name).iter().map(|a| normalise(a)).find_map(|a| normalised.iter().enumerate().position(|(i, f)| *f == a && !taken.contains(&i)));
        }
        let unmapped = (0..source_fields.len()).filter(|i| !chosen.contains(&Some(*i))).collect();
        Ok(FieldMap { columns: chosen, unmapped })
    }

    /// One line per column for the import log: "parcel_no ← 地號".
    pub fn describe(&self, kind: LayerKind, source_fields: &[String]) -> Vec<String> {
        kind.columns()
            .iter()
            .zip(&self.columns)
            .map(|(c, f)| match f {
                Some(i) => format!("{} ← {}", c.name, source_fields[*i]),
                None => format!("{} ← (none)", c.name),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn recognises_chinese_and_english_names() {
        let f = names(&["地號", "段名", "縣市代碼", "鄉鎮代碼", "使用分區", "面積", "備註"]);
        let m = FieldMap::resolve(LayerKind::Cadastral, &f, &[]).unwrap();
        assert_eq!(m.columns, vec![Some(0), Some(1), Some(2), Some(3), Some(4), Some(5)]);
        assert_eq!(m.unmapped, vec![6]);
        let f = names(&["LANDNO", "Section", "COUNTY", "TOWN", "ZONE", "AREA"]);
        let m = FieldMap::resolve(LayerKind::Cadastral, &f, &[]).unwrap();
        assert_eq!(m.columns, vec![Some(0), Some(1), Some(2), Some(3), Some(4), Some(5)]);
        let f = names(&["管線種類", "管徑", "埋深", "材質", "埋設年", "權屬單位"]);
        let m = FieldMap::resolve(LayerKind::Pipelines, &f, &[]).unwrap();
        assert_eq!(m.columns, vec![Some(0), Some(5), Some(1), Some(2), Some(3), Some(4), None]);
    }

    #[test]
    fn explicit_mapping_wins_and_bad_mappings_are_explained() {
        let f = names(&["NO", "FLOOR_CNT"]);
        let m = FieldMap::resolve(LayerKind::Buildings, &f, &["floors=FLOOR_CNT".into()]).unwrap();
        assert_eq!(m.columns[1], Some(1));
        let e = FieldMap::resolve(LayerKind::Buildings, &f, &["floors=NOPE".into()]).unwrap_err();
        assert!(e.to_string().contains("its fields are: NO, FLOOR_CNT"), "{e}");
        let e = FieldMap::resolve(LayerKind::Buildings, &f, &["storeys=NO".into()]).unwrap_err();
        assert!(e.to_string().contains("not a column of buildings"), "{e}");
        let e = FieldMap::resolve(LayerKind::Buildings, &f, &["floors".into()]).unwrap_err();
        assert!(e.to_string().contains("column=FIELD"), "{e}");
    }
}
