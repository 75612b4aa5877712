//! `std::io::IoSlice` / `IoSliceMut` interop (feature `std`).

use std::io::{IoSlice, IoSliceMut};

use crate::sequence::single_buffer_sequence;
use crate::{
    BufferElement, BufferElementMut, ConstBuffer, ConstBufferSequence, MutableBuffer,
    MutableBufferSequence, MutableWindow, MAX_WINDOW,
};

impl BufferElement for IoSlice<'_> {
    fn bytes(&self) -> &[u8] {
        self
    }
}

impl BufferElement for IoSliceMut<'_> {
    fn bytes(&self) -> &[u8] {
        self
    }
}

impl BufferElementMut for IoSliceMut<'_> {
    fn bytes_mut(&mut self) -> &mut [u8] {
        self
    }
}

single_buffer_sequence!(const: IoSlice<'_>);
single_buffer_sequence!(mut: IoSliceMut<'_>);

impl<'a> ConstBuffer<'a> {
    /// The same bytes as an `IoSlice`, for vectored system calls.
    pub fn as_io_slice(&self) -> IoSlice<'a> {
        IoSlice::new(self.as_slice())
    }
}

impl<'a> MutableBuffer<'a> {
    /// The same bytes as an `IoSliceMut`, for vectored system calls.
    pub fn as_io_slice_mut(&mut self) -> IoSliceMut<'_> {
        IoSliceMut::new(self.as_mut_slice())
    }
}

impl<'a> From<ConstBuffer<'a>> for IoSlice<'a> {
    fn from(buf: ConstBuffer<'a>) -> Self {
        IoSlice::new(buf.as_slice())
    }
}

impl<'a> From<MutableBuffer<'a>> for IoSliceMut<'a> {
    fn from(buf: MutableBuffer<'a>) -> Self {
        IoSliceMut::new(buf.into_slice())
    }
}

/// Up to [`MAX_WINDOW`] `IoSlice`s on the stack, built from a window or a slice of
/// buffers without allocating; derefs to `[IoSlice]` for `write_vectored`.
#[derive(Clone, Copy, Debug)]
pub struct IoSliceArray<'a> {
    slices: [IoSlice<'a>; MAX_WINDOW],
    len: usize,
}

impl<'a> IoSliceArray<'a> {
    /// The first [`MAX_WINDOW`] non-empty descriptors of `bufs`.
    pub fn from_buffers(bufs: &[ConstBuffer<'a>]) -> Self {
        let mut array = IoSliceArray {
            slices: [IoSlice::new(&[]); MAX_WINDOW],
            len: 0,
        };
        for buf in bufs.iter().filter(|b| !b.is_empty()).take(MAX_WINDOW) {
            array.slices[array.len] = buf.as_io_slice();
            array.len += 1;
        }
        array
    }
}

impl<'a> core::ops::Deref for IoSliceArray<'a> {
    type Target = [IoSlice<'a>];
    fn deref(&self) -> &[IoSlice<'a>] {
        &self.slices[..self.len]
    }
}

/// Up to [`MAX_WINDOW`] `IoSliceMut`s on the stack; derefs to `[IoSliceMut]` for
/// `read_vectored`.
#[derive(Debug)]
pub struct IoSliceMutArray<'a> {
    slices: [IoSliceMut<'a>; MAX_WINDOW],
    len: usize,
}

impl<'a> IoSliceMutArray<'a> {
    /// The first [`MAX_WINDOW`] non-empty descriptors of `bufs`.
    pub fn from_buffers(bufs: &'a mut [MutableBuffer<'_>]) -> Self {
        let mut regions = bufs
            .iter_mut()
            .map(MutableBuffer::as_mut_slice)
            .filter(|r| !r.is_empty());
        let mut len = 0;
        let slices = core::array::from_fn(|_| match regions.next() {
            Some(region) => {
                len += 1;
                IoSliceMut::new(region)
            }
            None => IoSliceMut::new(&mut []),
        });
        IoSliceMutArray { slices, len }
    }
}

impl<'a> core::ops::Deref for IoSliceMutArray<'a> {
    type Target = [IoSliceMut<'a>];
    fn deref(&self) -> &[IoSliceMut<'a>] {
        &self.slices[..self.len]
    }
}

impl<'a> core::ops::DerefMut for IoSliceMutArray<'a> {
    fn deref_mut(&mut self) -> &mut [IoSliceMut<'a>] {
        &mut self.slices[..self.len]
    }
}

impl MutableWindow<'_> {
    /// The descriptors as `std::io::IoSliceMut`s, for vectored system calls.
    pub fn io_slices_mut(&mut self) -> IoSliceMutArray<'_> {
        IoSliceMutArray::from_buffers(self.as_mut_slice())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::vec::Vec;

    #[test]
    fn windows_feed_vectored_std_io() {
        let parts = [
            ConstBuffer::from("ab"),
            ConstBuffer::EMPTY,
            ConstBuffer::from("cd"),
        ];
        let window = crate::ConstWindow::new(&parts);
        let mut out = Vec::new();
        let n = out.write_vectored(&window.io_slices()).unwrap();
        assert_eq!((n, &out[..]), (4, &b"abcd"[..]));

        let (mut a, mut b) = ([0u8; 1], [0u8; 3]);
        let mut dst = [MutableBuffer::new(&mut a), MutableBuffer::new(&mut b)];
        let mut window = MutableWindow::new(&mut dst);
        let n = (&b"wxyz"[..])
            .read_vectored(&mut window.io_slices_mut())
            .unwrap();
        assert_eq!(n, 4);
        assert_eq!((a, b), (*b"w", *b"xyz"));
    }

    #[test]
    fn io_slices_are_sequences() {
        let data = [IoSlice::new(b"ab"), IoSlice::new(b"c")];
        assert_eq!(data.buffer_size(), 3);
        let mut storage = [0u8; 2];
        let mut seq = [IoSliceMut::new(&mut storage)];
        assert_eq!(crate::buffer_copy(&mut seq, &data, usize::MAX), 2);
        let _ = MutableBufferSequence::buffers_mut(&mut seq).count();
        assert_eq!(storage, *b"ab");
    }
}
