//! Newline-delimited JSON framing with a size cap.
//!
//! One frame is one JSON value followed by `\n`. A reader that has buffered
//! more than [`MAX_FRAME`] bytes without seeing a newline stops buffering,
//! discards up to the next newline and reports [`FrameError::TooLarge`], so
//! one bad client can neither exhaust memory nor desynchronise the stream.

use std::io::{self, BufRead};

/// Largest accepted frame, newline excluded (1 MiB).
pub const MAX_FRAME: usize = 1 << 20;

#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("frame exceeds {MAX_FRAME} bytes")]
    TooLarge,
    #[error("connection closed in the middle of a frame")]
    Truncated,
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// Reads one frame from a blocking reader. `Ok(None)` is a clean end of
/// stream; the returned bytes exclude the newline.
pub fn read_frame<R: BufRead>(r: &mut R, buf: &mut Vec<u8>) -> Result<Option<()>, FrameError> {
    buf.clear();
    let mut too_large = false;
    loop {
        let available = match r.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        };
        if available.is_empty() {
            if buf.is_empty() && !too_large {
                return Ok(None);
            }
            return Err(FrameError::Truncated);
        }
        let (used, done) = take_chunk(available, buf, &mut too_large);
        r.consume(used);
        if done {
            return if too_large { Err(FrameError::TooLarge) } else { Ok(Some(())) };
        }
    }
}

/// The async twin of [`read_frame`], for the daemon's connections.
#[cfg(feature = "async")]
pub async fn read_frame_async<R>(r: &mut R, buf: &mut Vec<u8>) -> Result<Option<()>, FrameError>
where
    R: tokio::io::AsyncBufRead + Unpin,
{
    use tokio::io::AsyncBufReadExt;
    buf.clear();
    let mut too_large = false;
    loop {
        let available = r.fill_buf().await?;
        if available.is_empty() {
            if buf.is_empty() && !too_large {
                return Ok(None);
            }
            return Err(FrameError::Truncated);
        }
        let (used, done) = take_chunk(available, buf, &mut too_large);
        r.consume(used);
        if done {
            return if too_large { Err(FrameError::TooLarge) } else { Ok(Some(())) };
        }
    }
}

/// Moves bytes up to (and past) the next newline from `available` into
/// `buf`, unless the frame has grown past the cap (then it only counts
/// them). Returns how many bytes were used and whether the frame ended.
fn take_chunk(available: &[u8], buf: &mut Vec<u8>, too_large: &mut bool) -> (usize, bool) {
    let (chunk, end) = match memchr_nl(available) {
        Some(i) => (&available[..i], Some(i + 1)),
        None => (available, None),
    };
    if !*too_large {
        if buf.len() + chunk.len() > MAX_FRAME {
            *too_large = true;
            buf.clear();
        } else {
            buf.extend_from_slice(chunk);
        }
    }
    (end.unwrap_or(available.len()), end.is_some())
}

fn memchr_nl(b: &[u8]) -> Option<usize> {
    b.iter().position(|&c| c == b'\n')
}

/// Serialises `value` as one frame (JSON plus newline).
pub fn encode<T: serde::Serialize>(value: &T) -> Vec<u8> {
    // Serialising our own types cannot fail (no non-string map keys).
    let mut v = serde_json::to_vec(value).unwrap_or_default();
    v.push(b'\n');
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    #[test]
    fn reads_frames_and_clean_eof() {
        let mut r = Cursor::new(b"{\"a\":1}\n{}\n".to_vec());
        let mut buf = Vec::new();
        assert!(matches!(read_frame(&mut r, &mut buf), Ok(Some(()))));
        assert_eq!(buf, b"{\"a\":1}");
        assert!(matches!(read_frame(&mut r, &mut buf), Ok(Some(()))));
        assert_eq!(buf, b"{}");
        assert!(matches!(read_frame(&mut r, &mut buf), Ok(None)));
    }

    #[test]
    fn truncated_frame_is_an_error() {
        let mut r = Cursor::new(b"{\"a\":".to_vec());
        let mut buf = Vec::new();
        assert!(matches!(read_frame(&mut r, &mut buf), Err(FrameError::Truncated)));
    }

    #[test]
    fn oversized_frame_is_skipped_and_stream_continues() {
        let mut data = vec![b'x'; MAX_FRAME + 10];
        data.extend_from_slice(b"\n{}\n");
        let mut r = io::BufReader::with_capacity(4096, Cursor::new(data));
        let mut buf = Vec::new();
        assert!(matches!(read_frame(&mut r, &mut buf), Err(FrameError::TooLarge)));
        assert!(matches!(read_frame(&mut r, &mut buf), Ok(Some(()))));
        assert_eq!(buf, b"{}");
    }
}
