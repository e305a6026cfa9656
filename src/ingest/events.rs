//! The gateway's internal events: each notable thing that happens is one function that emits
//! both its metric and, where it matters, its log line, so wording and metric names are
//! reviewed together. Metrics carry no per-terminal labels (cardinality).

use std::time::Duration;

use metrics::{counter, gauge, histogram};

/// A connection was accepted.
pub fn connection_opened() {
    counter!("haulwatch_jt808_connections_opened_total").increment(1);
    gauge!("haulwatch_jt808_connections").increment(1.0);
}

/// A connection ended; `reason` is a fixed label (`eof`, `idle`, `rate`, `auth`, `replaced`,
/// `shutdown`, `io`).
pub fn connection_closed(reason: &'static str) {
    counter!("haulwatch_jt808_connections_closed_total", "reason" => reason).increment(1);
    gauge!("haulwatch_jt808_connections").decrement(1.0);
}

/// A connection was refused because the connection limit was reached.
pub fn connection_refused_at_limit() {
    counter!("haulwatch_jt808_connections_refused_total", "reason" => "limit").increment(1);
    tracing::warn!("Connection refused: connection limit reached.");
}

/// Frames and bytes read in one batch.
pub fn frames_received(frames: u64, bytes: u64) {
    counter!("haulwatch_jt808_frames_in_total").increment(frames);
    counter!("haulwatch_jt808_bytes_in_total").increment(bytes);
}

/// Frames and bytes written.
pub fn frames_sent(frames: u64, bytes: u64) {
    counter!("haulwatch_jt808_frames_out_total").increment(frames);
    counter!("haulwatch_jt808_bytes_out_total").increment(bytes);
}

/// A candidate frame was rejected by the decoder (`kind` from `FrameError::kind`).
pub fn frame_rejected(kind: &'static str) {
    counter!("haulwatch_jt808_decode_errors_total", "kind" => kind).increment(1);
}

/// Bytes between frames were skipped.
pub fn garbage_skipped(bytes: u64) {
    if bytes > 0 {
        counter!("haulwatch_jt808_garbage_bytes_total").increment(bytes);
    }
}

/// A frame's body could not be decoded as its message type.
pub fn body_rejected(msg_id: u16) {
    counter!("haulwatch_jt808_decode_errors_total", "kind" => "body").increment(1);
    tracing::debug!(
        msg_id = format!("0x{msg_id:04X}"),
        "Frame body could not be decoded."
    );
}

/// Positions were stored and acknowledged; `latency` from the batch's arrival to its ack.
pub fn positions_acknowledged(count: u64, latency: Duration) {
    counter!("haulwatch_jt808_positions_total", "result" => "stored").increment(count);
    histogram!("haulwatch_jt808_ack_latency_seconds").record(latency.as_secs_f64());
}

/// Positions could not be stored; they are not acknowledged as stored.
pub fn positions_not_stored(count: u64, error: &str) {
    counter!("haulwatch_jt808_positions_total", "result" => "failed").increment(count);
    tracing::error!(
        count,
        error,
        "Positions could not be stored; terminal told to resend."
    );
}

/// Positions were refused because the connection has not authenticated.
pub fn positions_refused_unauthenticated(count: u64) {
    counter!("haulwatch_jt808_positions_total", "result" => "refused").increment(count);
}

/// A registration attempt, by result code.
pub fn registration(result: u8) {
    let result = match result {
        0 => "accepted",
        1 => "vehicle_bound_elsewhere",
        2 => "vehicle_unknown",
        3 => "terminal_registered",
        _ => "terminal_unknown",
    };
    counter!("haulwatch_jt808_registrations_total", "result" => result).increment(1);
}

/// An authentication attempt.
pub fn authentication(ok: bool) {
    let result = if ok { "ok" } else { "failed" };
    counter!("haulwatch_jt808_authentications_total", "result" => result).increment(1);
}

/// A store look-up during registration or authentication failed.
pub fn store_lookup_failed(error: &str) {
    counter!("haulwatch_jt808_store_errors_total").increment(1);
    tracing::error!(error, "Registry look-up failed.");
}

/// A connection went over a limit and is closed (`limit`: `idle`, `rate`, `auth`).
pub fn limit_exceeded(limit: &'static str) {
    counter!("haulwatch_jt808_limit_closures_total", "limit" => limit).increment(1);
    tracing::info!(limit, "Connection closed: over its limit.");
}

/// A downlink command was sent to a terminal.
pub fn command_sent() {
    counter!("haulwatch_jt808_commands_total").increment(1);
}
