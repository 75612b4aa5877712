//! Structured concurrency: [`when_all`], [`when_any`], [`timeout`] and [`delay`], and
//! their futures. (The timer service they run on is in [`driver`](crate::driver).)
//!
//! Children are polled in place inside the combinator (no spawn, no allocation per
//! child), each under the parent's environment with the combinator's own stop token.
//! The parent's stop request is forwarded to that token. A finished combinator hands
//! its stop source to the next one on the thread once no token of it is left, so
//! combinators allocate nothing in steady state. Every combinator returns only
//! after **all** its children have finished: losers and siblings of a failure are
//! stopped through their stop token and awaited, never abandoned mid-operation.

pub(crate) mod driven_timer_table;
mod scope;
pub(crate) mod timer;
pub(crate) mod timer_table;
mod when_all;
mod when_any;

pub use timer::{delay, delay_until, timeout, Delay, Timeout};
pub(crate) use timer_table::TimerTable;
pub use when_all::{
    when_all, IntoWhenAll, WhenAll2, WhenAll3, WhenAll4, WhenAll5, WhenAll6, WhenAllVec,
};
pub use when_any::{
    when_any, IntoWhenAny, OneOf2, OneOf3, OneOf4, OneOf5, OneOf6, WhenAny, WhenAny2, WhenAny3,
    WhenAny4, WhenAny5, WhenAny6,
};

pub(crate) use scope::{MaybeDone, Scope};
