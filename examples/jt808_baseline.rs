//! The ingest benchmark's baseline: the least a JT/T 808 server can do. It reads the byte
//! stream, finds frame ends (0x7E), and answers each frame with one fixed 0x8001 - no
//! unescaping, no checksum, no decoding, no storage. `scripts/bench-ingest` compares haulwatch
//! with it on the same machine in the same run.
//!
//! Usage: `cargo run --release --example jt808_baseline -- 127.0.0.1:6909`

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A valid 0x8001 (reply serial 0, reply id 0x0200, result 0) to phone 000000000000.
const ACK: [u8; 20] = [
    0x7E, 0x80, 0x01, 0x00, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02,
    0x00, 0x00, 0x86, 0x7E,
];

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let address: SocketAddr = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 6909)));
    let listener = TcpListener::bind(address).await?;
    println!("baseline listening on {}", listener.local_addr()?);
    loop {
        let (mut socket, _) = listener.accept().await?;
        let _ = socket.set_nodelay(true);
        tokio::spawn(async move {
            let mut buffer = vec![0u8; 4096];
            // Inside a frame: the next 0x7E closes it.
            let mut open = false;
            loop {
                let n = match socket.read(&mut buffer).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                let mut acks = 0;
                for byte in buffer.iter().take(n) {
                    if *byte == 0x7E {
                        if open {
                            acks += 1;
                        }
                        open = !open;
                    }
                }
                for _ in 0..acks {
                    if socket.write_all(&ACK).await.is_err() {
                        return;
                    }
                }
            }
        });
    }
}
