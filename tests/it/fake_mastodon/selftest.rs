//! Self-tests: the fake refuses what the real server refuses.
