//! Side-by-side benchmark of svscan and the C s6-svscan (to come).

fn main() {}
