//! Runnable strait programs (`src/bin`) and the cross-runtime benchmark suite
//! `strait-bench`. The library target exists only to compile the README's program as a
//! doctest, so the README stays true.

#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
