//! Formosa's benchmarks. Kernels are criterion benches in `benches/`; whole-system,
//! side-by-side comparisons with peers are the shell scripts in this folder.
