//! The ensemble machines' clock: a task per machine that feeds it `Tick`s.

use std::time::Duration;

/// How often the machines get a `Tick` (their timers are coarser: pings every half
/// tickTime, limits in whole ticks).
pub const TICK: Duration = Duration::from_millis(50);

/// Calls `tick` every `TICK` for as long as it returns true (its machine lives).
pub fn spawn_ticker(tick: impl Fn() -> bool + 'static) {
    glommio::spawn_local(async move {
        loop {
            glommio::timer::sleep(TICK).await;
            if !tick() {
                break;
            }
        }
    })
    .detach();
}
