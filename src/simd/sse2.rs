//! SSE2 kernels: 8 xmm registers of accumulators (16 f64 or 32 f32 lanes).
super::level_kernels!("sse2", 16, 32);
