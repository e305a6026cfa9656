//! The stream decoder on a byte stream: several frames per read, frames split at every byte,
//! `7e7e`, garbage and text between frames, oversize frames, end of stream mid-frame, and
//! `FramedRead` carrying on after rejected frames.

use bytes::BytesMut;
use futures::StreamExt;
use jt808::{Decoded, DecoderConfig, FrameError, Jt808Codec, ParseOptions};
use tokio_util::codec::{Decoder, FramedRead};

fn hex(s: &str) -> Vec<u8> {
    hex::decode(s).expect("test hex")
}

// SmallChi/JT808 JT808_0x0002Test.cs: heartbeat, serial 10.
const HEARTBEAT: &str = "7e00020000012345678900000a817e";
// SmallChi/JT808 JT808_0x0002Test.cs: heartbeat whose checksum 0x7E travels as 7D 02.
const HEARTBEAT_ESCAPED_SUM: &str = "7e00020000040021679287002b7d027e";
// SmallChi/JT808 Demo2.cs: location with escapes in serial and body.
const LOCATION_ESCAPED: &str = "7e02000026123456789012007d02000000010000000200ba7f0e07e4f11c0028003c00001810151010100104000000640202007d01137e";
// The serial-10 heartbeat with a wrong checksum.
const BAD_SUM: &str = "7e00020000012345678900000a827e";

/// Feeds `bytes` in chunks of `chunk` and collects everything, including at end of stream.
fn decode_all(codec: &mut Jt808Codec, bytes: &[u8], chunk: usize) -> Vec<Decoded> {
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for part in bytes.chunks(chunk.max(1)) {
        buf.extend_from_slice(part);
        while let Some(item) = codec.decode(&mut buf).expect("never errors") {
            out.push(item);
        }
    }
    while let Some(item) = codec.decode_eof(&mut buf).expect("never errors") {
        out.push(item);
    }
    out
}

fn serials(items: &[Decoded]) -> Vec<Result<u16, &'static str>> {
    items
        .iter()
        .map(|item| match item {
            Decoded::Frame(f) => Ok(f.header.serial),
            Decoded::Rejected(r) => Err(r.error.kind()),
        })
        .collect()
}

#[test]
fn frames_split_at_every_byte_and_packed_together() {
    let mut stream = Vec::new();
    for frame in [
        HEARTBEAT,
        LOCATION_ESCAPED,
        HEARTBEAT_ESCAPED_SUM,
        HEARTBEAT,
    ] {
        stream.extend(hex(frame));
    }
    for chunk in 1..=stream.len() {
        let mut codec = Jt808Codec::strict();
        let items = decode_all(&mut codec, &stream, chunk);
        assert_eq!(
            serials(&items),
            [Ok(10), Ok(126), Ok(43), Ok(10)],
            "chunk {chunk}"
        );
        let stats = codec.stats();
        assert_eq!(
            (stats.frames, stats.rejected, stats.garbage_bytes),
            (4, 0, 0)
        );
    }
}

#[test]
fn raw_bytes_are_kept_exactly_as_received() {
    let mut codec = Jt808Codec::strict();
    let items = decode_all(&mut codec, &hex(LOCATION_ESCAPED), 5);
    let [Decoded::Frame(frame)] = items.as_slice() else {
        panic!("one frame expected: {items:?}");
    };
    assert_eq!(hex::encode(&frame.raw), LOCATION_ESCAPED);
    assert_eq!(frame.body.len(), 38, "body unescaped");
}

#[test]
fn garbage_and_text_between_frames_are_skipped_and_counted() {
    // Traccar's frame test has `$$` before the frame; its devices also send ASCII lines.
    let text = b"(740190311185,1,001,ELOCK,3,1)\r\n";
    let mut stream = b"$$".to_vec();
    stream.extend(hex(HEARTBEAT));
    stream.extend_from_slice(text);
    stream.extend(hex(HEARTBEAT_ESCAPED_SUM));
    stream.extend_from_slice(b"AT+OK");
    for chunk in [1, 3, stream.len()] {
        let mut codec = Jt808Codec::strict();
        let items = decode_all(&mut codec, &stream, chunk);
        assert_eq!(serials(&items), [Ok(10), Ok(43)], "chunk {chunk}");
        let stats = codec.stats();
        assert_eq!(
            stats.garbage_bytes,
            (2 + text.len()) as u64,
            "chunk {chunk}"
        );
        // Bytes left open at end of stream may be the start of a frame: counted apart.
        assert_eq!(stats.truncated_bytes, 5, "chunk {chunk}");
        assert_eq!(stats.rejected, 0);
    }
}

#[test]
fn back_to_back_flags_and_shared_flags() {
    // `7e...7e7e...7e`, then a single flag shared between two frames, then extra flags.
    let a = hex(HEARTBEAT);
    let b = hex(HEARTBEAT_ESCAPED_SUM);
    let mut stream = Vec::new();
    stream.extend(&a);
    stream.extend(&b);
    stream.extend(&a[..a.len() - 1]); // this frame's closing flag ...
    stream.extend(&b); // ... is also the next one's opening flag
    stream.extend([0x7E, 0x7E, 0x7E]);
    stream.extend(&a);
    let mut codec = Jt808Codec::strict();
    let items = decode_all(&mut codec, &stream, 2);
    assert_eq!(serials(&items), [Ok(10), Ok(43), Ok(10), Ok(43), Ok(10)]);
    assert_eq!(codec.stats().garbage_bytes, 0);
    // The frame that opened on a shared flag still reports complete raw bytes.
    let Some(Decoded::Frame(shared)) = items.get(3) else {
        panic!("frame expected");
    };
    assert_eq!(shared.raw.as_ref(), b.as_slice());
}

#[test]
fn rejected_frames_do_not_stop_the_stream() {
    let mut stream = hex(BAD_SUM);
    stream.extend(hex(HEARTBEAT));
    stream.extend(hex("7e0002007e")); // too short
    stream.extend(hex("7e00027d037e")); // invalid escape
    stream.extend(hex(HEARTBEAT_ESCAPED_SUM));
    let mut codec = Jt808Codec::strict();
    let items = decode_all(&mut codec, &stream, 4);
    assert_eq!(
        serials(&items),
        [
            Err("checksum"),
            Ok(10),
            Err("too_short"),
            Err("invalid_escape"),
            Ok(43)
        ]
    );
    let Some(Decoded::Rejected(first)) = items.first() else {
        panic!("rejection expected");
    };
    assert_eq!(hex::encode(&first.raw), BAD_SUM, "evidence kept");
    assert_eq!(
        first.error,
        FrameError::ChecksumMismatch {
            computed: 0x81,
            received: 0x82
        }
    );
    assert_eq!(codec.stats().rejected, 3);

    // Leniently the bad checksum is let through and flagged.
    let mut lenient = Jt808Codec::lenient();
    let items = decode_all(&mut lenient, &hex(BAD_SUM), 100);
    let [Decoded::Frame(frame)] = items.as_slice() else {
        panic!("frame expected: {items:?}");
    };
    assert!(!frame.checksum_ok);
    assert_eq!(frame.header.serial, 10);
}

#[test]
fn options_can_change_mid_stream() {
    let mut codec = Jt808Codec::strict();
    let mut buf = BytesMut::from(hex(BAD_SUM).as_slice());
    assert!(matches!(
        codec.decode(&mut buf).expect("never errors"),
        Some(Decoded::Rejected(_))
    ));
    codec.set_options(ParseOptions::lenient());
    buf.extend_from_slice(&hex(BAD_SUM));
    assert!(matches!(
        codec.decode(&mut buf).expect("never errors"),
        Some(Decoded::Frame(f)) if !f.checksum_ok
    ));
}

#[test]
fn oversize_frames_are_rejected_with_bounded_memory() {
    let mut codec = Jt808Codec::new(DecoderConfig {
        max_frame_len: 64,
        ..DecoderConfig::default()
    });
    let mut buf = BytesMut::new();
    // A frame that never closes: the buffer must not grow without bound.
    buf.extend_from_slice(&[0x7E]);
    let mut rejected = Vec::new();
    for _ in 0..1000 {
        buf.extend_from_slice(&[0x11; 50]);
        while let Some(item) = codec.decode(&mut buf).expect("never errors") {
            rejected.push(item);
        }
        assert!(buf.len() <= 64 + 50, "buffer bounded, got {}", buf.len());
    }
    assert!(matches!(
        rejected.as_slice(),
        [Decoded::Rejected(r)] if r.error == FrameError::Oversize { max: 64 } && r.raw.len() == 64
    ));
    // The stream recovers at the next flags.
    buf.extend_from_slice(&[0x7E]);
    buf.extend_from_slice(&hex(HEARTBEAT));
    let mut after = Vec::new();
    while let Some(item) = codec.decode(&mut buf).expect("never errors") {
        after.push(item);
    }
    assert_eq!(serials(&after), [Ok(10)]);

    // A complete frame over the limit is rejected; the 15-byte heartbeat after it is not.
    let mut codec = Jt808Codec::new(DecoderConfig {
        max_frame_len: 20,
        ..DecoderConfig::default()
    });
    let mut stream = hex(LOCATION_ESCAPED);
    stream.extend(hex(HEARTBEAT));
    for chunk in [1, 5, 1000] {
        let items = decode_all(&mut codec, &stream, chunk);
        assert_eq!(serials(&items), [Err("oversize"), Ok(10)], "chunk {chunk}");
    }
}

#[test]
fn partial_frame_at_end_of_stream_is_dropped_quietly() {
    let mut stream = hex(HEARTBEAT);
    let partial = hex(LOCATION_ESCAPED);
    stream.extend(&partial[..20]);
    let mut codec = Jt808Codec::strict();
    let items = decode_all(&mut codec, &stream, 7);
    assert_eq!(serials(&items), [Ok(10)]);
    assert_eq!(codec.stats().truncated_bytes, 20);
}

#[tokio::test]
async fn framed_read_survives_garbage_and_bad_frames() {
    let mut stream = b"garbage".to_vec();
    stream.extend(hex(BAD_SUM));
    stream.extend(hex(HEARTBEAT));
    stream.extend(hex("7e7e7e"));
    stream.extend(hex(LOCATION_ESCAPED));
    stream.extend(&hex(HEARTBEAT)[..9]); // cut off by the connection closing
    let (client, mut server) = tokio::io::duplex(7);
    let writer = tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        for chunk in stream.chunks(3) {
            server.write_all(chunk).await.expect("write");
        }
    });
    let mut framed = FramedRead::new(client, Jt808Codec::strict());
    let mut got = Vec::new();
    while let Some(item) = framed.next().await {
        got.push(item.expect("the decoder never errors"));
    }
    writer.await.expect("writer");
    assert_eq!(serials(&got), [Err("checksum"), Ok(10), Ok(126)]);
    let stats = framed.decoder().stats();
    assert_eq!(stats.garbage_bytes, 7);
    assert_eq!(stats.truncated_bytes, 9);
}
