//! The class words agencies write (道路等級, 軌道系統, 地標類別, 適用災害…), in Chinese or
//! English, normalised to the few class names the style and the API use. Each table is
//! tried in order and the first entry with a matching key wins, so the more specific
//! words come first (快速道路 before 道路, 市區道路 before 區道).

use formosa_store::Value;

/// The class a word names, if a table knows it.
fn classify(raw: &str, table: &[(&'static str, &[&str])]) -> Option<&'static str> {
    let s = raw.trim().to_lowercase();
    table.iter().find(|(_, keys)| keys.iter().any(|k| s.contains(k))).map(|(class, _)| *class)
}

/// Road classes, OpenStreetMap's names for Taiwan's road system: 國道 motorway, 快速道路
/// trunk, 省道 primary, 縣道 secondary, 鄉道/區道 tertiary, 市區道路 street, 巷弄 service.
const ROADS: &[(&str, &[&str])] = &[
    ("trunk", &["快速道路", "快速公路", "快速", "expressway", "trunk"]),
    ("motorway", &["國道", "高速公路", "motorway", "freeway"]),
    ("primary", &["省道", "台線", "臺線", "provincial", "primary"]),
    ("secondary", &["縣道", "county", "secondary"]),
    ("street", &["市區道路", "市道"]),
    ("tertiary", &["鄉道", "區道", "township", "tertiary"]),
    ("service", &["巷道", "巷弄", "巷", "弄", "產業道路", "service", "alley", "lane", "track"]),
    ("street", &["一般道路", "街", "路", "street", "residential", "urban", "unclassified"]),
];

pub const ROAD_CLASSES: [&str; 8] = ["motorway", "trunk", "primary", "secondary", "tertiary", "street", "service", "other"];

pub fn road_class(raw: &str) -> Option<&'static str> {
    classify(raw, ROADS)
}

/// Rail systems: 高鐵 high-speed, 捷運 metro, 輕軌 light rail, 台鐵 and other heavy rail.
const RAILWAYS: &[(&str, &[&str])] = &[
    ("high_speed", &["高鐵", "高速鐵路", "thsr", "hsr", "high speed", "high_speed"]),
    ("light_rail", &["輕軌", "light rail", "light_rail", "tram"]),
    ("metro", &["捷運", "地鐵", "mrt", "metro", "subway"]),
    ("rail", &["台鐵", "臺鐵", "鐵路", "tra", "rail"]),
];

pub const RAILWAY_CLASSES: [&str; 5] = ["rail", "high_speed", "metro", "light_rail", "other"];

pub fn railway_class(raw: &str) -> Option<&'static str> {
    classify(raw, RAILWAYS)
}

const WATER: &[(&str, &[&str])] = &[
    ("reservoir", &["水庫", "reservoir", "dam"]),
    ("canal", &["圳", "渠", "運河", "排水", "canal", "ditch", "drain"]),
    ("lake", &["湖", "潭", "lake"]),
    ("pond", &["埤", "池", "塘", "pond"]),
    ("river", &["河", "溪", "江", "river", "stream", "creek"]),
];

pub const WATER_CLASSES: [&str; 6] = ["river", "canal", "lake", "reservoir", "pond", "other"];

pub fn water_class(raw: &str) -> Option<&'static str> {
    classify(raw, WATER)
}

const POIS: &[(&str, &[&str])] = &[
    ("fire_station", &["消防", "fire"]),
    ("police", &["警察", "派出所", "分局", "police"]),
    ("hospital", &["醫院", "醫療", "診所", "衛生所", "hospital", "clinic", "health"]),
    ("school", &["學校", "國小", "國中", "高中", "高職", "大學", "小學", "中學", "school", "university", "college"]),
    ("station", &["車站", "捷運站", "火車站", "高鐵站", "轉運站", "站", "station"]),
    ("government", &["市政府", "區公所", "鄉公所", "鎮公所", "公所", "政府", "機關", "government", "town hall", "townhall"]),
    ("park", &["公園", "綠地", "廣場", "park", "garden"]),
    ("temple", &["廟", "宮", "寺", "教堂", "教會", "temple", "shrine", "church", "worship"]),
    ("library", &["圖書館", "library"]),
    ("post_office", &["郵局", "post"]),
];

pub const POI_CLASSES: [&str; 11] = ["school", "hospital", "fire_station", "police", "government", "park", "station", "temple", "library", "post_office", "other"];

pub fn poi_class(raw: &str) -> Option<&'static str> {
    classify(raw, POIS)
}

const SHELTER_TYPES: &[(&str, &[&str])] = &[("outdoor", &["室外", "戶外", "outdoor"]), ("indoor", &["室內", "indoor"])];

pub fn shelter_type(raw: &str) -> Option<&'static str> {
    classify(raw, SHELTER_TYPES)
}

const DISASTERS: &[(&str, &[&str])] = &[
    ("flood", &["水災", "淹水", "颱風", "豪雨", "flood", "typhoon"]),
    ("earthquake", &["震災", "地震", "earthquake", "seismic"]),
    ("landslide", &["土石流", "坡地", "山崩", "landslide", "debris"]),
    ("tsunami", &["海嘯", "tsunami"]),
    ("fire", &["火災", "fire"]),
    ("nuclear", &["核", "輻射", "nuclear"]),
];

/// The hazards a shelter serves, from a list such as "水災、震災、土石流" or
/// "flood;earthquake": normalised, in the table's order, and the words not understood.
pub fn disasters(raw: &str) -> (Vec<&'static str>, Vec<String>) {
    let mut known = Vec::new();
    let mut unknown = Vec::new();
    for word in raw.split(|c: char| matches!(c, '、' | ',' | '，' | ';' | '；' | '/' | '|') || c.is_whitespace()).map(str::trim).filter(|w| !w.is_empty()) {
        match classify(word, DISASTERS) {
            Some(d) if !known.contains(&d) => known.push(d),
            Some(_) => {}
            None => unknown.push(word.to_string()),
        }
    }
    known.sort_by_key(|d| DISASTERS.iter().position(|(name, _)| name == d));
    (known, unknown)
}

/// A yes/no attribute (是/否, Y/N, true/false, 1/0) as 1 or 0; None for anything else.
pub fn flag(v: &Value) -> Option<i64> {
    match v {
        Value::Integer(0) => Some(0),
        Value::Integer(1) => Some(1),
        Value::Real(r) if *r == 0.0 => Some(0),
        Value::Real(r) if *r == 1.0 => Some(1),
        Value::Text(t) => match t.trim().to_lowercase().as_str() {
            "是" | "有" | "y" | "yes" | "t" | "true" | "1" => Some(1),
            "否" | "無" | "n" | "no" | "f" | "false" | "0" => Some(0),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn road_classes_in_chinese_and_english() {
        let cases = [
            ("國道1號", "motorway"),
            ("快速道路", "trunk"),
            ("省道", "primary"),
            ("縣道", "secondary"),
            ("區道", "tertiary"),
            ("市區道路", "street"),
            ("巷道", "service"),
            ("Motorway", "motorway"),
            ("residential", "street"),
        ];
        for (raw, class) in cases {
            assert_eq!(road_class(raw), Some(class), "{raw}");
        }
        assert_eq!(road_class("天橋?"), None);
        assert!(ROADS.iter().all(|(c, _)| ROAD_CLASSES.contains(c)));
    }

    #[test]
    fn rail_water_and_poi_classes() {
        assert_eq!(railway_class("台鐵"), Some("rail"));
        assert_eq!(railway_class("台灣高鐵"), Some("high_speed"));
        assert_eq!(railway_class("臺北捷運"), Some("metro"));
        assert_eq!(railway_class("淡海輕軌"), Some("light_rail"));
        assert_eq!(water_class("基隆河"), Some("river"));
        assert_eq!(water_class("瑠公圳"), Some("canal"));
        assert_eq!(water_class("翡翠水庫"), Some("reservoir"));
        assert_eq!(poi_class("消防局信義分隊"), Some("fire_station"));
        assert_eq!(poi_class("信義國小"), Some("school"));
        assert_eq!(poi_class("捷運市政府站"), Some("station"));
        assert_eq!(poi_class("臺北市政府"), Some("government"));
        assert_eq!(poi_class("?"), None);
        assert!(RAILWAYS.iter().all(|(c, _)| RAILWAY_CLASSES.contains(c)));
        assert!(WATER.iter().all(|(c, _)| WATER_CLASSES.contains(c)));
        assert!(POIS.iter().all(|(c, _)| POI_CLASSES.contains(c)));
    }

    #[test]
    fn shelter_disasters_and_flags() {
        assert_eq!(disasters("水災、震災、土石流"), (vec!["flood", "earthquake", "landslide"], vec![]));
        assert_eq!(disasters("earthquake; flood, 隕石"), (vec!["flood", "earthquake"], vec!["隕石".to_string()]));
        assert_eq!(shelter_type("室內"), Some("indoor"));
        assert_eq!(shelter_type("Outdoor"), Some("outdoor"));
        assert_eq!(flag(&Value::Text("是".into())), Some(1));
        assert_eq!(flag(&Value::Text("N".into())), Some(0));
        assert_eq!(flag(&Value::Integer(1)), Some(1));
        assert_eq!(flag(&Value::Text("maybe".into())), None);
    }
}
