//! The buffer a driver reads engine bytes into, handed on without a copy.

use bytes::{Bytes, BytesMut};

use super::READ_CHUNK;

/// The first block a driver reads into: most operations read one small JSON answer.
const FIRST_BLOCK: usize = 8 * 1024;

/// A fresh block is taken when less than this share (1/`SPACE_LEFT_RATIO`) of a block is left.
const SPACE_LEFT_RATIO: usize = 16;

/// Where a driver reads into, so that what it read can be handed to the operation as [`Bytes`]
/// split off the block it landed in: no copy on the way from the socket to the caller.
///
/// Each read goes to the unused tail of the current block; what was read is split off the front
/// and handed out, and the block's rest serves the next read. Blocks are never reused while a
/// handed-out piece lives, so memory held by kept pieces is what they hold plus at most a
/// sixteenth of a block each time a block is left. The first block is small, and each block that
/// a read filled to the end is followed by one twice its size, up to [`READ_CHUNK`].
#[derive(Debug)]
pub struct ReadBuffer {
    block: BytesMut,
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
            next_size: FIRST_BLOCK,
        }
    }

    /// Space to read into: the unused tail of the current block, or a fresh block.
    pub fn space(&mut self) -> &mut [u8] {
        if self.block.len() * SPACE_LEFT_RATIO < self.next_size.max(FIRST_BLOCK) {
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
        self.block.split_to(n).freeze()
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
    fn pieces_are_split_off_one_block_in_order() {
        let mut buf = ReadBuffer::new();
        let a = read(&mut buf, b"hello");
        let b = read(&mut buf, b" world");
        assert_eq!((&a[..], &b[..]), (&b"hello"[..], &b" world"[..]));
        // The second piece lies right after the first: same block, no copy.
        assert_eq!(a.as_ptr().wrapping_add(a.len()), b.as_ptr());
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
        // 20 000 bytes kept in small pieces lie in three 8 KiB blocks, not in 10 000 blocks.
        let new_blocks = kept
            .windows(2)
            .filter(|w| w[0].as_ptr().wrapping_add(w[0].len()) != w[1].as_ptr())
            .count();
        assert_eq!(new_blocks, 2);
        assert_eq!(buf.next_size, FIRST_BLOCK);
    }
}
