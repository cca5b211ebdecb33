//! Admission control for data queries: a few run at once, some more wait their turn, and the
//! rest are turned away at once with a 503 and `Retry-After`, so a burst of clients slows
//! the server down instead of exhausting its memory.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::{ApiError, ApiResult, Code};

/// The running and waiting queries.
#[derive(Debug)]
pub struct QueryGate {
    permits: Arc<Semaphore>,
    waiting: Arc<AtomicUsize>,
    max_waiting: usize,
}

/// Held while a query runs; dropping it lets the next one in.
pub type Admission = OwnedSemaphorePermit;

impl QueryGate {
    pub fn new(running: usize, waiting: usize) -> Self {
        Self { permits: Arc::new(Semaphore::new(running.max(1))), waiting: Arc::default(), max_waiting: waiting }
    }

    /// Waits for a turn, or refuses when the queue is full.
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
        self.permits.clone().acquire_owned().await.map_err(ApiError::internal)
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
        let gate = Arc::new(QueryGate::new(1, 1));
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
}
