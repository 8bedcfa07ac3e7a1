//! A connection's outgoing frames: filled by whoever answers (reads, the apply loop,
//! watch events), drained by the connection's writer task.
//!
//! Bounded in bytes: a client that stops reading while events pile up is disconnected
//! (`OUTBOX_BYTES_MAX`) rather than letting the core's memory grow without limit.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::poll_fn;
use std::task::{Poll, Waker};

use bytes::Bytes;

/// Bytes queued for one client before it is considered too slow and disconnected.
/// Large enough for a burst of maximal (1 MiB) replies.
pub const OUTBOX_BYTES_MAX: usize = 64 << 20;

#[derive(Default)]
pub struct Outbox {
    frames: RefCell<VecDeque<Bytes>>,
    bytes: Cell<usize>,
    waker: Cell<Option<Waker>>,
    /// Set when the connection must close once what is queued has been written.
    closing: Cell<bool>,
    /// Set when the client is too slow: drop everything and close now.
    overflowed: Cell<bool>,
    /// True while the writer holds a batch it has not finished writing.
    writing: Cell<bool>,
    /// The reader waiting for everything queued to reach the socket.
    flush_waker: Cell<Option<Waker>>,
    /// The writer has stopped and closed the socket's sending side.
    closed: Cell<bool>,
}

/// What the writer should do next.
pub enum Next {
    Write(Vec<Bytes>),
    /// Everything queued was written and the connection is closing.
    Close,
}

impl Outbox {
    /// Queues a frame; returns false (and marks the outbox overflowed) if the client is
    /// too far behind.
    pub fn push(&self, frame: Bytes) -> bool {
        if self.overflowed.get() {
            return false;
        }
        let bytes = self.bytes.get() + frame.len();
        if bytes > OUTBOX_BYTES_MAX {
            self.overflowed.set(true);
            self.frames.borrow_mut().clear();
            self.wake();
            return false;
        }
        self.bytes.set(bytes);
        self.frames.borrow_mut().push_back(frame);
        self.wake();
        true
    }

    /// Closes the connection after the queued frames are written.
    pub fn close_after_flush(&self) {
        self.closing.set(true);
        self.wake();
    }

    pub fn is_closing(&self) -> bool {
        self.closing.get() || self.overflowed.get()
    }

    /// The writer says it stopped: the client has seen the connection end.
    pub fn mark_closed(&self) {
        self.closed.set(true);
    }

    pub fn is_closed(&self) -> bool {
        self.closed.get()
    }

    pub fn queued_bytes(&self) -> usize {
        self.bytes.get()
    }

    fn wake(&self) {
        if let Some(w) = self.waker.take() {
            w.wake();
        }
    }

    /// Waits for frames to write (all that are queued, in order) or for the close.
    pub async fn next(&self) -> Next {
        poll_fn(|cx| {
            if self.overflowed.get() {
                return Poll::Ready(Next::Close);
            }
            let mut frames = self.frames.borrow_mut();
            if !frames.is_empty() {
                let batch: Vec<Bytes> = frames.drain(..).collect();
                self.bytes.set(0);
                self.writing.set(true);
                return Poll::Ready(Next::Write(batch));
            }
            if self.closing.get() {
                return Poll::Ready(Next::Close);
            }
            self.waker.set(Some(cx.waker().clone()));
            Poll::Pending
        })
        .await
    }

    /// The writer finished writing the batch `next` gave it.
    pub fn batch_written(&self) {
        self.writing.set(false);
        if let Some(w) = self.flush_waker.take() {
            w.wake();
        }
    }

    /// Waits until everything queued so far has been written to the socket.
    pub async fn flushed(&self) {
        poll_fn(|cx| {
            if self.overflowed.get() || (self.frames.borrow().is_empty() && !self.writing.get()) {
                Poll::Ready(())
            } else {
                self.flush_waker.set(Some(cx.waker().clone()));
                Poll::Pending
            }
        })
        .await
    }
}
