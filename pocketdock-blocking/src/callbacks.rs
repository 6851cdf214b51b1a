//! Per-container callbacks for detached processes: the registry lives in
//! [`pocketdock_proto::detached`], shared by every adapter.

pub(crate) use pocketdock_proto::detached::Callbacks;
