//! [`when_all`]: wait for every child; the first error in completion order stops the
//! siblings.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::{MaybeDone, Scope};

/// Runs every child to completion, concurrently, inside the calling task.
///
/// Each child returns `Result<T, E>` (one `E` for all). The result is `Ok` with every
/// value, in input order, or `Err` with the **first error in completion order**; that
/// error requests stop for the siblings, which the combinator still awaits before it
/// returns. A stop requested on the caller's token is forwarded to every child.
///
/// Accepts tuples of up to six futures and `Vec`s of one future type.
///
/// ```
/// use strait_streams::{block_on, when_all};
/// let both = block_on(when_all((
///     async { Ok::<_, std::io::Error>(1) },
///     async { Ok("two") },
/// )));
/// assert_eq!(both.unwrap(), (1, "two"));
/// let many: Vec<_> = (0..3).map(|i| async move { Ok::<_, ()>(i * 10) }).collect();
/// assert_eq!(block_on(when_all(many)), Ok(vec![0, 10, 20]));
/// ```
pub fn when_all<C: IntoWhenAll>(children: C) -> C::Future {
    children.into_when_all()
}

/// Collections of futures that [`when_all`] accepts.
pub trait IntoWhenAll {
    /// The combinator future.
    type Future: Future;
    /// Builds it.
    fn into_when_all(self) -> Self::Future;
}

/// [`when_all`] over a `Vec` of futures.
pub struct WhenAllVec<F: Future> {
    children: Vec<MaybeDone<F>>,
    error_at: Option<usize>,
    /// Last: drops after the children, so its stop source can be reused.
    scope: Scope,
}

impl<T, E, F: Future<Output = Result<T, E>>> IntoWhenAll for Vec<F> {
    type Future = WhenAllVec<F>;
    fn into_when_all(self) -> WhenAllVec<F> {
        WhenAllVec {
            scope: Scope::new(),
            children: self.into_iter().map(MaybeDone::Running).collect(),
            error_at: None,
        }
    }
}

impl<T, E, F: Future<Output = Result<T, E>>> Future for WhenAllVec<F> {
    type Output = Result<Vec<T>, E>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `scope` and the children are structurally pinned; the Vec is never
        // resized after construction, so children never move.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: `scope` is structurally pinned (as above).
        let scope = unsafe { Pin::new_unchecked(&mut this.scope) };
        let (children, error_at) = (&mut this.children, &mut this.error_at);
        let mut running = false;
        let mut stop = false;
        scope.enter(cx, |cx| {
            for (i, child) in children.iter_mut().enumerate() {
                // SAFETY: see above.
                let child = unsafe { Pin::new_unchecked(child) };
                if let Some(Err(_)) = child.poll_child(cx) {
                    if error_at.is_none() {
                        *error_at = Some(i);
                        stop = true;
                    }
                }
            }
            running = children.iter().any(MaybeDone::is_running);
        });
        if stop {
            this.scope.stop_children();
            if running {
                // Siblings were stopped after their poll: poll them again.
                cx.waker().wake_by_ref();
            }
        }
        if running {
            return Poll::Pending;
        }
        let mut outputs = std::mem::take(&mut this.children)
            .into_iter()
            .map(|c| match c {
                MaybeDone::Done(out) => out,
                _ => unreachable!("every child finished"),
            });
        if let Some(i) = this.error_at {
            return Poll::Ready(Err(outputs
                .nth(i)
                .expect("index in range")
                .err()
                .expect("error")));
        }
        Poll::Ready(outputs.collect())
    }
}

macro_rules! when_all_tuple {
    ($name:ident; $($F:ident $T:ident $idx:tt),+) => {
        /// [`when_all`] over a tuple of futures.
        pub struct $name<E, $($F: Future),+> {
            children: ($(MaybeDone<$F>,)+),
            error: Option<E>,
            /// Last: drops after the children, so its stop source can be reused.
            scope: Scope,
        }

        impl<E, $($T, $F: Future<Output = Result<$T, E>>),+> IntoWhenAll for ($($F,)+) {
            type Future = $name<E, $($F),+>;
            fn into_when_all(self) -> Self::Future {
                $name {
                    scope: Scope::new(),
                    children: ($(MaybeDone::Running(self.$idx),)+),
                    error: None,
                }
            }
        }

        impl<E, $($T, $F: Future<Output = Result<$T, E>>),+> Future for $name<E, $($F),+> {
            type Output = Result<($($T,)+), E>;
            fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
                // SAFETY: `scope` and the children are structurally pinned and never
                // moved; `error` is not pinned.
                let this = unsafe { self.get_unchecked_mut() };
                // SAFETY: `scope` is structurally pinned (as above).
                let scope = unsafe { Pin::new_unchecked(&mut this.scope) };
                let (children, error) = (&mut this.children, &mut this.error);
                let mut stop = false;
                let running = scope.enter(cx, |cx| {
                    $(
                        // SAFETY: see above.
                        let child = unsafe { Pin::new_unchecked(&mut children.$idx) };
                        if let Some(Err(_)) = child.poll_child(cx) {
                            if error.is_none() {
                                // SAFETY: see above; the child just finished.
                                let child = unsafe { Pin::new_unchecked(&mut children.$idx) };
                                *error = child.take().err();
                                stop = true;
                            }
                        }
                    )+
                    false $(|| children.$idx.is_running())+
                });
                if stop {
                    this.scope.stop_children();
                    if running {
                        cx.waker().wake_by_ref();
                    }
                }
                if running {
                    return Poll::Pending;
                }
                if let Some(err) = this.error.take() {
                    return Poll::Ready(Err(err));
                }
                Poll::Ready(Ok(($(
                    // SAFETY: every child finished; no pinned future remains.
                    match unsafe { Pin::new_unchecked(&mut this.children.$idx) }.take() {
                        Ok(v) => v,
                        Err(_) => unreachable!("errors are recorded"),
                    },
                )+)))
            }
        }
    };
}

when_all_tuple!(WhenAll2; A TA 0, B TB 1);
when_all_tuple!(WhenAll3; A TA 0, B TB 1, C TC 2);
when_all_tuple!(WhenAll4; A TA 0, B TB 1, C TC 2, D TD 3);
when_all_tuple!(WhenAll5; A TA 0, B TB 1, C TC 2, D TD 3, G TG 4);
when_all_tuple!(WhenAll6; A TA 0, B TB 1, C TC 2, D TD 3, G TG 4, H TH 5);
