//! One job's event stream: stored history, then live events (deduplicated
//! by sequence number), closed after the terminal state.

use std::convert::Infallible;

use axum::response::sse::Event;
use futures_util::Stream;
use tokio::sync::broadcast;

use crate::runner::LiveEvent;
use crate::store::{JobEvent, Store};

fn is_terminal(event: &JobEvent) -> bool {
    event.kind == "state"
        && matches!(
            event.data["state"].as_str(),
            Some("succeeded" | "failed" | "cancelled")
        )
}

fn to_sse(event: &JobEvent) -> Event {
    let data = serde_json::json!({"seq": event.seq, "at": event.at, "data": event.data});
    Event::default()
        .id(event.seq.to_string())
        .event(event.kind.clone())
        .data(data.to_string())
}

struct Cursor {
    job: String,
    pending: std::collections::VecDeque<JobEvent>,
    live: broadcast::Receiver<LiveEvent>,
    store: Store,
    last: i64,
    done: bool,
    finished: bool,
}

/// The stream for `job`: the events after `after` (a reconnecting
/// client's `Last-Event-ID`; 0 for all), then live ones. For a job that
/// has `finished`, the stored events are all there is.
pub fn job_stream(
    job: String,
    history: Vec<JobEvent>,
    live: broadcast::Receiver<LiveEvent>,
    store: Store,
    after: i64,
    finished: bool,
) -> impl Stream<Item = Result<Event, Infallible>> {
    let cursor = Cursor {
        job,
        pending: history.into(),
        live,
        store,
        last: after,
        done: false,
        finished,
    };
    futures_util::stream::unfold(cursor, |mut c| async move {
        loop {
            if c.done {
                return None;
            }
            if let Some(event) = c.pending.pop_front() {
                if event.seq <= c.last {
                    continue;
                }
                c.last = event.seq;
                c.done = is_terminal(&event);
                return Some((Ok(to_sse(&event)), c));
            }
            if c.finished {
                return None;
            }
            match c.live.recv().await {
                Ok((job, event)) if job == c.job => c.pending.push_back(event),
                Ok(_) => {}
                // Fell behind the live channel: catch up from the store.
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    if let Ok(missed) = c.store.events(&c.job, c.last).await {
                        c.pending.extend(missed);
                    }
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    })
}
