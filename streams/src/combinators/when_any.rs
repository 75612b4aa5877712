//! [`when_any`]: the first success wins and stops the rest.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::{MaybeDone, Scope};

/// Runs the children concurrently inside the calling task; the first to return `Ok`
/// wins and requests stop for the others.
///
/// Errors never win and do not stop the siblings (as in the papers: to treat an error
/// as a win, map it to `Ok` in the child). Returns `Ok((index, value))` of the winner,
/// or — when every child failed — the error of the child that finished last. Returns
/// only after **every** child finished, so losers are never abandoned mid-operation.
///
/// # Panics
/// If `children` is empty: there would be nothing to wait for and no error to report.
///
/// ```
/// use strait_streams::{block_on, when_any, yield_now};
/// let fast = Box::pin(async { Ok::<_, ()>("fast") });
/// let slow = Box::pin(async {
///     for _ in 0..3 { yield_now().await; }
///     Ok::<_, ()>("slow")
/// });
/// let futs: Vec<std::pin::Pin<Box<dyn std::future::Future<Output = _> + Send>>> = vec![slow, fast];
/// assert_eq!(block_on(when_any(futs)), Ok((1, "fast")));
/// ```
pub fn when_any<T, E, F, I>(children: I) -> WhenAny<F>
where
    I: IntoIterator<Item = F>,
    F: Future<Output = Result<T, E>>,
{
    let children: Vec<_> = children.into_iter().map(MaybeDone::Running).collect();
    assert!(!children.is_empty(), "when_any needs at least one child");
    WhenAny {
        scope: Scope::new(),
        children,
        winner: None,
        last_error: None,
    }
}

/// Future returned by [`when_any`].
pub struct WhenAny<F: Future> {
    scope: Scope,
    children: Vec<MaybeDone<F>>,
    winner: Option<usize>,
    last_error: Option<usize>,
}

impl<T, E, F: Future<Output = Result<T, E>>> Future for WhenAny<F> {
    type Output = Result<(usize, T), E>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `scope` and the children are structurally pinned; the Vec is never
        // resized after construction.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: `scope` is structurally pinned (as above).
        let scope = unsafe { Pin::new_unchecked(&mut this.scope) };
        let (children, winner, last_error) =
            (&mut this.children, &mut this.winner, &mut this.last_error);
        let mut newly_won = false;
        let running = scope.enter(cx, |cx| {
            for (i, child) in children.iter_mut().enumerate() {
                // SAFETY: see above.
                let child = unsafe { Pin::new_unchecked(child) };
                match child.poll_child(cx) {
                    Some(Ok(_)) if winner.is_none() => {
                        *winner = Some(i);
                        newly_won = true;
                    }
                    Some(Err(_)) => *last_error = Some(i),
                    _ => {}
                }
            }
            children.iter().any(MaybeDone::is_running)
        });
        if newly_won {
            this.scope.stop_children();
            if running {
                cx.waker().wake_by_ref();
            }
        }
        if running {
            return Poll::Pending;
        }
        let pick = this
            .winner
            .or(this.last_error)
            .expect("every child finished");
        // SAFETY: every child finished; no pinned future remains.
        let out = unsafe { Pin::new_unchecked(&mut this.children[pick]) }.take();
        Poll::Ready(out.map(|v| (pick, v)))
    }
}
