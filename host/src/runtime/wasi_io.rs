//! `wasi:io/poll` as WASI provides it, marked in the call's
//! [`CallActivity`]: a guest blocked in a poll (a sleep, a wait for I/O) is
//! seen there, so a call cut off at its deadline says where it was stuck.
//! The other `wasi:io` interfaces are linked unchanged.

use std::sync::Arc;

use wasmtime::component::{HasData, Resource, ResourceTable};
use wasmtime_wasi::p2::DynPollable;
use wasmtime_wasi::p2::bindings::io::poll;

use super::activity::{CallActivity, CallPhase};

/// The resource table of a call with its activity.
pub(crate) struct TrackedIo<'a> {
    pub(crate) table: &'a mut ResourceTable,
    pub(crate) activity: &'a Arc<CallActivity>,
}

/// `HasData` for [`TrackedIo`].
pub(crate) struct HasTrackedIo;

impl HasData for HasTrackedIo {
    type Data<'a> = TrackedIo<'a>;
}

impl poll::Host for TrackedIo<'_> {
    async fn poll(&mut self, pollables: Vec<Resource<DynPollable>>) -> wasmtime::Result<Vec<u32>> {
        let _phase = self
            .activity
            .enter(CallPhase::WasiPoll { function: "poll" });
        poll::Host::poll(&mut *self.table, pollables).await
    }
}

impl poll::HostPollable for TrackedIo<'_> {
    async fn block(&mut self, pollable: Resource<DynPollable>) -> wasmtime::Result<()> {
        let _phase = self.activity.enter(CallPhase::WasiPoll {
            function: "pollable.block",
        });
        poll::HostPollable::block(&mut *self.table, pollable).await
    }

    async fn ready(&mut self, pollable: Resource<DynPollable>) -> wasmtime::Result<bool> {
        poll::HostPollable::ready(&mut *self.table, pollable).await
    }

    fn drop(&mut self, pollable: Resource<DynPollable>) -> wasmtime::Result<()> {
        poll::HostPollable::drop(&mut *self.table, pollable)
    }
}
