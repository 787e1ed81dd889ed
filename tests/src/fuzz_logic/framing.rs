//! `framing`: arbitrary bytes in arbitrary chunks through [`LineFramer`].
//!
//! Input: four header bytes, then the stream.
//! * byte 0: the maximum line length (`0..=254`; `255` is the 16 MiB default);
//! * byte 1: the largest chunk (`1..=256`), byte 2: the seed of the chunk sizes;
//! * byte 3: how the consumer takes lines: bit 0 set takes them lazily (a few after each
//!   chunk, peeking first) instead of all after every chunk.
//!
//! Checks, against a reference model (the bytes pushed and not yet taken):
//! * the lines out are the stream split at LF, whatever the chunking; `peek_line` and
//!   `has_line` agree with `next_line`; `buffered` is exactly what the model holds;
//! * a push fails exactly when it would make a line longer than the maximum; then nothing of
//!   it is kept, the buffer is empty and the failure is sticky;
//! * memory: with lines taken after each chunk, `buffered <= max + chunk`.

use lonc_core::framing::{DEFAULT_MAX_LINE, LineFramer};

pub fn run(data: &[u8]) {
    let Some((header, stream)) = data.split_first_chunk::<4>() else {
        return;
    };
    let max = match header[0] {
        255 => DEFAULT_MAX_LINE,
        n => usize::from(n),
    };
    let max_chunk = usize::from(header[1]) + 1;
    let mut rng = super::cuts(u64::from(header[2]));
    let lazy = header[3] & 1 == 1;

    let mut f = LineFramer::new(max);
    assert_eq!(f.max_line(), max);
    // Bytes pushed and not taken, as the framer should hold them.
    let mut model: Vec<u8> = Vec::new();
    let mut taken: Vec<Vec<u8>> = Vec::new();
    let mut failed = false;
    let mut rest = stream;
    while !rest.is_empty() {
        let n = rng.between_1_and(max_chunk).min(rest.len());
        let (chunk, tail) = rest.split_at(n);
        rest = tail;
        if failed {
            assert!(f.push(chunk).is_err(), "failure is sticky");
            assert_eq!(f.buffered(), 0);
            continue;
        }
        // Would this chunk make a line longer than the maximum?
        let open = model.len() - model.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let too_long = {
            let mut segments = chunk.split(|&b| b == b'\n');
            let first = segments.next().unwrap_or_default().len();
            open + first > max || segments.any(|s| s.len() > max)
        };
        match f.push(chunk) {
            Ok(()) => {
                assert!(!too_long, "accepted a line longer than {max}");
                model.extend_from_slice(chunk);
            }
            Err(e) => {
                assert!(too_long, "rejected a stream with no line longer than {max}");
                assert_eq!(e.max, max);
                assert!(f.is_failed());
                assert_eq!(f.buffered(), 0, "a failed framer keeps nothing");
                assert!(f.next_line().is_none());
                failed = true;
                continue;
            }
        }
        assert_eq!(f.buffered(), model.len());
        if !lazy {
            assert!(
                f.buffered() <= max + chunk.len(),
                "buffered {} > max {max} + chunk {}",
                f.buffered(),
                chunk.len()
            );
        }
        let want = if lazy {
            rng.between_1_and(3) - 1
        } else {
            usize::MAX
        };
        let mut got = 0;
        while got < want {
            let expected = model
                .iter()
                .position(|&b| b == b'\n')
                .map(|i| model[..i].to_vec());
            assert_eq!(f.has_line(), expected.is_some());
            if lazy {
                assert_eq!(f.peek_line(), expected.as_deref());
            }
            let line = f.next_line().map(|l| l.to_vec());
            assert_eq!(line, expected);
            let Some(line) = line else { break };
            model.drain(..=line.len());
            taken.push(line);
            got += 1;
            assert_eq!(f.buffered(), model.len());
        }
        if !model.contains(&b'\n') {
            assert_eq!(f.partial(), &model[..]);
        }
    }
    if !failed {
        // Take what is left: the whole stream comes out split at LF.
        while let Some(line) = f.next_line() {
            taken.push(line.to_vec());
        }
        let mut want: Vec<Vec<u8>> = stream.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
        let partial = want.pop().unwrap_or_default();
        assert_eq!(taken, want);
        assert_eq!(f.partial(), &partial[..]);
    }
}
