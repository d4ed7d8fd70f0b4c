//! A tiny seeded PRNG (SplitMix64) so every output is byte-for-byte reproducible
//! from the seed alone, independent of any crate's algorithm choices.

/// SplitMix64: 64-bit state, passes BigCrush, trivial to seed from any u64.
#[derive(Clone, Debug)]
pub struct Rng {
    state: u64,
}

/// One SplitMix64 output step; also used as a hash finaliser.
#[inline]
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Hash a seed and a few integers into a new seed. Datasets derive one RNG per
/// block / road / purpose this way, so each can be regenerated independently and
/// in any order (the large generator walks blocks lazily).
pub fn hash(seed: u64, parts: &[i64]) -> u64 {
    let mut h = mix(seed ^ 0x5EED_F0F0_7A1A_0001);
    for &p in parts {
        h = mix(h ^ (p as u64).wrapping_add(0x9E37_79B9_7F4A_7C15));
    }
    h
}

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng { state: seed }
    }

    /// An RNG for a named sub-stream, e.g. `Rng::derive(seed, &[BLOCK, i, j])`.
    pub fn derive(seed: u64, parts: &[i64]) -> Self {
        Rng::new(hash(seed, parts))
    }

    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.state)
    }

    /// Uniform in [0, 1) with 53 bits of precision.
    #[inline]
    pub fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in [lo, hi).
    #[inline]
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.f64()
    }

    /// Uniform integer in [lo, hi] (inclusive).
    #[inline]
    pub fn int(&mut self, lo: i64, hi: i64) -> i64 {
        debug_assert!(hi >= lo);
        let span = (hi - lo + 1) as u64;
        lo + (self.next_u64() % span) as i64
    }

    /// True with probability p.
    #[inline]
    pub fn chance(&mut self, p: f64) -> bool {
        self.f64() < p
    }

    /// Uniform index in 0..n.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[(self.next_u64() % items.len() as u64) as usize]
    }

    /// Pick by weight: `items` is a list of (value, weight).
    pub fn weighted<T: Copy>(&mut self, items: &[(T, f64)]) -> T {
        let total: f64 = items.iter().map(|(_, w)| w).sum();
        let mut r = self.f64() * total;
        for &(v, w) in items {
            if r < w {
                return v;
            }
            r -= w;
        }
        items[items.len() - 1].0
    }

    pub fn fill_bytes(&mut self, out: &mut [u8]) {
        for chunk in out.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reproducible_and_in_range() {
        let mut a = Rng::new(42);
        let mut b = Rng::new(42);
        for _ in 0..1000 {
            let x = a.f64();
            assert_eq!(x, b.f64());
            assert!((0.0..1.0).contains(&x));
            let k = a.int(-3, 3);
            assert_eq!(k, b.int(-3, 3));
            assert!((-3..=3).contains(&k));
        }
        assert_ne!(hash(1, &[1, 2]), hash(1, &[2, 1]));
    }
}
