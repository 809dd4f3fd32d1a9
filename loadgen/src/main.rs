//! Parley's load generator (being written).

fn main() {}
