//! MapLibre style expressions and filters, evaluated against a store feature at a zoom.
//!
//! The subset a base-map style uses: `get`, `has`, `zoom`, `geometry-type`, `literal`,
//! `coalesce`, `match`, `case`, `interpolate` (linear, exponential), `step`, comparisons,
//! `all`/`any`/`!`, `in`, `to-string`, `to-number`, `concat`, and the legacy filter forms
//! (`["==", "key", value]`, `["in", "key", …]`, `["has", "key"]`, `$type`). Anything else
//! is refused when the style is loaded, with the operator's name, rather than drawn wrong.

use super::color::Rgba;
use formosa_store::Value;
use serde_json::Value as Json;
use std::borrow::Cow;

/// An evaluated value.
#[derive(Debug, Clone, PartialEq)]
pub enum V {
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
    Color(Rgba),
    List(Vec<V>),
}

impl V {
    fn from_store(v: &Value) -> V {
        match v {
            Value::Null => V::Null,
            Value::Integer(i) => V::Num(*i as f64),
            Value::Real(r) => V::Num(*r),
            Value::Text(s) => V::Str(s.clone()),
        }
    }

    fn from_json(j: &Json) -> V {
        match j {
            Json::Null => V::Null,
            Json::Bool(b) => V::Bool(*b),
            Json::Number(n) => V::Num(n.as_f64().unwrap_or(0.0)),
            Json::String(s) => V::Str(s.clone()),
            Json::Array(a) => V::List(a.iter().map(V::from_json).collect()),
            Json::Object(_) => V::Null,
        }
    }

    pub fn num(&self) -> Option<f64> {
        match self {
            V::Num(n) => Some(*n),
            _ => None,
        }
    }

    pub fn color(&self) -> Option<Rgba> {
        match self {
            V::Color(c) => Some(*c),
            V::Str(s) => Rgba::parse(s),
            _ => None,
        }
    }

    pub fn truthy(&self) -> bool {
        matches!(self, V::Bool(true))
    }

    /// The text a `text-field` shows.
    pub fn text(&self) -> String {
        match self {
            V::Null => String::new(),
            V::Bool(b) => b.to_string(),
            V::Num(n) if n.fract() == 0.0 && n.abs() < 1e15 => format!("{}", *n as i64),
            V::Num(n) => n.to_string(),
            V::Str(s) => s.clone(),
            V::Color(c) => c.css(),
            V::List(l) => l.iter().map(V::text).collect::<Vec<_>>().join(","),
        }
    }
}

/// What an expression is evaluated against.
pub struct Ctx<'a> {
    pub zoom: f64,
    pub properties: &'a [(Cow<'static, str>, Value)],
    /// "Point", "LineString" or "Polygon".
    pub geometry_type: &'static str,
}

impl Ctx<'_> {
    fn get(&self, key: &str) -> Option<&Value> {
        self.properties.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Curve {
    Linear,
    Exponential(f64),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Lit(V),
    Get(String),
    Has(String),
    Zoom,
    GeometryType,
    Coalesce(Vec<Expr>),
    Match {
        input: Box<Expr>,
        arms: Vec<(Vec<V>, Expr)>,
        default: Box<Expr>,
    },
    Case {
        branches: Vec<(Expr, Expr)>,
        default: Box<Expr>,
    },
    Interpolate {
        curve: Curve,
        input: Box<Expr>,
        stops: Vec<(f64, Expr)>,
    },
    Step {
        input: Box<Expr>,
        base: Box<Expr>,
        stops: Vec<(f64, Expr)>,
    },
    Compare(Cmp, Box<Expr>, Box<Expr>),
    All(Vec<Expr>),
    Any(Vec<Expr>),
    Not(Box<Expr>),
    /// Whether the value is one of the listed ones (legacy `in` and `match`-style sets).
    In(Box<Expr>, Vec<V>),
    ToString(Box<Expr>),
    ToNumber(Vec<Expr>),
    Concat(Vec<Expr>),
}

impl Expr {
    /// A property value, an expression or a legacy `{"stops": …}` function.
    pub fn parse(j: &Json) -> Result<Expr, String> {
        match j {
            Json::Array(a) if a.first().is_some_and(Json::is_string) => parse_call(a),
            Json::Array(a) => Ok(Expr::Lit(V::List(a.iter().map(V::from_json).collect()))),
            Json::Object(o) if o.contains_key("stops") => parse_function(o),
            Json::String(s) => Ok(Expr::Lit(match Rgba::parse(s) {
                // Colours are parsed once here, not per feature.
                Some(c) if s.starts_with('#') || s.starts_with("rgb") || s.starts_with("hsl") => V::Color(c),
                _ => V::Str(s.clone()),
            })),
            other => Ok(Expr::Lit(V::from_json(other))),
        }
    }

    /// A layer `filter`: an expression, or the legacy filter syntax.
    pub fn parse_filter(j: &Json) -> Result<Expr, String> {
        let Json::Array(a) = j else { return Expr::parse(j) };
        let op = a.first().and_then(Json::as_str).unwrap_or("");
        let key_expr = |k: &Json| -> Option<Expr> {
            let k = k.as_str()?;
            Some(if k == "$type" { Expr::GeometryType } else { Expr::Get(k.to_string()) })
        };
        let legacy = a.get(1).is_some_and(Json::is_string);
        match op {
            "==" | "!=" | "<" | "<=" | ">" | ">=" if legacy && a.len() == 3 => {
                let key = key_expr(&a[1]).ok_or("bad filter key")?;
                Ok(Expr::Compare(cmp(op), Box::new(key), Box::new(Expr::Lit(V::from_json(&a[2])))))
            }
            "in" | "!in" if legacy => {
                let key = key_expr(&a[1]).ok_or("bad filter key")?;
                let e = Expr::In(Box::new(key), a[2..].iter().map(V::from_json).collect());
                Ok(if op == "in" { e } else { Expr::Not(Box::new(e)) })
            }
            "has" | "!has" if legacy => {
                let e = Expr::Has(a[1].as_str().unwrap_or_default().to_string());
                Ok(if op == "has" { e } else { Expr::Not(Box::new(e)) })
            }
            "all" | "any" | "none" => {
                let parts = a[1..].iter().map(Expr::parse_filter).collect::<Result<Vec<_>, _>>()?;
                Ok(match op {
                    "all" => Expr::All(parts),
                    "any" => Expr::Any(parts),
                    _ => Expr::Not(Box::new(Expr::Any(parts))),
                })
            }
            _ => Expr::parse(j),
        }
    }

    /// Whether the value is the same for every feature (only zoom may vary), so a layer
    /// evaluates it once.
    pub fn feature_constant(&self) -> bool {
        match self {
            Expr::Get(_) | Expr::Has(_) | Expr::GeometryType => false,
            Expr::Lit(_) | Expr::Zoom => true,
            Expr::Coalesce(v) | Expr::All(v) | Expr::Any(v) | Expr::ToNumber(v) | Expr::Concat(v) => v.iter().all(Expr::feature_constant),
            Expr::Match { input, arms, default } => input.feature_constant() && default.feature_constant() && arms.iter().all(|(_, e)| e.feature_constant()),
            Expr::Case { branches, default } => default.feature_constant() && branches.iter().all(|(c, e)| c.feature_constant() && e.feature_constant()),
            Expr::Interpolate { input, stops, .. } => input.feature_constant() && stops.iter().all(|(_, e)| e.feature_constant()),
            Expr::Step { input, base, stops } => input.feature_constant() && base.feature_constant() && stops.iter().all(|(_, e)| e.feature_constant()),
            Expr::Compare(_, a, b) => a.feature_constant() && b.feature_constant(),
            Expr::Not(e) | Expr::ToString(e) | Expr::In(e, _) => e.feature_constant(),
        }
    }

    pub fn eval(&self, ctx: &Ctx) -> V {
        match self {
            Expr::Lit(v) => v.clone(),
            Expr::Get(k) => ctx.get(k).map_or(V::Null, V::from_store),
            Expr::Has(k) => V::Bool(ctx.get(k).is_some_and(|v| !v.is_null())),
            Expr::Zoom => V::Num(ctx.zoom),
            Expr::GeometryType => V::Str(ctx.geometry_type.to_string()),
            Expr::Coalesce(v) => v.iter().map(|e| e.eval(ctx)).find(|v| *v != V::Null).unwrap_or(V::Null),
            Expr::Match { input, arms, default } => {
                let x = input.eval(ctx);
                arms.iter().find(|(labels, _)| labels.iter().any(|l| loosely_equal(l, &x))).map_or_else(|| default.eval(ctx), |(_, e)| e.eval(ctx))
            }
            Expr::Case { branches, default } => branches.iter().find(|(c, _)| c.eval(ctx).truthy()).map_or_else(|| default.eval(ctx), |(_, e)| e.eval(ctx)),
            Expr::Interpolate { curve, input, stops } => match input.eval(ctx).num() {
                Some(x) => interpolate(curve, x, stops, ctx),
                None => V::Null,
            },
            Expr::Step { input, base, stops } => {
                let x = input.eval(ctx).num().unwrap_or(f64::NEG_INFINITY);
                stops.iter().rev().find(|(s, _)| x >= *s).map_or_else(|| base.eval(ctx), |(_, e)| e.eval(ctx))
            }
            Expr::Compare(op, a, b) => V::Bool(compare(*op, &a.eval(ctx), &b.eval(ctx))),
            Expr::All(v) => V::Bool(v.iter().all(|e| e.eval(ctx).truthy())),
            Expr::Any(v) => V::Bool(v.iter().any(|e| e.eval(ctx).truthy())),
            Expr::Not(e) => V::Bool(!e.eval(ctx).truthy()),
            Expr::In(e, set) => {
                let x = e.eval(ctx);
                V::Bool(set.iter().any(|s| loosely_equal(s, &x)))
            }
            Expr::ToString(e) => V::Str(e.eval(ctx).text()),
            Expr::ToNumber(v) => v
                .iter()
                .find_map(|e| match e.eval(ctx) {
                    V::Num(n) => Some(n),
                    V::Str(s) => s.trim().parse().ok(),
                    V::Bool(b) => Some(b as u8 as f64),
                    _ => None,
                })
                .map_or(V::Null, V::Num),
            Expr::Concat(v) => V::Str(v.iter().map(|e| e.eval(ctx).text()).collect()),
        }
    }
}

fn cmp(op: &str) -> Cmp {
    match op {
        "==" => Cmp::Eq,
        "!=" => Cmp::Ne,
        "<" => Cmp::Lt,
        "<=" => Cmp::Le,
        ">" => Cmp::Gt,
        _ => Cmp::Ge,
    }
}

/// Equality across number types (a store integer 3 matches a style's 3.0).
fn loosely_equal(a: &V, b: &V) -> bool {
    match (a, b) {
        (V::Num(x), V::Num(y)) => x == y,
        _ => a == b,
    }
}

fn compare(op: Cmp, a: &V, b: &V) -> bool {
    let ord = match (a, b) {
        (V::Num(x), V::Num(y)) => x.partial_cmp(y),
        (V::Str(x), V::Str(y)) => Some(x.cmp(y)),
        _ => None,
    };
    match op {
        Cmp::Eq => loosely_equal(a, b),
        Cmp::Ne => !loosely_equal(a, b),
        Cmp::Lt => ord == Some(std::cmp::Ordering::Less),
        Cmp::Le => matches!(ord, Some(std::cmp::Ordering::Less | std::cmp::Ordering::Equal)),
        Cmp::Gt => ord == Some(std::cmp::Ordering::Greater),
        Cmp::Ge => matches!(ord, Some(std::cmp::Ordering::Greater | std::cmp::Ordering::Equal)),
    }
}

fn interpolate(curve: &Curve, x: f64, stops: &[(f64, Expr)], ctx: &Ctx) -> V {
    let Some(first) = stops.first() else { return V::Null };
    if x <= first.0 {
        return first.1.eval(ctx);
    }
    let last = stops.last().expect("non-empty");
    if x >= last.0 {
        return last.1.eval(ctx);
    }
    let i = stops.iter().position(|(s, _)| *s > x).expect("x < last stop");
    let ((x0, e0), (x1, e1)) = (&stops[i - 1], &stops[i]);
    let t = match curve {
        Curve::Exponential(base) if (*base - 1.0).abs() > 1e-9 => (base.powf(x - x0) - 1.0) / (base.powf(x1 - x0) - 1.0),
        _ => (x - x0) / (x1 - x0),
    };
    let (a, b) = (e0.eval(ctx), e1.eval(ctx));
    match (&a, &b) {
        (V::Num(p), V::Num(q)) => V::Num(p + (q - p) * t),
        _ => match (a.color(), b.color()) {
            (Some(p), Some(q)) => V::Color(p.lerp(q, t as f32)),
            _ => a,
        },
    }
}

fn args(a: &[Json], from: usize) -> Result<Vec<Expr>, String> {
    a.get(from..).unwrap_or_default().iter().map(Expr::parse).collect()
}

fn arg(a: &[Json], i: usize, op: &str) -> Result<Box<Expr>, String> {
    a.get(i).map(Expr::parse).transpose()?.map(Box::new).ok_or_else(|| format!("'{op}' needs more arguments"))
}

fn parse_call(a: &[Json]) -> Result<Expr, String> {
    let op = a[0].as_str().expect("checked by the caller");
    let key = |i: usize| a.get(i).and_then(Json::as_str).map(str::to_string).ok_or_else(|| format!("'{op}' needs a property name"));
    Ok(match op {
        "get" if a.len() == 2 => Expr::Get(key(1)?),
        "has" if a.len() == 2 => Expr::Has(key(1)?),
        "zoom" => Expr::Zoom,
        "geometry-type" => Expr::GeometryType,
        "literal" => Expr::Lit(a.get(1).map(V::from_json).unwrap_or(V::Null)),
        "coalesce" => Expr::Coalesce(args(a, 1)?),
        "to-string" => Expr::ToString(arg(a, 1, op)?),
        "to-number" => Expr::ToNumber(args(a, 1)?),
        "concat" => Expr::Concat(args(a, 1)?),
        "to-color" => *arg(a, 1, op)?,
        "all" => Expr::All(args(a, 1)?),
        "any" => Expr::Any(args(a, 1)?),
        "!" => Expr::Not(arg(a, 1, op)?),
        "==" | "!=" | "<" | "<=" | ">" | ">=" => Expr::Compare(cmp(op), arg(a, 1, op)?, arg(a, 2, op)?),
        "in" => {
            // ["in", needle, ["literal", [..]]]
            let set = match a.get(2) {
                Some(Json::Array(l)) if l.first().and_then(Json::as_str) == Some("literal") => l.get(1).and_then(Json::as_array).map(|v| v.iter().map(V::from_json).collect()),
                _ => None,
            };
            Expr::In(arg(a, 1, op)?, set.ok_or("'in' needs a literal array")?)
        }
        "match" => {
            if a.len() < 5 || a.len().is_multiple_of(2) {
                return Err("'match' needs an input, label/output pairs and a fallback".into());
            }
            let mut arms = Vec::new();
            for pair in a[2..a.len() - 1].chunks(2) {
                let labels = match &pair[0] {
                    Json::Array(l) => l.iter().map(V::from_json).collect(),
                    other => vec![V::from_json(other)],
                };
                arms.push((labels, Expr::parse(&pair[1])?));
            }
            Expr::Match { input: arg(a, 1, op)?, arms, default: arg(a, a.len() - 1, op)? }
        }
        "case" => {
            if a.len() < 4 || a.len() % 2 == 1 {
                return Err("'case' needs condition/output pairs and a fallback".into());
            }
            let branches = a[1..a.len() - 1].chunks(2).map(|p| Ok((Expr::parse(&p[0])?, Expr::parse(&p[1])?))).collect::<Result<Vec<_>, String>>()?;
            Expr::Case { branches, default: arg(a, a.len() - 1, op)? }
        }
        "interpolate" => {
            let kind = a.get(1).and_then(Json::as_array).ok_or("'interpolate' needs an interpolation type")?;
            let curve = match kind.first().and_then(Json::as_str) {
                Some("linear") => Curve::Linear,
                Some("exponential") => Curve::Exponential(kind.get(1).and_then(Json::as_f64).unwrap_or(1.0)),
                other => return Err(format!("interpolation {other:?} is not supported (linear, exponential are)")),
            };
            Expr::Interpolate { curve, input: arg(a, 2, op)?, stops: stops(&a[3..])? }
        }
        "step" => Expr::Step { input: arg(a, 1, op)?, base: arg(a, 2, op)?, stops: stops(&a[3..])? },
        _ => return Err(format!("expression operator '{op}' is not supported by the server renderer")),
    })
}

fn stops(a: &[Json]) -> Result<Vec<(f64, Expr)>, String> {
    if a.len() % 2 == 1 || a.is_empty() {
        return Err("stops must be input/output pairs".into());
    }
    a.chunks(2).map(|p| Ok((p[0].as_f64().ok_or("stop inputs must be numbers")?, Expr::parse(&p[1])?))).collect()
}

/// Legacy `{"base": b, "stops": [[zoom, value], …]}` (zoom functions) and
/// `{"property": p, "stops": …}`.
fn parse_function(o: &serde_json::Map<String, Json>) -> Result<Expr, String> {
    let base = o.get("base").and_then(Json::as_f64).unwrap_or(1.0);
    let input = match o.get("property").and_then(Json::as_str) {
        Some(p) => Expr::Get(p.to_string()),
        None => Expr::Zoom,
    };
    let stops = o["stops"]
        .as_array()
        .ok_or("stops must be an array")?
        .iter()
        .map(|s| {
            let s = s.as_array().filter(|s| s.len() == 2).ok_or("each stop is [input, value]")?;
            Ok((s[0].as_f64().ok_or("stop inputs must be numbers")?, Expr::parse(&s[1])?))
        })
        .collect::<Result<Vec<_>, String>>()?;
    if o.get("type").and_then(Json::as_str) == Some("interval") {
        let first = stops.first().ok_or("no stops")?.1.clone();
        return Ok(Expr::Step { input: Box::new(input), base: Box::new(first), stops });
    }
    Ok(Expr::Interpolate { curve: Curve::Exponential(base), input: Box::new(input), stops })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ctx<'a>(zoom: f64, props: &'a [(Cow<'static, str>, Value)]) -> Ctx<'a> {
        Ctx { zoom, properties: props, geometry_type: "Polygon" }
    }

    #[test]
    fn match_interpolate_and_coalesce_as_maplibre_defines_them() {
        let props = vec![(Cow::Borrowed("utility"), Value::Text("gas".into())), (Cow::Borrowed("height_m"), Value::Real(25.0))];
        let m = Expr::parse(&json!(["match", ["get", "utility"], "water", "#1f6fd1", "gas", "#f2c200", "#777777"])).unwrap();
        assert_eq!(m.eval(&ctx(14.0, &props)).color(), Rgba::parse("#f2c200"));
        let w = Expr::parse(&json!(["interpolate", ["linear"], ["zoom"], 12, 0.8, 16, 2.5])).unwrap();
        assert!((w.eval(&ctx(14.0, &props)).num().unwrap() - 1.65).abs() < 1e-9);
        assert_eq!(w.eval(&ctx(20.0, &props)).num(), Some(2.5));
        assert!(w.feature_constant() && !m.feature_constant());
        let c = Expr::parse(&json!(["interpolate", ["linear"], ["get", "height_m"], 0, "#000000", 50, "#ffffff"])).unwrap();
        let half = c.eval(&ctx(15.0, &props)).color().unwrap();
        assert!((half.r - 0.5).abs() < 0.01, "{half:?}");
        let h = Expr::parse(&json!(["coalesce", ["get", "floors"], 3.3])).unwrap();
        assert_eq!(h.eval(&ctx(15.0, &props)).num(), Some(3.3));
        let e = Expr::parse(&json!({"base": 2, "stops": [[10, 1], [12, 5]]})).unwrap();
        // base 2: t = (2¹ − 1) / (2² − 1) = 1/3 of the way from 1 to 5.
        assert!((e.eval(&ctx(11.0, &props)).num().unwrap() - 7.0 / 3.0).abs() < 1e-9);
    }

    #[test]
    fn legacy_and_expression_filters() {
        let props = vec![(Cow::Borrowed("land_use"), Value::Text("住宅區".into())), (Cow::Borrowed("severity"), Value::Integer(4))];
        let yes = [
            json!(["==", "land_use", "住宅區"]),
            json!(["in", "land_use", "商業區", "住宅區"]),
            json!(["all", [">=", "severity", 3], ["has", "land_use"], ["==", "$type", "Polygon"]]),
            json!([">", ["get", "severity"], 3.5]),
            json!(["in", ["get", "severity"], ["literal", [1, 4]]]),
            json!(["!", ["has", "nope"]]),
        ];
        for f in yes {
            assert!(Expr::parse_filter(&f).unwrap().eval(&ctx(15.0, &props)).truthy(), "{f}");
        }
        let no = [json!(["!=", "land_use", "住宅區"]), json!(["!in", "land_use", "住宅區"]), json!(["any", ["<", "severity", 2], ["!has", "land_use"]])];
        for f in no {
            assert!(!Expr::parse_filter(&f).unwrap().eval(&ctx(15.0, &props)).truthy(), "{f}");
        }
        assert!(Expr::parse(&json!(["distance", 1])).unwrap_err().contains("distance"));
    }
}
