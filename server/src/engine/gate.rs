//! Admission control for data queries: a few run at once, some more wait their turn for a
//! bounded time, and the rest are turned away at once with a 503 and `Retry-After`, so a
//! burst of clients slows the server down instead of exhausting its memory.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::{ApiError, ApiResult, Code};

/// The running and waiting queries.
#[derive(Debug)]
pub struct QueryGate {
    permits: Arc<Semaphore>,
    waiting: Arc<AtomicUsize>,
    max_waiting: usize,
    /// How long a query may wait for its turn.
    patience: Duration,
}

/// Held while a query runs; dropping it lets the next one in.
pub type Admission = OwnedSemaphorePermit;

impl QueryGate {
    pub fn new(running: usize, waiting: usize, patience: Duration) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(running.max(1))),
            waiting: Arc::default(),
            max_waiting: waiting,
            patience,
        }
    }

    /// Waits for a turn, or refuses when the queue is full or the wait too long.
    pub async fn enter(&self) -> ApiResult<Admission> {
        if let Ok(permit) = self.permits.clone().try_acquire_owned() {
            return Ok(permit);
        }
        if self.waiting.fetch_add(1, Ordering::SeqCst) >= self.max_waiting {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            return Err(ApiError::new(Code::Overloaded, "too many queries are running; retry shortly"));
        }
        // Leaves the queue even when the client goes away while waiting.
        let _waiting = Waiting(self.waiting.clone());
        match tokio::time::timeout(self.patience, self.permits.clone().acquire_owned()).await {
            Ok(permit) => permit.map_err(ApiError::internal),
            Err(_) => Err(ApiError::new(
                Code::Overloaded,
                format!("no turn came within {}s (limits.queue_timeout_secs); retry shortly", self.patience.as_secs()),
            )),
        }
    }
}

struct Waiting(Arc<AtomicUsize>);

impl Drop for Waiting {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_queue_is_refused_and_frees_up() {
        let gate = Arc::new(QueryGate::new(1, 1, Duration::from_secs(60)));
        let running = gate.enter().await.unwrap();
        let g = gate.clone();
        let queued = tokio::spawn(async move { g.enter().await.map(drop) });
        tokio::task::yield_now().await;
        while gate.waiting.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        let refused = gate.enter().await.unwrap_err();
        assert_eq!(refused.code, Code::Overloaded);
        drop(running);
        queued.await.unwrap().unwrap();
        assert!(gate.enter().await.is_ok());
    }

    #[tokio::test]
    async fn a_wait_past_its_patience_is_refused() {
        let gate = QueryGate::new(1, 10, Duration::from_millis(50));
        let _running = gate.enter().await.unwrap();
        assert_eq!(gate.enter().await.unwrap_err().code, Code::Overloaded);
        assert_eq!(gate.waiting.load(Ordering::SeqCst), 0, "the refused query left the queue");
    }
}
