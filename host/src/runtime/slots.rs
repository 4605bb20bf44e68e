//! A counting semaphore over the instance pool: a call waits for a free
//! instance slot (up to its deadline) instead of failing because more calls
//! are running at once than the pool has room for.

use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Instant;

/// Free instance slots of one runtime.
pub(crate) struct InstanceSlots {
    free: Mutex<u32>,
    released: Condvar,
}

/// A held slot; dropping it frees the slot.
pub(crate) struct Slot<'a> {
    slots: &'a InstanceSlots,
}

impl InstanceSlots {
    pub(crate) fn new(total: u32) -> Self {
        InstanceSlots {
            free: Mutex::new(total.max(1)),
            released: Condvar::new(),
        }
    }

    /// Takes a slot, waiting until `deadline` at most.
    pub(crate) fn acquire(&self, deadline: Instant) -> Option<Slot<'_>> {
        let mut free = self.lock();
        while *free == 0 {
            let wait = deadline.checked_duration_since(Instant::now())?;
            free = self
                .released
                .wait_timeout(free, wait)
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .0;
        }
        *free -= 1;
        Some(Slot { slots: self })
    }

    fn lock(&self) -> MutexGuard<'_, u32> {
        // The counter stays consistent even if a holder panicked.
        self.free
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        *self.slots.lock() += 1;
        self.slots.released.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn slots_are_bounded_and_released_on_drop() {
        let slots = InstanceSlots::new(1);
        let soon = || Instant::now() + Duration::from_millis(20);
        let held = slots.acquire(soon()).expect("one slot is free");
        assert!(slots.acquire(soon()).is_none(), "the only slot is taken");
        drop(held);
        assert!(slots.acquire(soon()).is_some());
    }
}
