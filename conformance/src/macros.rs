//! Macros that expand a suite into one `#[test]` per case.

/// Expands the stream-pair suite into a module `$name` with one `#[test]` per case, run
/// against the factory expression `$factory` (a
/// [`TransportFactory`](crate::TransportFactory) or a
/// [`StreamPairFactory`](crate::StreamPairFactory), evaluated once per case).
#[macro_export]
macro_rules! stream_pair_suite {
    ($name:ident, $factory:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            $crate::__stream_pair_cases!(tests $factory);
        }
    };
}

/// The one list of stream-pair cases, in run order: expands into the suite's tests
/// (`tests $factory`) or into `$callback! { case, ... }`.
#[doc(hidden)]
#[macro_export]
macro_rules! __stream_pair_cases {
    (@list [tests $factory:expr] $($case:ident),*) => {
        $crate::__cases!(stream_pair, $factory; $($case),*);
    };
    (@list [$callback:ident] $($case:ident),*) => {
        $callback! { $($case),* }
    };
    ($($how:tt)*) => {
        $crate::__stream_pair_cases! { @list [$($how)*]
            empty_buffers_complete_at_once, round_trip, vectored_buffers_keep_order,
            one_byte_reads_reassemble, flushed_bytes_arrive_without_shutdown,
            end_of_stream_after_shutdown, half_close_keeps_reverse_direction,
            pending_read_ends_on_peer_shutdown, write_after_shutdown_fails,
            peer_drop_ends_reads, pending_read_ends_on_peer_drop, write_to_dropped_peer_fails,
            large_transfer_both_directions, stop_cancels_pending_read,
            stopped_token_does_no_io, dropped_read_loses_nothing,
            dropped_write_duplicates_nothing, one_slice_matches_sequence,
            no_allocation_per_operation }
    };
}

/// Expands the source suite (for a [`SourceFactory`](crate::SourceFactory)).
#[macro_export]
macro_rules! source_suite {
    ($name:ident, $factory:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            $crate::__cases!(sources, $factory;
                complete_read_fills_buffers, complete_read_is_short_only_at_end,
                read_after_end_returns_nothing, pull_repeats_until_consume,
                consume_advances, pull_is_empty_at_end);
        }
    };
}

/// Expands the sink suite (for a [`SinkFactory`](crate::SinkFactory)).
#[macro_export]
macro_rules! sink_suite {
    ($name:ident, $factory:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            $crate::__sink_cases!($factory;
                complete_write_delivers_everything, write_eof_delivers_then_ends,
                write_after_eof_fails, prepare_commit_delivers, commit_eof_ends);
        }
    };
}

/// Expands the dynamic-buffer suite (for a [`DynamicBufferFactory`](crate::DynamicBufferFactory)).
#[macro_export]
macro_rules! dynamic_buffer_suite {
    ($name:ident, $factory:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            $crate::__cases!(dynamic_buffer, $factory;
                prepare_past_max_size_fails_cleanly, commit_moves_at_most_prepared,
                consume_clamps_and_drops_front, matches_a_model_under_random_operations,
                invariants_hold);
        }
    };
}

/// Expands the executor suite (for an [`ExecutorFactory`](crate::ExecutorFactory)).
#[macro_export]
macro_rules! executor_suite {
    ($name:ident, $factory:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            $crate::__cases!(executor, $factory;
                post_never_runs_inline, dispatch_from_outside_never_runs_inline,
                posted_tasks_all_run, work_is_tracked_until_completion,
                strand_serializes_and_keeps_order);
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __cases {
    ($suite:ident, $factory:expr; $($case:ident),* $(,)?) => {$(
        #[test]
        fn $case() {
            let factory = $factory;
            $crate::assert_outcome(
                stringify!($case),
                $crate::$suite::run_case(&factory, stringify!($case)),
            );
        }
    )*};
}

#[doc(hidden)]
#[macro_export]
macro_rules! __sink_cases {
    ($factory:expr; $($case:ident),* $(,)?) => {$(
        #[test]
        fn $case() {
            let factory = $factory;
            $crate::assert_outcome(
                stringify!($case),
                $crate::sources::run_sink_case(&factory, stringify!($case)),
            );
        }
    )*};
}
