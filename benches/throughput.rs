//! Normalize + detect throughput (filled in with the benchmark work of issue 2).
fn main() {}
