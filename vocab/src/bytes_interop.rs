//! `bytes` interop (feature `bytes`): `Bytes`/`BytesMut` as buffers, and a consuming
//! cursor over any const sequence as a `bytes::Buf`.
//!
//! `BufMut` is deliberately not implemented for mutable sequences: it is an `unsafe`
//! trait whose contract (uninitialized chunks) this crate, which has no unsafe code,
//! does not take on. Use [`buffer_copy`](crate::buffer_copy) or a
//! [`BytesMutBuffer`](crate::BytesMutBuffer) instead.

use bytes::{Buf, Bytes, BytesMut};

use crate::sequence::single_buffer_sequence;
use crate::{
    BufferElement, BufferElementMut, ConstBufferSequence, Consuming, MutableBufferSequence,
};

impl BufferElement for Bytes {
    fn bytes(&self) -> &[u8] {
        self
    }
}

impl BufferElement for BytesMut {
    fn bytes(&self) -> &[u8] {
        self
    }
}

impl BufferElementMut for BytesMut {
    fn bytes_mut(&mut self) -> &mut [u8] {
        self
    }
}

single_buffer_sequence!(const: Bytes);
single_buffer_sequence!(mut: BytesMut);

/// A cursor is a `Buf`: `chunk` is the first unconsumed descriptor, `advance` consumes.
///
/// ```
/// use bytes::Buf;
/// use strait_vocab::{ConstBuffer, Consuming};
/// let parts = [ConstBuffer::from("ab"), ConstBuffer::from("cd")];
/// let mut buf = Consuming::new(&parts);
/// assert_eq!(buf.get_u16(), u16::from_be_bytes(*b"ab"));
/// assert_eq!(buf.chunk(), b"cd");
/// ```
impl<S: ConstBufferSequence> Buf for Consuming<S> {
    fn remaining(&self) -> usize {
        Consuming::remaining(self)
    }

    fn chunk(&self) -> &[u8] {
        self.buffers().next().unwrap_or(&[])
    }

    fn advance(&mut self, cnt: usize) {
        assert!(
            cnt <= Consuming::remaining(self),
            "cannot advance past the end of the sequence"
        );
        self.consume(cnt);
    }

    #[cfg(feature = "std")]
    fn chunks_vectored<'a>(&'a self, dst: &mut [std::io::IoSlice<'a>]) -> usize {
        let mut n = 0;
        for (slot, region) in dst.iter_mut().zip(self.buffers()) {
            *slot = std::io::IoSlice::new(region);
            n += 1;
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::buffer_copy;
    use alloc::vec::Vec;

    #[test]
    fn bytes_types_are_sequences() {
        let chunks = alloc::vec![Bytes::from_static(b"ab"), Bytes::from_static(b"cde")];
        assert_eq!(chunks.buffer_size(), 5);
        let mut out = BytesMut::zeroed(4);
        assert_eq!(buffer_copy(&mut out, &chunks, usize::MAX), 4);
        assert_eq!(&out[..], b"abcd");
        assert_eq!(out.buffers_mut().count(), 1);
    }

    #[test]
    fn cursor_as_buf_reads_across_descriptors() {
        let chunks = [
            Bytes::from_static(b"a"),
            Bytes::new(),
            Bytes::from_static(b"bcd"),
        ];
        let mut buf = Consuming::new(&chunks);
        let mut out = Vec::new();
        while buf.has_remaining() {
            let chunk = buf.chunk();
            out.extend_from_slice(&chunk[..1]);
            buf.advance(1);
        }
        assert_eq!(out, b"abcd");
        let mut again = Consuming::new(&chunks);
        let mut slots = [std::io::IoSlice::new(&[]); 4];
        assert_eq!(again.chunks_vectored(&mut slots), 2);
        assert_eq!(again.copy_to_bytes(4), Bytes::from_static(b"abcd"));
    }
}
