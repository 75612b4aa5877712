//! Body decoding: Content-Length, chunked (RFC 9112 §7.1) and close-delimited, across
//! any split of the input.

use super::framing::BodyFraming;
use super::head::HeadScanner;
use super::{Error, Limits};

/// What the decoder found at the front of the buffered input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// `consumed` framing bytes were used up; more input is needed.
    NeedMore { consumed: usize },
    /// Body bytes at `skip..skip + len` (the `skip` bytes before them are framing).
    Data { skip: usize, len: usize },
    /// A trailer section at `skip..skip + len`, final CRLF included.
    Trailers { skip: usize, len: usize },
    /// The body ended after `consumed` more framing bytes.
    End { consumed: usize },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    Size,
    AfterSize,
    Ext,
    SizeLf,
    Data(u64),
    DataCr,
    DataLf,
    Trailers,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Length(u64),
    Close,
    Chunked(Chunk),
    Done,
}

/// Decodes one message body.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BodyDecoder {
    state: State,
    /// Body bytes so far (the 413 check for chunked bodies).
    received: u64,
    /// The chunk size being read, and the length of its line so far.
    size: u64,
    digits: usize,
    line: usize,
    trailers: HeadScanner,
}

fn hex(b: u8) -> Option<u64> {
    match b {
        b'0'..=b'9' => Some(u64::from(b - b'0')),
        b'a'..=b'f' => Some(u64::from(b - b'a' + 10)),
        b'A'..=b'F' => Some(u64::from(b - b'A' + 10)),
        _ => None,
    }
}

impl BodyDecoder {
    pub(crate) fn new(framing: BodyFraming) -> Self {
        Self {
            state: match framing {
                BodyFraming::Length(n) => State::Length(n),
                BodyFraming::Chunked => State::Chunked(Chunk::Size),
                BodyFraming::Close => State::Close,
            },
            received: 0,
            size: 0,
            digits: 0,
            line: 0,
            trailers: HeadScanner::default(),
        }
    }

    /// Whether the body has no bytes left: the next step is its end. Inline, for the
    /// bodiless messages most requests are.
    #[inline(always)]
    pub(crate) fn at_end(&self) -> bool {
        matches!(self.state, State::Done | State::Length(0))
    }

    /// Decodes from `data` (the unconsumed input, from where the last step stopped).
    pub(crate) fn step(&mut self, data: &[u8], eof: bool, limits: &Limits) -> Result<Step, Error> {
        match self.state {
            State::Done => Ok(Step::End { consumed: 0 }),
            State::Length(0) => {
                self.state = State::Done;
                Ok(Step::End { consumed: 0 })
            }
            State::Length(rem) => {
                if data.is_empty() {
                    return if eof {
                        Err(Error::IncompleteBody)
                    } else {
                        Ok(Step::NeedMore { consumed: 0 })
                    };
                }
                let n = rem.min(data.len() as u64);
                self.state = State::Length(rem - n);
                Ok(Step::Data {
                    skip: 0,
                    len: n as usize,
                })
            }
            State::Close => {
                if data.is_empty() {
                    if eof {
                        self.state = State::Done;
                        return Ok(Step::End { consumed: 0 });
                    }
                    return Ok(Step::NeedMore { consumed: 0 });
                }
                self.count(data.len() as u64, limits)?;
                Ok(Step::Data {
                    skip: 0,
                    len: data.len(),
                })
            }
            State::Chunked(chunk) => self.chunked(chunk, data, eof, limits),
        }
    }

    fn count(&mut self, n: u64, limits: &Limits) -> Result<(), Error> {
        self.received = self.received.saturating_add(n);
        if self.received > limits.max_body {
            return Err(Error::BodyTooLarge);
        }
        Ok(())
    }

    fn chunked(
        &mut self,
        mut chunk: Chunk,
        data: &[u8],
        eof: bool,
        limits: &Limits,
    ) -> Result<Step, Error> {
        let mut i = 0;
        while i < data.len() {
            let b = data[i];
            if matches!(
                chunk,
                Chunk::Size | Chunk::AfterSize | Chunk::Ext | Chunk::SizeLf
            ) {
                self.line += 1;
                if self.line > limits.max_chunk_line {
                    return Err(Error::ChunkExtensionTooLong);
                }
            }
            chunk = match chunk {
                Chunk::Size => match hex(b) {
                    Some(d) => {
                        self.digits += 1;
                        self.size = self
                            .size
                            .checked_mul(16)
                            .and_then(|s| s.checked_add(d))
                            .ok_or(Error::ChunkSizeOverflow)?;
                        Chunk::Size
                    }
                    None if self.digits == 0 => return Err(Error::InvalidChunkSize),
                    None => match b {
                        b' ' | b'\t' => Chunk::AfterSize,
                        b';' => Chunk::Ext,
                        b'\r' => Chunk::SizeLf,
                        b'\n' => return Err(Error::BareLf),
                        _ => return Err(Error::InvalidChunkSize),
                    },
                },
                Chunk::AfterSize => match b {
                    b' ' | b'\t' => Chunk::AfterSize,
                    b';' => Chunk::Ext,
                    _ => return Err(Error::InvalidChunkSize),
                },
                Chunk::Ext => match b {
                    b'\r' => Chunk::SizeLf,
                    b'\n' => return Err(Error::BareLf),
                    b'\t' => Chunk::Ext,
                    0..=0x1f | 0x7f => return Err(Error::InvalidChunkExtension),
                    _ => Chunk::Ext,
                },
                Chunk::SizeLf => {
                    if b != b'\n' {
                        return Err(Error::BareCr);
                    }
                    let size = self.size;
                    self.size = 0;
                    self.digits = 0;
                    self.line = 0;
                    if size == 0 {
                        self.trailers.reset(true);
                        Chunk::Trailers
                    } else {
                        self.count(size, limits)?;
                        Chunk::Data(size)
                    }
                }
                Chunk::Data(rem) => {
                    let n = rem.min((data.len() - i) as u64);
                    let next = if rem == n {
                        Chunk::DataCr
                    } else {
                        Chunk::Data(rem - n)
                    };
                    self.state = State::Chunked(next);
                    return Ok(Step::Data {
                        skip: i,
                        len: n as usize,
                    });
                }
                Chunk::DataCr if b == b'\r' => Chunk::DataLf,
                Chunk::DataLf if b == b'\n' => Chunk::Size,
                Chunk::DataCr | Chunk::DataLf => return Err(Error::MissingChunkCrlf),
                Chunk::Trailers => {
                    let section = &data[i..];
                    let found = self.trailers.scan(
                        section,
                        usize::MAX,
                        limits.max_trailer_bytes,
                        Error::TrailersTooLarge,
                    )?;
                    self.state = State::Chunked(Chunk::Trailers);
                    return match found {
                        None if eof => Err(Error::IncompleteBody),
                        None => Ok(Step::NeedMore { consumed: i }),
                        Some(2) => {
                            self.state = State::Done;
                            Ok(Step::End { consumed: i + 2 })
                        }
                        Some(len) => {
                            self.state = State::Done;
                            Ok(Step::Trailers { skip: i, len })
                        }
                    };
                }
            };
            i += 1;
        }
        self.state = State::Chunked(chunk);
        if eof {
            return Err(Error::IncompleteBody);
        }
        Ok(Step::NeedMore {
            consumed: data.len(),
        })
    }
}
