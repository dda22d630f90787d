//! What this CPU can run: the one place that asks it. The SIMD dispatch (`crate::simd`) and the
//! check of OpenBLAS's kernel choice (`crate::blas::coretype`) both read these answers, so they
//! cannot disagree about the machine.

/// Instruction-set extensions rayblas cares about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Feature {
    /// SSE2 (every x86-64 CPU).
    Sse2,
    /// AVX2 with FMA (the `avx2` SIMD level; OpenBLAS's Haswell kernels).
    Avx2Fma,
    /// AVX-512F (the `avx512` SIMD level).
    Avx512F,
    /// AVX-512 F, DQ, BW and VL: what OpenBLAS's SkylakeX kernels and BLIS's `skx` need.
    Avx512Skx,
}

/// Whether this CPU has `feature` (std caches the CPUID answers).
pub(crate) fn has(feature: Feature) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::is_x86_feature_detected as has;
        match feature {
            Feature::Sse2 => has!("sse2"),
            Feature::Avx2Fma => has!("avx2") && has!("fma"),
            Feature::Avx512F => has!("avx512f"),
            Feature::Avx512Skx => {
                has!("avx512f") && has!("avx512dq") && has!("avx512bw") && has!("avx512vl")
            }
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = feature;
        false
    }
}
