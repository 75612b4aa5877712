//! # strait-vocab: the buffer vocabulary of strait
//!
//! Every I/O operation in strait reads into or writes from *buffer sequences*: ordered
//! lists of byte regions that the caller owns (the papers' "I/O buffer ranges", P4100
//! §8.4 and Capy's buffers). This crate defines them and the algorithms over them. It is
//! `no_std` + `alloc`, has no unsafe code and depends on nothing by default.
//!
//! | piece | what it is |
//! |---|---|
//! | [`ConstBuffer`], [`MutableBuffer`] | non-owning handles to one region; mutable converts to const, never the reverse; `advance` clamps |
//! | [`ConstBufferSequence`], [`MutableBufferSequence`] | ranges of regions: single buffers, slices, arrays, `Vec`s, `VecDeque`s, pairs, `IoSlice`s, `Bytes` |
//! | [`buffer_size`], [`buffer_empty`], [`buffer_length`], [`front`], [`buffer_copy`] | measuring and the scatter/gather copy |
//! | [`prefix`], [`suffix`], [`sans_prefix`], [`sans_suffix`], [`SliceInPlace`] | byte-granular slicing across region boundaries |
//! | [`Consuming`] | a cursor through a sequence: the state of `write_all` / `read_exact` |
//! | [`ConstWindow`], [`MutableWindow`] | at most 16 regions on the stack, so any sequence crosses a `dyn` boundary as a slice |
//! | [`DynamicBuffer`] and [`FlatBuffer`], [`CircularBuffer`], [`VecBuffer`] | growable byte queues with `prepare`/`commit`/`consume` |
//! | [`testing::bufgrind`] | every two-way split of a sequence, for tests |
//!
//! ```
//! use strait_vocab::{buffer_copy, prefix, ConstBuffer, ConstBufferSequence, Consuming};
//!
//! // A header and a body, gathered without copying them together.
//! let message = [ConstBuffer::from("HTTP/1.1 200 OK\r\n\r\n"), ConstBuffer::from("hello")];
//! assert_eq!(message.buffer_size(), 24);
//!
//! // A writer that takes 10 bytes at a time consumes the sequence window by window.
//! let mut cursor = Consuming::new(&message);
//! let mut wire = Vec::new();
//! while !cursor.is_empty() {
//!     let mut chunk = [0u8; 10];
//!     let n = buffer_copy(&mut chunk[..], &cursor, usize::MAX);
//!     wire.extend_from_slice(&chunk[..n]);
//!     cursor.consume(n);
//! }
//! assert_eq!(wire, b"HTTP/1.1 200 OK\r\n\r\nhello");
//! assert_eq!(prefix(&message, 8).buffers().flatten().count(), 8);
//! ```
//!
//! ## Design decisions
//!
//! - **Sequences are traits with iterator methods**, not C++ bidirectional ranges: a
//!   sequence yields `&[u8]` / `&mut [u8]` regions through a generic associated iterator,
//!   so slices of `ConstBuffer`, `IoSlice` or `Bytes` all work without conversion, and
//!   slicing views trim the first and last region on the fly.
//! - **`MutableBuffer` is not `Copy`**: it wraps `&mut [u8]`, so aliasing writable handles
//!   cannot exist. Views of a mutable sequence borrow it exclusively.
//! - **Invalidation is the borrow checker's job**: `data()` and `prepare()` borrow the
//!   dynamic buffer, so "`consume` invalidates earlier views" cannot be violated.
//! - **No unsafe code**: the windows convert to `IoSlice`s on the stack (16 pointer
//!   pairs), which costs nothing next to a system call.
//!
//! ## Features
//! - `std` (default): `IoSlice`/`IoSliceMut` as buffers and sequences, windows as
//!   `IoSlice` arrays, `LengthError` into `io::Error`.
//! - `bytes`: `Bytes`/`BytesMut` as buffers, [`Consuming`] as a `bytes::Buf`, and
//!   `BytesMutBuffer`.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod algorithm;
mod buffer;
mod consuming;
pub mod dynamic;
pub mod sequence;
pub mod slice;
pub mod testing;
pub mod window;

#[cfg(feature = "bytes")]
mod bytes_interop;
#[cfg(feature = "std")]
mod io_slice;

pub use algorithm::{buffer_copy, buffer_empty, buffer_length, buffer_size, front, front_mut};
pub use buffer::{ConstBuffer, MutableBuffer};
pub use consuming::Consuming;
#[cfg(feature = "bytes")]
pub use dynamic::BytesMutBuffer;
pub use dynamic::{CircularBuffer, DynamicBuffer, FlatBuffer, LengthError, OwnedBuffer, VecBuffer};
#[cfg(feature = "std")]
pub use io_slice::{IoSliceArray, IoSliceMutArray};
pub use sequence::{BufferElement, BufferElementMut, ConstBufferSequence, MutableBufferSequence};
pub use slice::{
    buffer_slice, buffer_slice_mut, prefix, prefix_mut, sans_prefix, sans_prefix_mut, sans_suffix,
    sans_suffix_mut, suffix, suffix_mut, Slice, SliceInPlace, SliceMut,
};
pub use window::{ConstWindow, MutableWindow, MAX_WINDOW};
