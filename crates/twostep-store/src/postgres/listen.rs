//! Waking followers: a dedicated connection LISTENs on the store's channel
//! (every append NOTIFYs it at commit, from any instance), and polls the head
//! every [`POLL_EVERY`] anyway, so a lost notification or a dropped
//! connection delays followers by at most that long. It reconnects on its own.

use std::future::poll_fn;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_postgres::AsyncMessage;

use super::target::{Target, describe};
use crate::Position;

/// How often the head is polled whatever the notifications say.
pub(super) const POLL_EVERY: Duration = Duration::from_secs(1);

/// Starts the listener; abort the handle to stop it.
pub(super) fn spawn(target: Target, committed: watch::Sender<Position>) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            if let Err(why) = listen(&target, &committed).await {
                tracing::warn!(store = target.label(), error = %why, "the postgres listener lost its connection; reconnecting");
            }
            tokio::time::sleep(POLL_EVERY).await;
        }
    })
}

/// Raises the announced position to `position` if it is higher.
pub(super) fn announce(committed: &watch::Sender<Position>, position: Position) {
    committed.send_if_modified(|known| {
        if position > *known {
            *known = position;
            true
        } else {
            false
        }
    });
}

/// Listens until the connection fails.
async fn listen(target: &Target, committed: &watch::Sender<Position>) -> Result<(), String> {
    let (client, mut connection) = target.connect_raw().await.map_err(|e| e.to_string())?;
    let (heard, mut notifications) = mpsc::unbounded_channel();
    let driver = tokio::spawn(async move {
        while let Some(message) = poll_fn(|cx| connection.poll_message(cx)).await {
            match message {
                Ok(AsyncMessage::Notification(note)) => {
                    if heard.send(note.payload().parse::<Position>().ok()).is_err() {
                        break;
                    }
                }
                Ok(_) => {}
                Err(err) => {
                    tracing::debug!(error = %describe(&err), "the postgres listener connection failed");
                    break;
                }
            }
        }
    });
    let result = follow(target, committed, &client, &mut notifications).await;
    driver.abort();
    result
}

async fn follow(
    target: &Target,
    committed: &watch::Sender<Position>,
    client: &tokio_postgres::Client,
    notifications: &mut mpsc::UnboundedReceiver<Option<Position>>,
) -> Result<(), String> {
    client
        .batch_execute(&format!("LISTEN {}", target.channel()))
        .await
        .map_err(|e| describe(&e))?;
    let head = "SELECT COALESCE(MAX(position), 0) FROM events";
    let mut poll = tokio::time::interval(POLL_EVERY);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            note = notifications.recv() => match note {
                Some(Some(position)) => announce(committed, position),
                Some(None) => {}
                None => return Err("the connection closed".into()),
            },
            _ = poll.tick() => {
                let row = client.query_one(head, &[]).await.map_err(|e| describe(&e))?;
                let position: i64 = row.try_get(0).map_err(|e| describe(&e))?;
                announce(committed, u64::try_from(position).unwrap_or(0));
            }
        }
    }
}
