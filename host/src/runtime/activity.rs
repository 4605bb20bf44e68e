//! Where a running call is: in guest code, or waiting in a host call (a WASI
//! poll, a block's HTTP request). Shared outside the call's store, so that a
//! call cut off at its deadline can still say where it was stuck.

use std::fmt;
use std::sync::Mutex;

/// What a call was doing when it was last seen.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum CallPhase {
    /// Creating the instance (memory, tables, start functions).
    #[default]
    Instantiating,
    /// Running the plugin's own code.
    Guest,
    /// Blocked in `wasi:io/poll` (a sleep, `pollable.block` or `poll`).
    WasiPoll {
        /// The function, e.g. `pollable.block`.
        function: &'static str,
    },
    /// Waiting for the answer to a block's `http.send`.
    HttpSend {
        /// `METHOD scheme://host/path` of the request (no query).
        target: String,
    },
}

impl fmt::Display for CallPhase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallPhase::Instantiating => f.write_str("while instantiating (start functions)"),
            CallPhase::Guest => f.write_str("while running plugin code"),
            CallPhase::WasiPoll { function } => write!(
                f,
                "while blocked in wasi:io/poll `{function}` (a sleep or a wait for I/O)"
            ),
            CallPhase::HttpSend { target } => {
                write!(f, "while waiting for the answer to http.send {target}")
            }
        }
    }
}

/// The phase of one call, updated by the host functions it enters.
#[derive(Debug, Default)]
pub(crate) struct CallActivity {
    phase: Mutex<CallPhase>,
}

impl CallActivity {
    pub(crate) fn set(&self, phase: CallPhase) {
        *self.phase.lock().unwrap_or_else(|p| p.into_inner()) = phase;
    }

    pub(crate) fn get(&self) -> CallPhase {
        self.phase.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Marks the call as in `phase` until the returned guard is dropped,
    /// when it is back in guest code (also when the host call is cancelled).
    pub(crate) fn enter(&self, phase: CallPhase) -> PhaseGuard<'_> {
        self.set(phase);
        PhaseGuard { activity: self }
    }
}

/// Puts a call back in [`CallPhase::Guest`] when dropped.
pub(crate) struct PhaseGuard<'a> {
    activity: &'a CallActivity,
}

impl Drop for PhaseGuard<'_> {
    fn drop(&mut self) {
        self.activity.set(CallPhase::Guest);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_guard_returns_the_call_to_guest_code_and_phases_say_where() {
        let activity = CallActivity::default();
        assert_eq!(activity.get(), CallPhase::Instantiating);
        {
            let _guard = activity.enter(CallPhase::WasiPoll {
                function: "pollable.block",
            });
            assert!(activity.get().to_string().contains("pollable.block"));
        }
        assert_eq!(activity.get(), CallPhase::Guest);
    }
}
