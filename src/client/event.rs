//! Watch events and session-state changes as the client delivers them, and the
//! queue they wait in until the user takes them ([`Events`]).

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt;
use std::future::poll_fn;
use std::rc::Rc;
use std::task::{Poll, Waker};

/// Events kept while nobody reads them. Beyond this the newest are dropped and
/// counted ([`Events::dropped`]) rather than letting a silent session grow memory.
pub const EVENTS_QUEUED_MAX: usize = 1 << 16;

/// Java's `Watcher.Event.KeeperState`, by wire value.
pub mod keeper_state {
    pub const UNKNOWN: i32 = -1;
    pub const DISCONNECTED: i32 = 0;
    pub const NO_SYNC_CONNECTED: i32 = 1;
    pub const SYNC_CONNECTED: i32 = 3;
    pub const AUTH_FAILED: i32 = 4;
    pub const CONNECTED_READ_ONLY: i32 = 5;
    pub const SASL_AUTHENTICATED: i32 = 6;
    pub const CLOSED: i32 = 7;
    pub const EXPIRED: i32 = -112;

    /// The Java enum constant's name, as `WatchedEvent.toString` prints it.
    pub fn name(state: i32) -> &'static str {
        match state {
            DISCONNECTED => "Disconnected",
            NO_SYNC_CONNECTED => "NoSyncConnected",
            SYNC_CONNECTED => "SyncConnected",
            AUTH_FAILED => "AuthFailed",
            CONNECTED_READ_ONLY => "ConnectedReadOnly",
            SASL_AUTHENTICATED => "SaslAuthenticated",
            CLOSED => "Closed",
            EXPIRED => "Expired",
            _ => "Unknown",
        }
    }
}

/// Java's `Watcher.Event.EventType`, by wire value.
pub mod event_type {
    pub const NONE: i32 = -1;
    pub const NODE_CREATED: i32 = 1;
    pub const NODE_DELETED: i32 = 2;
    pub const NODE_DATA_CHANGED: i32 = 3;
    pub const NODE_CHILDREN_CHANGED: i32 = 4;
    pub const DATA_WATCH_REMOVED: i32 = 5;
    pub const CHILD_WATCH_REMOVED: i32 = 6;
    pub const PERSISTENT_WATCH_REMOVED: i32 = 7;

    /// The Java enum constant's name, as `WatchedEvent.toString` prints it.
    pub fn name(t: i32) -> &'static str {
        match t {
            NODE_CREATED => "NodeCreated",
            NODE_DELETED => "NodeDeleted",
            NODE_DATA_CHANGED => "NodeDataChanged",
            NODE_CHILDREN_CHANGED => "NodeChildrenChanged",
            DATA_WATCH_REMOVED => "DataWatchRemoved",
            CHILD_WATCH_REMOVED => "ChildWatchRemoved",
            PERSISTENT_WATCH_REMOVED => "PersistentWatchRemoved",
            _ => "None",
        }
    }
}

/// `WatcherType` of checkWatches / removeWatches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i32)]
pub enum WatcherType {
    Children = 1,
    Data = 2,
    Any = 3,
    Persistent = 4,
    PersistentRecursive = 5,
}

/// `AddWatchMode` of addWatch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i32)]
pub enum AddWatchMode {
    Persistent = 0,
    PersistentRecursive = 1,
}

/// One event: a fired watch (from the server, xid −1) or a change of the
/// connection's state (made by the client, `path: None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchedEvent {
    pub event_type: i32,
    pub state: i32,
    pub path: Option<String>,
    /// The zxid that fired the event (reply header of the notification); −1 for
    /// state changes and for servers older than 3.9 that send none.
    pub zxid: i64,
}

/// Java 3.9's `WatchedEvent.toString`:
/// `WatchedEvent state:SyncConnected type:NodeDataChanged path:/a zxid: 5`.
impl fmt::Display for WatchedEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "WatchedEvent state:{} type:{} path:{} zxid: {}",
            keeper_state::name(self.state),
            event_type::name(self.event_type),
            self.path.as_deref().unwrap_or("null"),
            self.zxid
        )
    }
}

#[derive(Default)]
pub(crate) struct EventQueue {
    queue: VecDeque<WatchedEvent>,
    waker: Option<Waker>,
    /// No more events will come: the connection is gone.
    closed: bool,
    dropped: u64,
}

pub(crate) type SharedEvents = Rc<RefCell<EventQueue>>;

pub(crate) fn push(q: &SharedEvents, ev: WatchedEvent) {
    let waker = {
        let mut q = q.borrow_mut();
        if q.closed {
            return;
        }
        if q.queue.len() >= EVENTS_QUEUED_MAX {
            q.dropped += 1;
            return;
        }
        q.queue.push_back(ev);
        q.waker.take()
    };
    if let Some(w) = waker {
        w.wake();
    }
}

pub(crate) fn close(q: &SharedEvents) {
    let waker = {
        let mut q = q.borrow_mut();
        q.closed = true;
        q.waker.take()
    };
    if let Some(w) = waker {
        w.wake();
    }
}

/// The receiving end of a client's events, taken once with `Client::events`.
pub struct Events(pub(crate) SharedEvents);

impl Events {
    /// The next event; `None` once the connection is gone and every event was read.
    pub async fn next(&self) -> Option<WatchedEvent> {
        poll_fn(|cx| {
            let mut q = self.0.borrow_mut();
            if let Some(ev) = q.queue.pop_front() {
                return Poll::Ready(Some(ev));
            }
            if q.closed {
                return Poll::Ready(None);
            }
            q.waker = Some(cx.waker().clone());
            Poll::Pending
        })
        .await
    }

    /// The next event if one is queued.
    pub fn try_next(&self) -> Option<WatchedEvent> {
        self.0.borrow_mut().queue.pop_front()
    }

    /// Events dropped because the queue held [`EVENTS_QUEUED_MAX`].
    pub fn dropped(&self) -> u64 {
        self.0.borrow().dropped
    }
}
