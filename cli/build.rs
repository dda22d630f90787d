//! With the `netlib-system` backend, the library's build script finds the reference BLAS
//! directory and passes it on (`DEP_RAYBLAS_NETLIB_DIR`). An rpath to it makes this binary load
//! the reference BLAS it was linked against, not whatever Debian's `libblas.so.3` alternative
//! points to at run time (often OpenBLAS).

fn main() {
    println!("cargo:rerun-if-env-changed=DEP_RAYBLAS_NETLIB_DIR");
    if let Some(dir) = std::env::var_os("DEP_RAYBLAS_NETLIB_DIR") {
        println!(
            "cargo:rustc-link-arg=-Wl,-rpath,{}",
            std::path::Path::new(&dir).display()
        );
    }
}
