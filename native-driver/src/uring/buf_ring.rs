//! The provided-buffer ring (`IORING_REGISTER_PBUF_RING`, Linux 5.19): one group of
//! equal-sized receive buffers the kernel picks from when a `RECV` with buffer
//! selection has data.
//!
//! Ownership: both mappings (the ring of entries and the buffers) belong to the
//! [`BufRing`]. A buffer is *in the ring* (the kernel may pick it and write into it at
//! any time) or *held* (the kernel handed it over in a CQE with `IORING_CQE_F_BUFFER`;
//! only the driver reads it, until [`put`](BufRing::put) publishes it again). The
//! `held` bitmap turns a wrong or repeated id into an error instead of a buffer the
//! kernel and a reader share.

use std::io;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU16, Ordering};

use io_uring::types::BufRingEntry;
use io_uring::Submitter;

/// Why a buffer id was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BufIdError {
    /// The id is not below the ring's entry count.
    OutOfRange(u16),
    /// `take`: the id is already held (the kernel cannot hand out a buffer twice).
    AlreadyHeld(u16),
    /// `put`: the id is not held (a double return).
    NotHeld(u16),
}

/// An anonymous private mapping, unmapped on drop unless leaked.
struct Mapping {
    ptr: NonNull<u8>,
    len: usize,
}

impl Mapping {
    fn new(len: usize) -> io::Result<Self> {
        // SAFETY: a fresh anonymous mapping at an address the kernel chooses; no existing
        // memory is affected. The result is checked against MAP_FAILED.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let ptr =
            NonNull::new(ptr.cast::<u8>()).ok_or_else(|| io::Error::other("mmap gave null"))?;
        Ok(Self { ptr, len })
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        if self.len == 0 {
            return; // leaked by its owner
        }
        // SAFETY: `ptr`/`len` are exactly what mmap returned; the owner only drops a
        // mapping once the kernel can no longer write into it (`BufRing::drop`: the
        // group is unregistered and no receive is in flight).
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}

/// A registered provided-buffer ring with its buffers.
pub(crate) struct BufRing {
    ring: Mapping,
    buffers: Mapping,
    entries: u16,
    buf_size: u32,
    bgid: u16,
    /// Our copy of the ring tail (the kernel only reads the shared one).
    tail: u16,
    held: Vec<bool>,
    held_count: usize,
    /// Buffers put back so far (wrapping): tells whether any went back since a moment.
    puts: u32,
    /// Set when the kernel may still write into the buffers at drop time: the
    /// mappings are leaked rather than freed under it.
    leak_on_drop: bool,
    /// The group is registered with the ring. Dropped while still registered, the
    /// mappings are leaked too: the ring may be open, and a receive naming the group
    /// would have the kernel write through addresses no longer ours.
    registered: bool,
}

/// `struct io_uring_buf` (kernel ABI): `addr: u64` at 0, `len: u32` at 8, `bid: u16`
/// at 12, `resv: u16` at 14 — which, in entry 0, is the ring tail the kernel reads.
const ENTRY_LEN: usize = 8;
const ENTRY_BID: usize = 12;
const _: () = assert!(std::mem::size_of::<BufRingEntry>() == 16);

// SAFETY: the raw mappings are owned exclusively by this value; every access goes
// through `&mut self` (or `&self` for reading held buffers, which the kernel does not
// write), so moving it between threads is sound.
unsafe impl Send for BufRing {}

impl BufRing {
    /// Maps `entries` buffers of `buf_size` bytes, publishes all of them and registers
    /// the ring as buffer group `bgid`.
    pub(crate) fn new(
        submitter: &Submitter<'_>,
        entries: u16,
        buf_size: u32,
        bgid: u16,
    ) -> io::Result<Self> {
        if !entries.is_power_of_two() || entries > 1 << 15 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("buffer ring entries must be a power of two up to 32768, not {entries}"),
            ));
        }
        if buf_size == 0 {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "buffer size 0"));
        }
        let ring = Mapping::new(usize::from(entries) * std::mem::size_of::<BufRingEntry>())?;
        let buffers = Mapping::new(usize::from(entries) * buf_size as usize)?;
        let mut this = Self {
            ring,
            buffers,
            entries,
            buf_size,
            bgid,
            tail: 0,
            held: vec![true; usize::from(entries)],
            held_count: usize::from(entries),
            puts: 0,
            leak_on_drop: false,
            registered: false,
        };
        for bid in 0..entries {
            this.put(bid).expect("fresh buffers are held");
        }
        // SAFETY: the ring mapping is page-aligned (mmap), sized for `entries` entries,
        // initialised above, and stays mapped until `self` drops; `BufRing::drop` leaks
        // it instead of unmapping while the kernel may still use it.
        unsafe {
            submitter.register_buf_ring_with_flags(
                this.ring.ptr.as_ptr() as u64,
                entries,
                bgid,
                0,
            )?;
        }
        this.registered = true;
        Ok(this)
    }

    /// The buffer group id to name in `RECV` with buffer selection.
    pub(crate) fn bgid(&self) -> u16 {
        self.bgid
    }

    /// Number of buffers.
    pub(crate) fn entries(&self) -> u16 {
        self.entries
    }

    /// Buffers in the ring (not held by the driver).
    pub(crate) fn available(&self) -> usize {
        usize::from(self.entries) - self.held_count
    }

    /// Buffers put back so far (wrapping).
    pub(crate) fn puts(&self) -> u32 {
        self.puts
    }

    /// Records that a CQE handed buffer `bid` over (it left the ring).
    pub(crate) fn take(&mut self, bid: u16) -> Result<(), BufIdError> {
        let held = self
            .held
            .get_mut(usize::from(bid))
            .ok_or(BufIdError::OutOfRange(bid))?;
        if *held {
            return Err(BufIdError::AlreadyHeld(bid));
        }
        *held = true;
        self.held_count += 1;
        Ok(())
    }

    /// `true` when buffer `bid` is held (out of the ring).
    #[cfg(test)]
    pub(crate) fn is_held(&self, bid: u16) -> bool {
        self.held.get(usize::from(bid)) == Some(&true)
    }

    /// Publishes held buffer `bid` to the kernel again.
    pub(crate) fn put(&mut self, bid: u16) -> Result<(), BufIdError> {
        let held = self
            .held
            .get_mut(usize::from(bid))
            .ok_or(BufIdError::OutOfRange(bid))?;
        if !*held {
            return Err(BufIdError::NotHeld(bid));
        }
        *held = false;
        self.held_count -= 1;
        self.puts = self.puts.wrapping_add(1);
        let mask = self.entries - 1;
        let base = self.ring.ptr.as_ptr().cast::<BufRingEntry>();
        // SAFETY: `tail & mask < entries`, so the pointer stays inside the ring mapping.
        // No reference to the entry is made: in entry 0 the last field is the tail the
        // kernel reads concurrently, so only the three fields written are touched.
        let entry = unsafe { base.add(usize::from(self.tail & mask)) }.cast::<u8>();
        // SAFETY: bid < entries, so the buffer lies inside the buffer mapping.
        let addr = unsafe {
            self.buffers
                .ptr
                .as_ptr()
                .add(usize::from(bid) * self.buf_size as usize)
        };
        // SAFETY: the entry is 16-byte aligned inside the ring mapping (page-aligned,
        // 16-byte entries), so each field is in bounds and naturally aligned; the
        // kernel only reads entries between its head and the published tail, and this
        // one is past the published tail until the store below.
        unsafe {
            entry.cast::<u64>().write(addr as u64);
            entry.add(ENTRY_LEN).cast::<u32>().write(self.buf_size);
            entry.add(ENTRY_BID).cast::<u16>().write(bid);
        }
        self.tail = self.tail.wrapping_add(1);
        // SAFETY: `base` is the ring's first entry, initialised (mmap zero-fills);
        // the tail field is a naturally aligned u16 the kernel reads with acquire
        // semantics, so it is published with a release store.
        unsafe {
            let tail = BufRingEntry::tail(base).cast_mut();
            AtomicU16::from_ptr(tail).store(self.tail, Ordering::Release);
        }
        Ok(())
    }

    /// The first `len` bytes of held buffer `bid`.
    ///
    /// # Panics
    /// If `bid` is not held or `len` exceeds the buffer size (a driver bug).
    pub(crate) fn bytes(&self, bid: u16, len: usize) -> &[u8] {
        assert!(
            self.held.get(usize::from(bid)) == Some(&true) && len <= self.buf_size as usize,
            "reading buffer {bid} ({len} bytes) that is not held"
        );
        // SAFETY: the buffer is held, so the kernel does not write it until `put`, which
        // takes `&mut self` and so cannot run while this borrow lives; the range lies
        // inside the buffer mapping (bid < entries, len <= buf_size).
        unsafe {
            std::slice::from_raw_parts(
                self.buffers
                    .ptr
                    .as_ptr()
                    .add(usize::from(bid) * self.buf_size as usize),
                len,
            )
        }
    }

    /// Address of held buffer `bid` (for zero-copy borrows that outlive the lock).
    pub(crate) fn raw(&self, bid: u16) -> *const u8 {
        assert!(
            self.held.get(usize::from(bid)) == Some(&true),
            "buffer {bid} not held"
        );
        // SAFETY: bid < entries (checked by the `held` lookup), inside the mapping.
        unsafe {
            self.buffers
                .ptr
                .as_ptr()
                .add(usize::from(bid) * self.buf_size as usize)
        }
    }

    /// Unregisters the group: the kernel stops picking from it (and the mappings
    /// can be freed on drop).
    pub(crate) fn unregister(&mut self, submitter: &Submitter<'_>) -> io::Result<()> {
        if self.registered {
            submitter.unregister_buf_ring(self.bgid)?;
            self.registered = false;
        }
        Ok(())
    }

    /// The group is registered with the ring.
    pub(crate) fn is_registered(&self) -> bool {
        self.registered
    }

    /// Someone else unregistered the group ([`Submit::unregister_buf_ring`]).
    ///
    /// [`Submit::unregister_buf_ring`]: super::Submit::unregister_buf_ring
    pub(crate) fn unregistered(&mut self) {
        self.registered = false;
    }

    /// Keep the mappings alive forever (the kernel may still write into them).
    pub(crate) fn leak_on_drop(&mut self) {
        self.leak_on_drop = true;
    }
}

impl Drop for BufRing {
    fn drop(&mut self) {
        if self.leak_on_drop || self.registered {
            // A receive may still be in flight, or be submitted on the still registered
            // group: never free memory the kernel can write.
            let ring = std::mem::replace(
                &mut self.ring,
                Mapping {
                    ptr: NonNull::dangling(),
                    len: 0,
                },
            );
            let buffers = std::mem::replace(
                &mut self.buffers,
                Mapping {
                    ptr: NonNull::dangling(),
                    len: 0,
                },
            );
            std::mem::forget(ring);
            std::mem::forget(buffers);
        }
    }
}
