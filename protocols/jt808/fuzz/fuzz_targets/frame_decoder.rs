//! Fuzzes the stream decoder and everything behind it: arbitrary bytes, fed in chunks whose
//! size comes from the input, through strict or lenient decoding; every accepted frame is
//! decoded to a typed message, viewed as a location and re-encoded. Nothing may panic, and the
//! buffer may not grow past the frame limit.
#![no_main]

use bytes::BytesMut;
use jt808::{Decoded, DecoderConfig, Jt808Codec, LocationRef, ParseOptions};
use libfuzzer_sys::fuzz_target;
use tokio_util::codec::Decoder;

fuzz_target!(|data: &[u8]| {
    let Some((&control, stream)) = data.split_first() else {
        return;
    };
    let options = if control & 1 == 0 {
        ParseOptions::strict()
    } else {
        ParseOptions::lenient()
    };
    let chunk = usize::from(control >> 1).max(1);
    let config = DecoderConfig {
        options,
        ..DecoderConfig::default()
    };
    let mut codec = Jt808Codec::new(config);
    let mut buf = BytesMut::new();
    let handle = |item: Decoded| {
        if let Decoded::Frame(frame) = item {
            if let Ok(message) = frame.message() {
                let mut out = BytesMut::new();
                let _ = message.encode_body(frame.header.version, &mut out);
            }
            if let Ok(view) = LocationRef::parse(&frame.body) {
                for item in view.items() {
                    let _ = item.map(|raw| raw.value());
                }
                let _ = view.basic.time.to_utc();
            }
        }
    };
    for part in stream.chunks(chunk) {
        buf.extend_from_slice(part);
        while let Ok(Some(item)) = codec.decode(&mut buf) {
            handle(item);
        }
        assert!(buf.len() <= config.max_frame_len + chunk);
    }
    while let Ok(Some(item)) = codec.decode_eof(&mut buf) {
        handle(item);
    }
});
