//! AVX-512F kernels: 8 zmm registers of accumulators (64 f64 or 128 f32 lanes).
super::level_kernels!("avx512f", 64, 128);
