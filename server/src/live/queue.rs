//! One socket's queue of outgoing frames: bounded, a push never waits, and
//! nothing is allocated for frames until one is queued — an idle socket's
//! queue is one small allocation (a lock, a waker, an empty `VecDeque`).
//! Tokio's bounded `mpsc` allocated its first block of 32 slots and a
//! cache-padded channel (about 1.6 KiB) for every socket up front
//! (docs/performance.md, "Idle sockets").
//!
//! The hub holds the [`Sender`]s; dropping the last one ends the queue (the
//! socket's task then sees `None` from [`Receiver::recv`] after the frames
//! still queued). The one [`Receiver`] is the socket's task.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::Notify;

/// Capacity a drained queue may keep; beyond it the buffer is given back,
/// so a burst leaves no lasting cost on an idle socket.
const KEEP_WHEN_EMPTY: usize = 16;

struct Shared<T> {
    state: Mutex<State<T>>,
    /// Wakes the receiver: a frame was queued, or the last sender went.
    ready: Notify,
}

struct State<T> {
    frames: VecDeque<T>,
    capacity: usize,
    senders: usize,
    receiver_gone: bool,
}

impl<T> Shared<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // No code panics while holding it with the queue half-changed.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Pushes frames into one socket's queue.
pub struct Sender<T> {
    shared: Arc<Shared<T>>,
}

/// The socket's end of its queue.
pub struct Receiver<T> {
    shared: Arc<Shared<T>>,
}

/// Why a frame was not queued.
#[derive(Debug, PartialEq, Eq)]
pub enum TrySendError<T> {
    /// `capacity` frames are waiting already.
    Full(T),
    /// The socket's task is gone.
    Closed(T),
}

/// Why nothing was taken from the queue.
#[derive(Debug, PartialEq, Eq)]
pub enum TryRecvError {
    /// Nothing is waiting (yet).
    Empty,
    /// Nothing is waiting, and every sender is gone.
    Disconnected,
}

/// A queue of at most `capacity` items.
pub fn channel<T>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            frames: VecDeque::new(),
            capacity,
            senders: 1,
            receiver_gone: false,
        }),
        ready: Notify::new(),
    });
    (
        Sender {
            shared: shared.clone(),
        },
        Receiver { shared },
    )
}

impl<T> Sender<T> {
    /// Queues `item` unless the queue is full or its receiver is gone.
    pub fn try_send(&self, item: T) -> Result<(), TrySendError<T>> {
        {
            let mut state = self.shared.lock();
            if state.receiver_gone {
                return Err(TrySendError::Closed(item));
            }
            if state.frames.len() >= state.capacity {
                return Err(TrySendError::Full(item));
            }
            state.frames.push_back(item);
        }
        self.shared.ready.notify_one();
        Ok(())
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.shared.lock().senders += 1;
        Sender {
            shared: self.shared.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let last = {
            let mut state = self.shared.lock();
            state.senders -= 1;
            state.senders == 0
        };
        if last {
            self.shared.ready.notify_one();
        }
    }
}

impl<T> Receiver<T> {
    /// The next item; `None` once every sender is gone and the queue is
    /// empty. Cancel-safe: an item is only taken when it is returned.
    pub async fn recv(&mut self) -> Option<T> {
        loop {
            match self.try_recv() {
                Ok(item) => return Some(item),
                Err(TryRecvError::Disconnected) => return None,
                // A wake-up that finds nothing (one left over from an
                // item already taken) just waits again.
                Err(TryRecvError::Empty) => self.shared.ready.notified().await,
            }
        }
    }

    /// The next item if one is waiting.
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        let mut state = self.shared.lock();
        match state.frames.pop_front() {
            Some(item) => {
                if state.frames.is_empty() && state.frames.capacity() > KEEP_WHEN_EMPTY {
                    state.frames = VecDeque::new();
                }
                Ok(item)
            }
            None if state.senders == 0 => Err(TryRecvError::Disconnected),
            None => Err(TryRecvError::Empty),
        }
    }

    /// Whether every sender is gone (items may still be waiting).
    #[cfg(test)]
    pub fn is_closed(&self) -> bool {
        self.shared.lock().senders == 0
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        state.receiver_gone = true;
        state.frames = VecDeque::new();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn bounded_in_order_and_closed_when_the_senders_go() {
        let (tx, mut rx) = channel(2);
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
        assert_eq!(tx.try_send(1), Ok(()));
        let tx2 = tx.clone();
        assert_eq!(tx2.try_send(2), Ok(()));
        assert_eq!(tx.try_send(3), Err(TrySendError::Full(3)));
        drop(tx);
        assert!(!rx.is_closed(), "one sender is left");
        drop(tx2);
        assert!(rx.is_closed());
        assert_eq!(rx.try_recv(), Ok(1), "what was queued is still delivered");
        assert_eq!(rx.try_recv(), Ok(2));
        assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
    }

    #[test]
    fn a_gone_receiver_refuses_frames() {
        let (tx, rx) = channel(2);
        drop(rx);
        assert_eq!(tx.try_send(1), Err(TrySendError::Closed(1)));
    }

    #[test]
    fn a_drained_queue_gives_its_buffer_back() {
        let (tx, mut rx) = channel(1000);
        for i in 0..100 {
            assert_eq!(tx.try_send(i), Ok(()));
        }
        while rx.try_recv().is_ok() {}
        assert!(rx.shared.lock().frames.capacity() <= KEEP_WHEN_EMPTY);
    }

    #[tokio::test]
    async fn recv_waits_for_a_frame_and_ends_with_the_last_sender() {
        let (tx, mut rx) = channel(4);
        let waiting = tokio::spawn(async move {
            let first = rx.recv().await;
            let second = rx.recv().await;
            (first, second)
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(tx.try_send(7), Ok(()));
        tokio::time::sleep(Duration::from_millis(20)).await;
        drop(tx);
        let got = tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("recv woke up")
            .expect("task");
        assert_eq!(got, (Some(7), None));
    }

    #[tokio::test]
    async fn a_cancelled_recv_loses_nothing() {
        let (tx, mut rx) = channel(4);
        // Cancelled while waiting, then a frame comes: the next recv has it.
        assert!(tokio::time::timeout(Duration::from_millis(10), rx.recv())
            .await
            .is_err());
        assert_eq!(tx.try_send(1), Ok(()));
        assert_eq!(
            tokio::time::timeout(Duration::from_secs(5), rx.recv()).await,
            Ok(Some(1))
        );
    }
}
