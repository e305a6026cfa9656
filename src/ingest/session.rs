//! Which connection speaks for which terminal, so the API can send a terminal a command and
//! wait for its answer. A second connection for the same phone replaces the first.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::model::{Position, phone_key};

/// A command the platform sends a terminal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DownlinkCommand {
    /// 0x8300: show or speak a text message.
    Text {
        /// The text (sent as GBK).
        text: String,
    },
    /// 0x8201: report the current position now.
    LocationQuery,
    /// 0x8103: set the default report interval (parameter 0x0029).
    ReportInterval {
        /// Seconds between reports.
        seconds: u32,
    },
}

/// What came of a command.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum CommandOutcome {
    /// The terminal answered with result 0 (for a location query: with a position).
    Ok {
        /// The position, for a location query.
        #[serde(skip_serializing_if = "Option::is_none")]
        position: Option<Box<Position>>,
    },
    /// The terminal answered with result 1.
    Failed,
    /// The terminal answered with result 2.
    BadMessage,
    /// The terminal answered with result 3.
    Unsupported,
    /// No answer in time.
    Timeout,
    /// No connection for that terminal.
    Offline,
}

impl CommandOutcome {
    /// The outcome of a 0x0001 result code.
    pub fn from_result(result: u8) -> CommandOutcome {
        match result {
            0 => CommandOutcome::Ok { position: None },
            2 => CommandOutcome::BadMessage,
            3 => CommandOutcome::Unsupported,
            _ => CommandOutcome::Failed,
        }
    }
}

/// A command on its way to a connection, with where to send the answer.
#[derive(Debug)]
pub struct CommandRequest {
    /// What to send.
    pub command: DownlinkCommand,
    /// Completed by the connection when the terminal answers.
    pub reply: oneshot::Sender<CommandOutcome>,
}

/// One registered connection.
#[derive(Debug)]
struct SessionEntry {
    /// Distinguishes this connection from a later one for the same phone.
    connection_id: u64,
    /// Commands for the connection.
    commands: mpsc::Sender<CommandRequest>,
    /// Cancelled to close the connection when a newer one replaces it.
    closed: CancellationToken,
}

/// Phone to connection, shared by the gateway and the API.
#[derive(Debug, Clone, Default)]
pub struct SessionRegistry {
    /// Sessions by phone key.
    sessions: Arc<Mutex<HashMap<String, SessionEntry>>>,
    /// Source of connection ids.
    next_id: Arc<AtomicU64>,
}

/// A connection's registration; removing it on drop keeps the registry free of dead sessions.
#[derive(Debug)]
pub struct SessionGuard {
    /// The registry.
    registry: SessionRegistry,
    /// Phone key.
    key: String,
    /// This connection's id.
    connection_id: u64,
    /// Cancelled when a newer connection replaces this one.
    pub closed: CancellationToken,
}

impl Drop for SessionGuard {
    fn drop(&mut self) {
        let mut sessions = self.registry.sessions.lock();
        if sessions
            .get(&self.key)
            .is_some_and(|entry| entry.connection_id == self.connection_id)
        {
            sessions.remove(&self.key);
        }
    }
}

impl SessionRegistry {
    /// Registers an authenticated connection for `phone`, closing any older one. The returned
    /// receiver yields the commands for this connection.
    pub fn register(&self, phone: &str) -> (SessionGuard, mpsc::Receiver<CommandRequest>) {
        let key = phone_key(phone).to_string();
        let connection_id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (commands, receiver) = mpsc::channel(4);
        let closed = CancellationToken::new();
        let previous = self.sessions.lock().insert(
            key.clone(),
            SessionEntry {
                connection_id,
                commands,
                closed: closed.clone(),
            },
        );
        if let Some(previous) = previous {
            previous.closed.cancel();
        }
        (
            SessionGuard {
                registry: self.clone(),
                key,
                connection_id,
                closed,
            },
            receiver,
        )
    }

    /// Whether a terminal is connected and authenticated.
    pub fn is_online(&self, phone: &str) -> bool {
        self.sessions.lock().contains_key(phone_key(phone))
    }

    /// Number of authenticated connections.
    pub fn len(&self) -> usize {
        self.sessions.lock().len()
    }

    /// Whether no terminal is connected.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Sends `command` to the terminal and waits up to `timeout` for its answer.
    pub async fn send(
        &self,
        phone: &str,
        command: DownlinkCommand,
        timeout: Duration,
    ) -> CommandOutcome {
        let sender = self
            .sessions
            .lock()
            .get(phone_key(phone))
            .map(|entry| entry.commands.clone());
        let Some(sender) = sender else {
            return CommandOutcome::Offline;
        };
        let (reply, answer) = oneshot::channel();
        let request = CommandRequest { command, reply };
        let outcome = tokio::time::timeout(timeout, async move {
            if sender.send(request).await.is_err() {
                return CommandOutcome::Offline;
            }
            answer.await.unwrap_or(CommandOutcome::Offline)
        })
        .await;
        outcome.unwrap_or(CommandOutcome::Timeout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn newer_connection_replaces_older() {
        let registry = SessionRegistry::default();
        let (first, _rx1) = registry.register("013800000001");
        let (second, _rx2) = registry.register("00000000013800000001");
        assert!(first.closed.is_cancelled());
        assert!(!second.closed.is_cancelled());
        drop(first);
        assert!(
            registry.is_online("13800000001"),
            "old guard must not remove the new session"
        );
        drop(second);
        assert!(!registry.is_online("13800000001"));
    }

    #[tokio::test]
    async fn command_round_trip_timeout_and_offline() {
        let registry = SessionRegistry::default();
        assert_eq!(
            registry
                .send(
                    "1",
                    DownlinkCommand::LocationQuery,
                    Duration::from_millis(10)
                )
                .await,
            CommandOutcome::Offline
        );
        let (_guard, mut commands) = registry.register("013800000001");
        let answering = tokio::spawn(async move {
            let request = commands.recv().await.expect("command");
            assert_eq!(
                request.command,
                DownlinkCommand::ReportInterval { seconds: 30 }
            );
            let _ = request.reply.send(CommandOutcome::from_result(0));
            // Never answer the second one.
            let _pending = commands.recv().await;
            tokio::time::sleep(Duration::from_secs(5)).await;
        });
        let outcome = registry
            .send(
                "013800000001",
                DownlinkCommand::ReportInterval { seconds: 30 },
                Duration::from_secs(1),
            )
            .await;
        assert_eq!(outcome, CommandOutcome::Ok { position: None });
        let outcome = registry
            .send(
                "013800000001",
                DownlinkCommand::Text {
                    text: "请减速".into(),
                },
                Duration::from_millis(50),
            )
            .await;
        assert_eq!(outcome, CommandOutcome::Timeout);
        answering.abort();
    }
}
