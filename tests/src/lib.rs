//! End-to-end test package (the tests live in `tests/`).
