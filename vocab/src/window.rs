//! Bounded descriptor windows: how any sequence crosses a `dyn` boundary.
//!
//! An object-safe stream method cannot be generic over the buffer sequence, so it takes
//! a slice of buffers. A window holds at most [`MAX_WINDOW`] non-empty descriptors of a
//! sequence on the stack (the papers' `buffer_param`, `max_iovec_ = 16`); the caller
//! hands [`ConstWindow::as_slice`] or [`MutableWindow::as_mut_slice`] across the
//! boundary, then consumes what was transferred from a [`Consuming`](crate::Consuming)
//! cursor and takes the next window, so a sequence of any length is served without
//! allocating.

use crate::{ConstBuffer, ConstBufferSequence, MutableBuffer, MutableBufferSequence};

/// Most descriptors one window holds (the papers' `max_iovec_`).
pub const MAX_WINDOW: usize = 16;

/// Up to [`MAX_WINDOW`] non-empty read-only descriptors taken from the front of a sequence.
#[derive(Clone, Copy, Debug)]
pub struct ConstWindow<'a> {
    bufs: [ConstBuffer<'a>; MAX_WINDOW],
    len: usize,
    size: usize,
    truncated: bool,
}

impl<'a> ConstWindow<'a> {
    /// The first non-empty descriptors of `seq`, at most [`MAX_WINDOW`] of them.
    pub fn new<S: ConstBufferSequence + ?Sized>(seq: &'a S) -> Self {
        Self::from_regions(seq.buffers())
    }

    pub(crate) fn from_regions(regions: impl Iterator<Item = &'a [u8]>) -> Self {
        let mut window = ConstWindow {
            bufs: [ConstBuffer::EMPTY; MAX_WINDOW],
            len: 0,
            size: 0,
            truncated: false,
        };
        for region in regions.filter(|r| !r.is_empty()) {
            if window.len == MAX_WINDOW {
                window.truncated = true;
                break;
            }
            window.bufs[window.len] = ConstBuffer::new(region);
            window.size += region.len();
            window.len += 1;
        }
        window
    }

    /// The descriptors, ready to cross a `dyn` boundary.
    pub fn as_slice(&self) -> &[ConstBuffer<'a>] {
        &self.bufs[..self.len]
    }

    /// Bytes in the window.
    pub fn size(&self) -> usize {
        self.size
    }

    /// `true` when the window holds no bytes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// `true` when the sequence had more non-empty descriptors than fit.
    pub fn is_truncated(&self) -> bool {
        self.truncated
    }

    /// The descriptors as `std::io::IoSlice`s, for vectored system calls.
    #[cfg(feature = "std")]
    pub fn io_slices(&self) -> crate::IoSliceArray<'a> {
        crate::IoSliceArray::from_buffers(self.as_slice())
    }
}

/// Up to [`MAX_WINDOW`] non-empty writable descriptors taken from the front of a sequence.
#[derive(Debug)]
pub struct MutableWindow<'a> {
    bufs: [MutableBuffer<'a>; MAX_WINDOW],
    len: usize,
    size: usize,
    truncated: bool,
}

impl<'a> MutableWindow<'a> {
    /// The first non-empty descriptors of `seq`, at most [`MAX_WINDOW`] of them.
    pub fn new<S: MutableBufferSequence + ?Sized>(seq: &'a mut S) -> Self {
        Self::from_regions(seq.buffers_mut())
    }

    pub(crate) fn from_regions(regions: impl Iterator<Item = &'a mut [u8]>) -> Self {
        let mut window = MutableWindow {
            bufs: Default::default(),
            len: 0,
            size: 0,
            truncated: false,
        };
        for region in regions.filter(|r| !r.is_empty()) {
            if window.len == MAX_WINDOW {
                window.truncated = true;
                break;
            }
            window.size += region.len();
            window.bufs[window.len] = MutableBuffer::new(region);
            window.len += 1;
        }
        window
    }

    /// The descriptors, ready to cross a `dyn` boundary.
    pub fn as_mut_slice(&mut self) -> &mut [MutableBuffer<'a>] {
        &mut self.bufs[..self.len]
    }

    /// The descriptors, read-only.
    pub fn as_slice(&self) -> &[MutableBuffer<'a>] {
        &self.bufs[..self.len]
    }

    /// Bytes in the window.
    pub fn size(&self) -> usize {
        self.size
    }

    /// `true` when the window holds no bytes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// `true` when the sequence had more non-empty descriptors than fit.
    pub fn is_truncated(&self) -> bool {
        self.truncated
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    #[test]
    fn window_skips_empties_and_caps_at_sixteen() {
        let parts: Vec<ConstBuffer<'_>> = (0..40)
            .map(|i| {
                if i % 2 == 0 {
                    ConstBuffer::from("x")
                } else {
                    ConstBuffer::EMPTY
                }
            })
            .collect();
        let w = ConstWindow::new(&parts);
        assert_eq!(w.as_slice().len(), MAX_WINDOW);
        assert_eq!(w.size(), MAX_WINDOW);
        assert!(w.is_truncated());
        let short = ConstWindow::new(&parts[..4]);
        assert_eq!((short.as_slice().len(), short.is_truncated()), (2, false));
    }

    #[test]
    fn mutable_window_writes_through() {
        let mut storage = [[0u8; 2]; 20];
        let mut w = MutableWindow::new(&mut storage);
        assert_eq!(w.size(), 32);
        for b in w.as_mut_slice() {
            b.fill(7);
        }
        assert_eq!(storage[15], [7, 7]);
        assert_eq!(storage[16], [0, 0]);
    }
}
