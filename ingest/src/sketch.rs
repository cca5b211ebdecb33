//! Distinct counts in bounded memory, whatever the table's size: exact while a column has
//! few distinct values, then a HyperLogLog estimate in 16 KiB. Holding every value of a
//! 50M-row identifier column to count it is what made statistics the largest memory
//! cost of an ingest.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};

/// Up to this many distinct values the count is exact (a set of 64-bit hashes, ~1 MiB at
/// most); past it, estimated with a standard error of 1.04/√16,384 ≈ 0.8%.
pub(crate) const EXACT: usize = 1 << 16;

/// Bits of the hash that pick a register.
const PRECISION: u32 = 14;
const REGISTERS: usize = 1 << PRECISION;

/// Keys that already are well-mixed 64-bit hashes: hashing them again would be waste.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

pub(crate) type PrehashedState = BuildHasherDefault<Prehashed>;

/// The distinct values seen so far, by their 64-bit hashes.
#[derive(Debug)]
pub(crate) enum Distinct {
    Exact(HashSet<u64, PrehashedState>),
    Sketch(Box<[u8]>),
}

impl Default for Distinct {
    fn default() -> Self {
        Distinct::Exact(HashSet::default())
    }
}

impl Distinct {
    pub(crate) fn insert(&mut self, hash: u64) {
        match self {
            Distinct::Exact(set) => {
                set.insert(hash);
                if set.len() > EXACT {
                    let mut registers = vec![0_u8; REGISTERS].into_boxed_slice();
                    for &h in set.iter() {
                        observe(&mut registers, h);
                    }
                    *self = Distinct::Sketch(registers);
                }
            }
            Distinct::Sketch(registers) => observe(registers, hash),
        }
    }

    pub(crate) fn count(&self) -> u64 {
        match self {
            Distinct::Exact(set) => set.len() as u64,
            Distinct::Sketch(registers) => estimate(registers),
        }
    }
}

fn observe(registers: &mut [u8], hash: u64) {
    // A fast hash need not spread its high bits, and the register index and rank read
    // exactly those: murmur3's finalizer spreads every input bit over all of them.
    let hash = fmix64(hash);
    let index = (hash >> (64 - PRECISION)) as usize;
    // The guard bit bounds the rank when the remaining bits are all zero.
    let rest = (hash << PRECISION) | (1 << (PRECISION - 1));
    let rank = rest.leading_zeros() as u8 + 1;
    if registers[index] < rank {
        registers[index] = rank;
    }
}

fn fmix64(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// The HyperLogLog estimate, with linear counting for small cardinalities (Flajolet et
/// al. 2007; a 64-bit hash needs no large-range correction).
fn estimate(registers: &[u8]) -> u64 {
    let m = REGISTERS as f64;
    let alpha = 0.7213 / (1.0 + 1.079 / m);
    let sum: f64 = registers.iter().map(|&r| (-f64::from(r)).exp2()).sum();
    let raw = alpha * m * m / sum;
    let zeros = registers.iter().filter(|&&r| r == 0).count();
    let estimate = if raw <= 2.5 * m && zeros > 0 { m * (m / zeros as f64).ln() } else { raw };
    estimate.round() as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasher;

    fn hash(n: u64) -> u64 {
        foldhash::fast::FixedState::with_seed(7).hash_one(n)
    }

    #[test]
    fn exact_while_small() {
        let mut d = Distinct::default();
        for i in 0..EXACT as u64 {
            d.insert(hash(i));
            d.insert(hash(i));
        }
        assert!(matches!(d, Distinct::Exact(_)));
        assert_eq!(d.count(), EXACT as u64);
    }

    #[test]
    fn estimates_within_three_standard_errors() {
        for n in [EXACT as u64 + 1, 200_000, 3_000_000] {
            let mut d = Distinct::default();
            for i in 0..n {
                d.insert(hash(i));
                if i % 3 == 0 {
                    d.insert(hash(i));
                }
            }
            assert!(matches!(d, Distinct::Sketch(_)), "{n}");
            let error = (d.count() as f64 - n as f64).abs() / n as f64;
            assert!(error < 0.025, "{n}: estimated {} ({error:.4})", d.count());
        }
    }
}
