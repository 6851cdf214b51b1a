//! The buffer a driver reads engine bytes into, handed on without a copy.

use bytes::{Bytes, BytesMut};

use super::READ_CHUNK;

/// The first block a driver reads into: most operations read one small JSON answer.
const FIRST_BLOCK: usize = 8 * 1024;

/// A fresh block is taken when less than this share (1/`SPACE_LEFT_RATIO`) of a block is left.
const SPACE_LEFT_RATIO: usize = 16;

/// Where a driver reads into, so that what it read can be handed to the operation as [`Bytes`]
/// that point into the block it landed in: no copy on the way from the socket to the caller.
///
/// While the operation lets go of what it was handed before the next read (it copied what it
/// keeps, or its caller dropped the chunk), the same block serves every read, as one reused
/// buffer would. Once a handed-out piece outlives the next read, the block is left to it and
/// the buffer switches to splitting: each read goes to the unused tail of the current block and
/// what was read is split off its front, so memory held by kept pieces is what they hold plus at
/// most a sixteenth of a block each time a block is left (and the one block left at the switch).
/// The first block is small, and each block that a read filled to the end is followed by one
/// twice its size, up to [`READ_CHUNK`].
#[derive(Debug)]
pub struct ReadBuffer {
    /// The space for the next read.
    block: BytesMut,
    /// The whole block the last read went to, while its piece is lent out (reusing mode).
    lent: Option<Bytes>,
    /// A piece outlived the next read: split pieces off blocks from now on.
    splitting: bool,
    next_size: usize,
}

impl Default for ReadBuffer {
    fn default() -> Self {
        Self::new()
    }
}

impl ReadBuffer {
    /// An empty buffer; the first block is taken at the first read.
    pub fn new() -> Self {
        Self {
            block: BytesMut::new(),
            lent: None,
            splitting: false,
            next_size: FIRST_BLOCK,
        }
    }

    /// Space to read into: the reused block, the unused tail of the current block, or a fresh
    /// block.
    pub fn space(&mut self) -> &mut [u8] {
        if let Some(whole) = self.lent.take() {
            match whole.try_into_mut() {
                Ok(block) => self.block = block,
                Err(_kept) => self.splitting = true,
            }
        }
        let short = if self.splitting {
            self.block.len() * SPACE_LEFT_RATIO < self.next_size
        } else {
            self.block.len() < self.next_size
        };
        if short {
            self.block = BytesMut::zeroed(self.next_size);
        }
        &mut self.block
    }

    /// The first `n` bytes of the last [`space`](Self::space) were filled: take them out.
    pub fn filled(&mut self, n: usize) -> Bytes {
        let n = n.min(self.block.len());
        if n == self.block.len() {
            self.next_size = (self.next_size * 2).min(READ_CHUNK);
        }
        if self.splitting {
            return self.block.split_to(n).freeze();
        }
        let whole = std::mem::take(&mut self.block).freeze();
        let piece = whole.slice(..n);
        self.lent = Some(whole);
        piece
    }

    /// True once the buffer splits pieces off blocks instead of reusing one (for tests).
    /// True once the buffer splits pieces off blocks instead of reusing one (for tests).
    #[cfg(test)]
    fn is_splitting(&self) -> bool {
        self.splitting
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(buf: &mut ReadBuffer, data: &[u8]) -> Bytes {
        let space = buf.space();
        let n = data.len().min(space.len());
        space[..n].copy_from_slice(&data[..n]);
        buf.filled(n)
    }

    #[test]
    fn pieces_let_go_of_before_the_next_read_reuse_one_block() {
        let mut buf = ReadBuffer::new();
        let first = read(&mut buf, b"hello").as_ptr();
        let second = read(&mut buf, b" world");
        assert_eq!(&second[..], b" world");
        assert_eq!(second.as_ptr(), first, "the same block, from its start");
        assert!(!buf.is_splitting());
    }

    #[test]
    fn kept_pieces_are_split_off_one_block_in_order() {
        let mut buf = ReadBuffer::new();
        let a = read(&mut buf, b"hello");
        let b = read(&mut buf, b" world");
        let c = read(&mut buf, b"!");
        assert_eq!(
            (&a[..], &b[..], &c[..]),
            (&b"hello"[..], &b" world"[..], &b"!"[..])
        );
        assert!(buf.is_splitting());
        // After the switch, each piece lies right after the one before: same block, no copy.
        assert_eq!(b.as_ptr().wrapping_add(b.len()), c.as_ptr());
    }

    #[test]
    fn blocks_grow_while_reads_fill_them_up_to_read_chunk() {
        let mut buf = ReadBuffer::new();
        let big = vec![7u8; READ_CHUNK * 2];
        let sizes: Vec<usize> = (0..8).map(|_| read(&mut buf, &big).len()).collect();
        assert_eq!(sizes[0], FIRST_BLOCK);
        assert_eq!(sizes[1], FIRST_BLOCK * 2);
        assert!(sizes.iter().all(|&s| s <= READ_CHUNK));
        assert_eq!(sizes[7], READ_CHUNK);
    }

    #[test]
    fn a_kept_piece_does_not_hold_more_than_its_block() {
        let mut buf = ReadBuffer::new();
        let kept: Vec<Bytes> = (0..10_000).map(|_| read(&mut buf, b"xy")).collect();
        assert!(kept.iter().all(|k| &k[..] == b"xy"));
        // 20 000 bytes kept in small pieces lie in four 8 KiB blocks (the first one left to
        // the first piece), not in 10 000 blocks.
        let new_blocks = kept
            .windows(2)
            .filter(|w| w[0].as_ptr().wrapping_add(w[0].len()) != w[1].as_ptr())
            .count();
        assert_eq!(new_blocks, 3);
        assert_eq!(buf.next_size, FIRST_BLOCK);
    }
}
