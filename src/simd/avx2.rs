//! AVX2 + FMA kernels: 8 ymm registers of accumulators (32 f64 or 64 f32 lanes).
super::level_kernels!("avx2,fma", 32, 64);
