//! CSS colours as MapLibre styles write them: `#rgb`, `#rrggbb`, `#rrggbbaa`, `rgb()`,
//! `rgba()`, `hsl()`, `hsla()` and the common names.

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rgba {
    pub r: f32,
    pub g: f32,
    pub b: f32,
    pub a: f32,
}

impl Rgba {
    pub const TRANSPARENT: Rgba = Rgba { r: 0.0, g: 0.0, b: 0.0, a: 0.0 };
    pub const BLACK: Rgba = Rgba { r: 0.0, g: 0.0, b: 0.0, a: 1.0 };
    pub const WHITE: Rgba = Rgba { r: 1.0, g: 1.0, b: 1.0, a: 1.0 };

    pub fn parse(s: &str) -> Option<Rgba> {
        let s = s.trim().to_ascii_lowercase();
        if let Some(hex) = s.strip_prefix('#') {
            return parse_hex(hex);
        }
        if let Some(body) = s.strip_prefix("rgba(").or_else(|| s.strip_prefix("rgb(")).and_then(|b| b.strip_suffix(')')) {
            let v: Vec<f32> = body.split(',').map(|p| p.trim().parse().ok()).collect::<Option<_>>()?;
            if v.len() < 3 || v.len() > 4 {
                return None;
            }
            return Some(Rgba { r: v[0] / 255.0, g: v[1] / 255.0, b: v[2] / 255.0, a: *v.get(3).unwrap_or(&1.0) }.clamped());
        }
        if let Some(body) = s.strip_prefix("hsla(").or_else(|| s.strip_prefix("hsl(")).and_then(|b| b.strip_suffix(')')) {
            let p: Vec<&str> = body.split(',').map(str::trim).collect();
            if p.len() < 3 || p.len() > 4 {
                return None;
            }
            let h: f32 = p[0].parse().ok()?;
            let sat: f32 = p[1].strip_suffix('%')?.parse::<f32>().ok()? / 100.0;
            let l: f32 = p[2].strip_suffix('%')?.parse::<f32>().ok()? / 100.0;
            let a = p.get(3).map_or(Some(1.0), |a| a.parse().ok())?;
            let (r, g, b) = hsl_to_rgb(h, sat, l);
            return Some(Rgba { r, g, b, a }.clamped());
        }
        let named = match s.as_str() {
            "black" => "000000",
            "white" => "ffffff",
            "red" => "ff0000",
            "green" => "008000",
            "blue" => "0000ff",
            "yellow" => "ffff00",
            "orange" => "ffa500",
            "gray" | "grey" => "808080",
            "brown" => "a52a2a",
            "transparent" => return Some(Rgba::TRANSPARENT),
            _ => return None,
        };
        parse_hex(named)
    }

    fn clamped(self) -> Rgba {
        Rgba { r: self.r.clamp(0.0, 1.0), g: self.g.clamp(0.0, 1.0), b: self.b.clamp(0.0, 1.0), a: self.a.clamp(0.0, 1.0) }
    }

    pub fn lerp(self, o: Rgba, t: f32) -> Rgba {
        let l = |a: f32, b: f32| a + (b - a) * t;
        Rgba { r: l(self.r, o.r), g: l(self.g, o.g), b: l(self.b, o.b), a: l(self.a, o.a) }
    }

    pub fn with_opacity(self, opacity: f32) -> Rgba {
        Rgba { a: self.a * opacity.clamp(0.0, 1.0), ..self }
    }

    pub fn to_skia(self) -> tiny_skia::Color {
        tiny_skia::Color::from_rgba(self.r, self.g, self.b, self.a).unwrap_or(tiny_skia::Color::BLACK)
    }

    /// 8-bit RGBA, for grouping features that draw alike.
    pub fn bytes(self) -> [u8; 4] {
        [self.r, self.g, self.b, self.a].map(|c| (c * 255.0).round() as u8)
    }

    pub fn css(self) -> String {
        let [r, g, b, _] = self.bytes();
        format!("rgba({r},{g},{b},{})", self.a)
    }
}

fn parse_hex(hex: &str) -> Option<Rgba> {
    if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let digit = |i: usize, n: usize| u8::from_str_radix(&hex[i * n..i * n + n], 16).ok().map(|v| if n == 1 { v * 17 } else { v } as f32 / 255.0);
    match hex.len() {
        3 | 4 => Some(Rgba { r: digit(0, 1)?, g: digit(1, 1)?, b: digit(2, 1)?, a: if hex.len() == 4 { digit(3, 1)? } else { 1.0 } }),
        6 | 8 => Some(Rgba { r: digit(0, 2)?, g: digit(1, 2)?, b: digit(2, 2)?, a: if hex.len() == 8 { digit(3, 2)? } else { 1.0 } }),
        _ => None,
    }
}

fn hsl_to_rgb(h: f32, s: f32, l: f32) -> (f32, f32, f32) {
    let c = (1.0 - (2.0 * l - 1.0).abs()) * s;
    let hp = (h.rem_euclid(360.0)) / 60.0;
    let x = c * (1.0 - (hp % 2.0 - 1.0).abs());
    let (r, g, b) = match hp as u32 {
        0 => (c, x, 0.0),
        1 => (x, c, 0.0),
        2 => (0.0, c, x),
        3 => (0.0, x, c),
        4 => (x, 0.0, c),
        _ => (c, 0.0, x),
    };
    let m = l - c / 2.0;
    (r + m, g + m, b + m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn css_forms() {
        assert_eq!(Rgba::parse("#f2c200").unwrap().bytes(), [0xf2, 0xc2, 0x00, 255]);
        assert_eq!(Rgba::parse("#fff").unwrap().bytes(), [255, 255, 255, 255]);
        assert_eq!(Rgba::parse("rgba(10, 20, 30, 0.5)").unwrap().bytes(), [10, 20, 30, 128]);
        assert_eq!(Rgba::parse("hsl(0, 100%, 50%)").unwrap().bytes(), [255, 0, 0, 255]);
        assert_eq!(Rgba::parse("white"), Some(Rgba::WHITE));
        for bad in ["#ggg", "#12345", "rgb(1,2)", "nope", ""] {
            assert_eq!(Rgba::parse(bad), None, "{bad}");
        }
    }
}
