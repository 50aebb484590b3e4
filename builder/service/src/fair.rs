//! The queue of accepted jobs, fair between tenants: tenants with jobs
//! waiting take turns for free build slots (round robin), and one tenant
//! runs at most `per_tenant` builds at once, so a burst from one tenant
//! cannot starve the others. Within a tenant, jobs start in the order they
//! were accepted.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;

use tokio::sync::Notify;

/// Jobs waiting for a build slot, by tenant.
pub struct FairQueue {
    state: Mutex<State>,
    /// Woken when a job is queued or a build ends.
    changed: Notify,
}

#[derive(Default)]
struct State {
    /// Waiting job ids, per tenant, oldest first.
    waiting: BTreeMap<String, VecDeque<String>>,
    /// Tenants with waiting jobs, in turn order.
    turns: VecDeque<String>,
    /// Builds running, per tenant.
    running: BTreeMap<String, usize>,
    /// Most builds one tenant runs at once.
    per_tenant: usize,
}

impl FairQueue {
    /// An empty queue letting each tenant run `per_tenant` builds at once.
    pub fn new(per_tenant: usize) -> FairQueue {
        FairQueue {
            state: Mutex::new(State {
                per_tenant: per_tenant.max(1),
                ..State::default()
            }),
            changed: Notify::new(),
        }
    }

    /// Queues job `id` of `tenant`.
    pub fn push(&self, tenant: &str, id: &str) {
        if let Ok(mut state) = self.state.lock() {
            let queue = state.waiting.entry(tenant.to_string()).or_default();
            queue.push_back(id.to_string());
            if queue.len() == 1 {
                state.turns.push_back(tenant.to_string());
            }
        }
        self.changed.notify_one();
    }

    /// The next job to build, as `(tenant, id)`, counted as running until
    /// [`FairQueue::done`]; waits while no tenant with waiting jobs is
    /// under its limit.
    pub async fn next(&self) -> (String, String) {
        loop {
            if let Some(next) = self.take() {
                return next;
            }
            self.changed.notified().await;
        }
    }

    /// A build of `tenant` ended.
    pub fn done(&self, tenant: &str) {
        if let Ok(mut state) = self.state.lock()
            && let Some(running) = state.running.get_mut(tenant)
        {
            *running = running.saturating_sub(1);
        }
        self.changed.notify_one();
    }

    /// The next job, if a tenant whose turn it is may start one.
    fn take(&self) -> Option<(String, String)> {
        let mut state = self.state.lock().ok()?;
        let per_tenant = state.per_tenant;
        let position = state
            .turns
            .iter()
            .position(|tenant| state.running.get(tenant).copied().unwrap_or(0) < per_tenant)?;
        let tenant = state.turns.remove(position)?;
        let queue = state.waiting.get_mut(&tenant)?;
        let id = queue.pop_front()?;
        let more = !queue.is_empty();
        if more {
            // Its next job waits for the other tenants' turns.
            state.turns.push_back(tenant.clone());
        } else {
            state.waiting.remove(&tenant);
        }
        *state.running.entry(tenant.clone()).or_default() += 1;
        Some((tenant, id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(queue: &FairQueue, n: usize) -> Vec<String> {
        (0..n)
            .filter_map(|_| queue.take())
            .map(|(_, id)| id)
            .collect()
    }

    #[test]
    fn tenants_take_turns_and_keep_their_own_order() {
        let queue = FairQueue::new(usize::MAX);
        for i in 1..=4 {
            queue.push("acme", &format!("a{i}"));
        }
        queue.push("globex", "g1");
        queue.push("initech", "i1");
        queue.push("globex", "g2");
        assert_eq!(
            order(&queue, 8),
            ["a1", "g1", "i1", "a2", "g2", "a3", "a4"],
            "the burst's second job waits for the others' first"
        );
        assert!(queue.take().is_none());
    }

    #[test]
    fn a_tenant_at_its_limit_waits_while_others_start() {
        let queue = FairQueue::new(1);
        queue.push("acme", "a1");
        queue.push("acme", "a2");
        queue.push("globex", "g1");
        assert_eq!(order(&queue, 3), ["a1", "g1"], "a2 waits for a1");
        queue.done("acme");
        assert_eq!(order(&queue, 1), ["a2"]);
    }

    #[tokio::test]
    async fn next_waits_for_a_job_or_a_free_slot() {
        let queue = std::sync::Arc::new(FairQueue::new(1));
        queue.push("acme", "a1");
        queue.push("acme", "a2");
        assert_eq!(queue.next().await.1, "a1");
        let waiting = tokio::spawn({
            let queue = queue.clone();
            async move { queue.next().await }
        });
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(!waiting.is_finished(), "acme is at its limit");
        queue.done("acme");
        let next = tokio::time::timeout(std::time::Duration::from_secs(5), waiting)
            .await
            .expect("woken")
            .expect("joined");
        assert_eq!(next.1, "a2");
    }
}
