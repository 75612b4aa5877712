//! [`when_any`]: the first success wins and stops the rest.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::{MaybeDone, Scope};

/// Runs the children concurrently inside the calling task; the first to return `Ok`
/// wins and requests stop for the others.
///
/// Errors never win and do not stop the siblings (as in the papers: to treat an error
/// as a win, map it to `Ok` in the child). The result is the winner's value or — when
/// every child failed — the error of the child that finished last. Returns only after
/// **every** child finished, so losers are never abandoned mid-operation.
///
/// Accepts a `Vec` of one future type (the winner comes back as `(index, value)`) or a
/// tuple of two to six futures of different types (the winner comes back as the
/// matching variant of [`OneOf2`] … [`OneOf6`]); all children share one error type.
///
/// # Panics
/// If a `Vec` of children is empty: there would be nothing to wait for and no error to
/// report.
///
/// ```
/// use std::time::Duration;
/// use strait_streams::{block_on, delay, when_any, yield_now, OneOf2};
/// let fast = Box::pin(async { Ok::<_, ()>("fast") });
/// let slow = Box::pin(async {
///     for _ in 0..3 { yield_now().await; }
///     Ok::<_, ()>("slow")
/// });
/// let futs: Vec<std::pin::Pin<Box<dyn std::future::Future<Output = _> + Send>>> = vec![slow, fast];
/// assert_eq!(block_on(when_any(futs)), Ok((1, "fast")));
///
/// // Different types: a line of input or a timer, whichever comes first.
/// let line = async {
///     delay(Duration::from_secs(10)).await?;
///     Ok::<_, std::io::Error>(String::from("hello"))
/// };
/// let tick = async { delay(Duration::from_millis(1)).await.map(|()| 1u32) };
/// match block_on(when_any((line, tick))).unwrap() {
///     OneOf2::First(text) => println!("read {text}"),
///     OneOf2::Second(n) => assert_eq!(n, 1),
/// }
/// ```
pub fn when_any<C: IntoWhenAny>(children: C) -> C::Future {
    children.into_when_any()
}

/// Collections of futures that [`when_any`] accepts.
pub trait IntoWhenAny {
    /// The combinator future.
    type Future: Future;
    /// Builds it.
    fn into_when_any(self) -> Self::Future;
}

impl<T, E, F: Future<Output = Result<T, E>>> IntoWhenAny for Vec<F> {
    type Future = WhenAny<F>;
    fn into_when_any(self) -> WhenAny<F> {
        assert!(!self.is_empty(), "when_any needs at least one child");
        WhenAny {
            scope: Scope::new(),
            children: self.into_iter().map(MaybeDone::Running).collect(),
            winner: None,
            last_error: None,
        }
    }
}

/// Future returned by [`when_any`] over a `Vec`.
pub struct WhenAny<F: Future> {
    children: Vec<MaybeDone<F>>,
    winner: Option<usize>,
    last_error: Option<usize>,
    /// Last: drops after the children, so its stop source can be reused.
    scope: Scope,
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

macro_rules! one_of {
    ($name:ident; $($T:ident $V:ident),+) => {
        /// The winner of a [`when_any`] over a tuple: the variant names the position of
        /// the child that won.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name<$($T),+> {
            $(
                #[allow(missing_docs)]
                $V($T),
            )+
        }
    };
}

one_of!(OneOf2; A First, B Second);
one_of!(OneOf3; A First, B Second, C Third);
one_of!(OneOf4; A First, B Second, C Third, D Fourth);
one_of!(OneOf5; A First, B Second, C Third, D Fourth, G Fifth);
one_of!(OneOf6; A First, B Second, C Third, D Fourth, G Fifth, H Sixth);

macro_rules! when_any_tuple {
    ($name:ident, $out:ident; $($F:ident $T:ident $idx:tt $V:ident),+) => {
        /// [`when_any`] over a tuple of futures.
        pub struct $name<$($F: Future),+> {
            children: ($(MaybeDone<$F>,)+),
            winner: Option<usize>,
            last_error: Option<usize>,
            /// Last: drops after the children, so its stop source can be reused.
            scope: Scope,
        }

        impl<E, $($T, $F: Future<Output = Result<$T, E>>),+> IntoWhenAny for ($($F,)+) {
            type Future = $name<$($F),+>;
            fn into_when_any(self) -> Self::Future {
                $name {
                    scope: Scope::new(),
                    children: ($(MaybeDone::Running(self.$idx),)+),
                    winner: None,
                    last_error: None,
                }
            }
        }

        impl<E, $($T, $F: Future<Output = Result<$T, E>>),+> Future for $name<$($F),+> {
            type Output = Result<$out<$($T),+>, E>;
            fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
                // SAFETY: `scope` and the children are structurally pinned and never
                // moved; the indices are not pinned.
                let this = unsafe { self.get_unchecked_mut() };
                // SAFETY: `scope` is structurally pinned (as above).
                let scope = unsafe { Pin::new_unchecked(&mut this.scope) };
                let (children, winner, last_error) =
                    (&mut this.children, &mut this.winner, &mut this.last_error);
                let mut newly_won = false;
                let running = scope.enter(cx, |cx| {
                    $(
                        // SAFETY: see above.
                        let child = unsafe { Pin::new_unchecked(&mut children.$idx) };
                        match child.poll_child(cx) {
                            Some(Ok(_)) if winner.is_none() => {
                                *winner = Some($idx);
                                newly_won = true;
                            }
                            Some(Err(_)) => *last_error = Some($idx),
                            _ => {}
                        }
                    )+
                    false $(|| children.$idx.is_running())+
                });
                if newly_won {
                    this.scope.stop_children();
                    if running {
                        // Losers were stopped after their poll: poll them again.
                        cx.waker().wake_by_ref();
                    }
                }
                if running {
                    return Poll::Pending;
                }
                let pick = this.winner.or(this.last_error).expect("every child finished");
                match pick {
                    $(
                        $idx => {
                            // SAFETY: every child finished; no pinned future remains.
                            let child = unsafe { Pin::new_unchecked(&mut this.children.$idx) };
                            Poll::Ready(child.take().map($out::$V))
                        }
                    )+
                    _ => unreachable!("the pick is a child index"),
                }
            }
        }
    };
}

when_any_tuple!(WhenAny2, OneOf2; A TA 0 First, B TB 1 Second);
when_any_tuple!(WhenAny3, OneOf3; A TA 0 First, B TB 1 Second, C TC 2 Third);
when_any_tuple!(WhenAny4, OneOf4; A TA 0 First, B TB 1 Second, C TC 2 Third, D TD 3 Fourth);
when_any_tuple!(
    WhenAny5, OneOf5;
    A TA 0 First, B TB 1 Second, C TC 2 Third, D TD 3 Fourth, G TG 4 Fifth
);
when_any_tuple!(
    WhenAny6, OneOf6;
    A TA 0 First, B TB 1 Second, C TC 2 Third, D TD 3 Fourth, G TG 4 Fifth, H TH 5 Sixth
);
