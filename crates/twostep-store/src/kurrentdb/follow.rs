//! Drives the store's watch channel from a `$all` subscription, with our own
//! resubscribe loop: the client's reconnect is not relied on (the
//! subscription is opened without retry options, so a broken connection
//! ends it with an error), and every new subscription starts after the last
//! position this loop saw.

use std::time::Duration;

use ::kurrentdb::{Client, StreamPosition, SubscribeToAllOptions, SubscriptionEvent};
use tokio::sync::watch;

use super::{filter, mapping};
use crate::Position;

/// First pause after a failed subscription; doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// Longest pause between two subscriptions.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// The pause after `failures` failures in a row.
pub fn backoff(failures: u32) -> Duration {
    FIRST_BACKOFF
        .saturating_mul(2u32.saturating_pow(failures.saturating_sub(1)))
        .min(MAX_BACKOFF)
}

/// Follows `$all` (filtered to `prefixes`) after `from` forever, announcing
/// the position of every event that appears on `notify`.
pub async fn run(
    client: Client,
    prefixes: Vec<String>,
    from: Position,
    notify: watch::Sender<Position>,
) {
    let mut last = from;
    let mut failures = 0u32;
    loop {
        let start = mapping::all_from(last).unwrap_or(StreamPosition::End);
        let options = SubscribeToAllOptions::default()
            .position(start)
            .filter(filter(&prefixes))
            .requires_leader(true);
        let mut subscription = client.subscribe_to_all(&options).await;
        let error = loop {
            match subscription.next_subscription_event().await {
                Ok(SubscriptionEvent::EventAppeared(event)) => {
                    failures = 0;
                    let position = event
                        .event
                        .as_ref()
                        .map(|e| mapping::position_of(e.position))
                        .or(event.commit_position);
                    if let Some(position) = position.filter(|p| *p > last) {
                        last = position;
                        notify.send_if_modified(|seen| {
                            let moved = position > *seen;
                            if moved {
                                *seen = position;
                            }
                            moved
                        });
                    }
                }
                Ok(SubscriptionEvent::Confirmed(_)) => {
                    if failures > 0 {
                        tracing::info!(after = last, "kurrentdb $all subscription resumed");
                    }
                    failures = 0;
                }
                Ok(_) => {}
                Err(error) => break error,
            }
        };
        failures = failures.saturating_add(1);
        let pause = backoff(failures);
        tracing::warn!(
            %error,
            after = last,
            failures,
            retry_in_ms = u64::try_from(pause.as_millis()).unwrap_or(u64::MAX),
            "the kurrentdb $all subscription failed; resubscribing from the last position seen"
        );
        tokio::time::sleep(pause).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_thirty_seconds() {
        assert_eq!(backoff(1), Duration::from_millis(100));
        assert_eq!(backoff(2), Duration::from_millis(200));
        assert_eq!(backoff(3), Duration::from_millis(400));
        assert_eq!(backoff(9), Duration::from_millis(25_600));
        assert_eq!(backoff(10), Duration::from_secs(30));
        assert_eq!(backoff(u32::MAX), Duration::from_secs(30));
    }
}
