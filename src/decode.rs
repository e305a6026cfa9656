//! `haulwatch decode`: JT/T 808 frames as hex in, one JSON object per frame out.
//!
//! Operators run it on captured traffic and our own checks use it, so the output shape is
//! fixed:
//! ```text
//! {"ok":true,"msg_id":"0x0200","version":"2013","phone":"012345678900","serial":10,
//!  "packet":null,"checksum_ok":true,"body":{...}}
//! {"ok":false,"error":"checksum mismatch: computed 0x1f, frame has 0x20"}
//! ```
//! A line may hold several frames (they are split like a TCP stream) or frame content without
//! the 0x7E delimiters. Subpackaged frames are reassembled across the whole input: the frame
//! that completes a set also carries `"reassembled": {"packets": N, "body": {...}}`.

use std::io::{self, BufRead, Write};
use std::time::Instant;

use bytes::BytesMut;
use jt808::{
    Decoded, Frame, Jt808Codec, Message, PushOutcome, Reassembler, ReassemblyConfig, RegisterLayout,
};
use serde::Serialize;
use tokio_util::codec::Decoder;

/// Packet fields of a subpackaged frame.
#[derive(Debug, Serialize)]
struct PacketJson {
    /// Packets in the set.
    total: u16,
    /// This packet's 1-based index.
    index: u16,
}

/// A whole message joined from its packets.
#[derive(Debug, Serialize)]
struct ReassembledJson {
    /// How many packets were joined.
    packets: u16,
    /// Decoded body of the joined message, `null` if it did not decode.
    body: Option<Message>,
    /// Why the joined body did not decode.
    #[serde(skip_serializing_if = "Option::is_none")]
    body_error: Option<String>,
}

/// Output for an accepted frame.
#[derive(Debug, Serialize)]
struct FrameJson {
    /// Always true: the frame passed framing, checksum (unless lenient) and header checks.
    ok: bool,
    /// `"0x0200"`.
    msg_id: String,
    /// `"2011"`, `"2013"` or `"2019"` (2011 only for 2011-layout registrations, whose header
    /// is the same as 2013's).
    version: &'static str,
    /// Phone as BCD digits, leading zeros kept.
    phone: String,
    /// Message serial.
    serial: u16,
    /// Packet total/index, `null` when not subpackaged.
    packet: Option<PacketJson>,
    /// False only in lenient mode for a frame whose checksum did not match.
    checksum_ok: bool,
    /// Bit 14 disagreed with the header layout (decoded by byte count); omitted when false.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    layout_quirk: bool,
    /// The decoded body, `null` if it did not decode (see `body_error`).
    body: Option<Message>,
    /// Why the body did not decode; omitted when it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    body_error: Option<String>,
    /// Set on the frame that completed a subpackaged message.
    #[serde(skip_serializing_if = "Option::is_none")]
    reassembled: Option<ReassembledJson>,
}

/// Output for a rejected frame or unusable input.
#[derive(Debug, Serialize)]
struct ErrorJson {
    /// Always false.
    ok: bool,
    /// What was wrong.
    error: String,
}

/// Decodes frames given as hex text; keeps reassembly state across lines.
pub struct FrameDecoder {
    /// Strict or lenient parsing, as chosen by `--lenient`.
    lenient: bool,
    /// Joins subpackaged messages across the whole input.
    reassembler: Reassembler,
}

impl FrameDecoder {
    /// A decoder; `lenient` accepts bad checksums, bare 0x7D checksums and body-length
    /// mismatches.
    pub fn new(lenient: bool) -> FrameDecoder {
        FrameDecoder {
            lenient,
            reassembler: Reassembler::new(ReassemblyConfig {
                // Captures can be long; memory is still capped.
                idle_timeout: std::time::Duration::MAX,
                ..ReassemblyConfig::default()
            }),
        }
    }

    /// The JSON lines for one line of hex input (empty for a blank line).
    pub fn decode_line(&mut self, line: &str) -> Vec<String> {
        let compact: String = line.chars().filter(|c| !c.is_whitespace()).collect();
        let compact = compact
            .strip_prefix("0x")
            .or_else(|| compact.strip_prefix("0X"))
            .unwrap_or(&compact);
        if compact.is_empty() {
            return Vec::new();
        }
        let mut bytes = match hex::decode(compact) {
            Ok(bytes) => bytes,
            Err(e) => return vec![error_json(format!("invalid hex: {e}"))],
        };
        if !bytes.contains(&jt808::FLAG) {
            // Frame content pasted without its delimiters.
            bytes.insert(0, jt808::FLAG);
            bytes.push(jt808::FLAG);
        }
        let mut codec = if self.lenient {
            Jt808Codec::lenient()
        } else {
            Jt808Codec::strict()
        };
        let mut buf = BytesMut::from(bytes.as_slice());
        let mut out = Vec::new();
        loop {
            match codec.decode_eof(&mut buf) {
                Ok(Some(Decoded::Frame(frame))) => out.push(self.frame_json(&frame)),
                Ok(Some(Decoded::Rejected(rejected))) => {
                    out.push(error_json(rejected.error.to_string()))
                }
                Ok(None) => break,
                Err(e) => {
                    out.push(error_json(e.to_string()));
                    break;
                }
            }
        }
        let truncated = codec.stats().truncated_bytes;
        if truncated > 0 {
            out.push(error_json(format!(
                "incomplete frame at end of input ({truncated} bytes without a closing 0x7E)"
            )));
        } else if out.is_empty() {
            out.push(error_json("no 0x7E-delimited frame in input".to_owned()));
        }
        out
    }

    fn frame_json(&mut self, frame: &Frame) -> String {
        let header = &frame.header;
        let (body, body_error) = split_result(frame.message());
        let mut reassembled = None;
        if let Some(packet) = header.packet.filter(|p| p.total > 1) {
            match self
                .reassembler
                .push(header, frame.body.clone(), Instant::now())
            {
                Ok(PushOutcome::Complete(set)) => {
                    let (body, body_error) = split_result(set.message());
                    reassembled = Some(ReassembledJson {
                        packets: packet.total,
                        body,
                        body_error,
                    });
                }
                Ok(PushOutcome::Pending { .. }) => {}
                Err(e) => tracing::debug!(error = %e, "packet not reassembled"),
            }
        }
        let version = match &body {
            Some(Message::Register(r)) if r.layout == RegisterLayout::V2011 => "2011",
            _ => header.version.as_str(),
        };
        let json = FrameJson {
            ok: true,
            msg_id: jt808::ser::id_hex(header.msg_id),
            version,
            phone: header.phone.as_str().to_owned(),
            serial: header.serial,
            packet: header.packet.map(|p| PacketJson {
                total: p.total,
                index: p.index,
            }),
            checksum_ok: frame.checksum_ok,
            layout_quirk: header.layout_quirk,
            body,
            body_error,
            reassembled,
        };
        serde_json::to_string(&json)
            .unwrap_or_else(|e| error_json(format!("cannot render frame as JSON: {e}")))
    }
}

fn split_result(result: Result<Message, jt808::BodyError>) -> (Option<Message>, Option<String>) {
    match result {
        Ok(message) => (Some(message), None),
        Err(e) => (None, Some(e.to_string())),
    }
}

fn error_json(error: String) -> String {
    serde_json::to_string(&ErrorJson { ok: false, error })
        .unwrap_or_else(|_| r#"{"ok":false,"error":"unprintable error"}"#.to_owned())
}

/// Runs the tool: decodes `hex_args` (one frame each), or every line of `input` when there are
/// none, writing one JSON line per frame to `output`. Rejected frames are output, not errors;
/// only I/O failures are.
pub fn run<R: BufRead, W: Write>(
    hex_args: &[String],
    lenient: bool,
    input: R,
    mut output: W,
) -> io::Result<()> {
    let mut decoder = FrameDecoder::new(lenient);
    let mut emit = |line: &str, output: &mut W| -> io::Result<()> {
        for json in decoder.decode_line(line) {
            writeln!(output, "{json}")?;
        }
        Ok(())
    };
    if hex_args.is_empty() {
        for line in input.lines() {
            emit(&line?, &mut output)?;
        }
    } else {
        for arg in hex_args {
            emit(arg, &mut output)?;
        }
    }
    output.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(line: &str, lenient: bool) -> Vec<serde_json::Value> {
        FrameDecoder::new(lenient)
            .decode_line(line)
            .iter()
            .map(|s| serde_json::from_str(s).expect("valid JSON"))
            .collect()
    }

    #[test]
    fn heartbeat_shape() {
        let out = decode("7e 0002 0000 012345678900 0001 8a 7e", false);
        assert_eq!(
            out,
            vec![serde_json::json!({
                "ok": true, "msg_id": "0x0002", "version": "2013", "phone": "012345678900",
                "serial": 1, "packet": null, "checksum_ok": true, "body": {}
            })]
        );
    }

    #[test]
    fn bad_hex_blank_lines_and_missing_frames() {
        assert!(decode("   ", false).is_empty());
        let bad = decode("7e0g", false);
        assert_eq!(bad.len(), 1);
        assert_eq!(bad[0]["ok"], false);
        assert!(
            bad[0]["error"]
                .as_str()
                .unwrap_or("")
                .starts_with("invalid hex")
        );
        let partial = decode("7e000200000123", false);
        assert!(
            partial[0]["error"]
                .as_str()
                .unwrap_or("")
                .starts_with("incomplete frame")
        );
        // Content without delimiters is accepted.
        let bare = decode("0002000001234567890000018a", false);
        assert_eq!(bare[0]["ok"], true);
    }
}
