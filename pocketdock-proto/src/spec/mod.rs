//! What a sandbox container is made of: [`ContainerSpec`] and the Docker create body it becomes.
//!
//! A spec is validated before any engine call ([`ContainerSpec::validate`]); every refusal is an
//! [`Error::InvalidInput`](crate::Error::InvalidInput) that names the offending field.
//! [`ContainerSpec::create_body`] then turns it into the JSON of `POST /containers/create` (the
//! engine name goes into the `?name=` query, see [`crate::api::containers::create`]).
//!
//! # Secure by default
//!
//! Every container gets, unless the caller relaxes it (see [`Hardening`]):
//!
//! * `CapDrop: ["ALL"]` and no capability added back ([`DEFAULT_CAP_ADD`] is empty). The images
//!   run as the non-root `sandbox` user, which needs none. This matters on Podman: Podman 4.3 gives
//!   a non-root exec user the container's whole capability set as *ambient* capabilities (seen:
//!   `CapEff = CapAmb = 0xeb` for uid 1000 with `CapAdd` of six capabilities), so any capability
//!   added back would be held by the sandbox user too. A caller that runs commands as root and
//!   needs file housekeeping can add [`ROOT_CAP_ADD`] with [`Hardening::with_root_caps`].
//!   `no-new-privileges` keeps setuid binaries from gaining any.
//! * `SecurityOpt: ["no-new-privileges"]`.
//! * `PidsLimit: 512` (a fork bomb stops there; Docker's default is unlimited).
//! * `MemorySwap` equal to `Memory` when a memory limit is set: no swap beyond the limit.
//! * Published ports bound to `127.0.0.1`, never to every interface, unless a host IP is given.
//! * `NetworkMode: "none"` unless the caller or the profile turns networking on. **Publishing a
//!   port needs a network**: when ports are given and the caller did not choose a network, the
//!   container gets the engine's `bridge` network (ports stay bound to `127.0.0.1`); when the
//!   caller explicitly turned networking off (or chose `host`, where publishing means nothing), the
//!   spec is refused on `ports`.
//!
//! # PID 1
//!
//! The container's first process is [`default_cmd`], a shell that sleeps in the background and
//! exits at once on `SIGTERM`/`SIGINT`, so a stop takes milliseconds instead of the whole grace
//! period (`sleep infinity`, used by the Python pocketdock, ignores `SIGTERM`). It is overridable
//! with [`ContainerSpec::cmd`]. `HostConfig.Init` is not used: it needs `docker-init`/`catatonit`
//! on the host, which an offline machine may not have.

mod container_spec;
mod hardening;
mod image_ref;
mod labels;
mod name;
mod network;
mod pid1;
mod ports;
mod size;
#[cfg(test)]
mod test_support;
mod volume;

pub use container_spec::{ContainerSpec, DEFAULT_IMAGE};
pub use hardening::{Hardening, DEFAULT_CAP_ADD, DEFAULT_PIDS_LIMIT, ROOT_CAP_ADD};
pub use image_ref::split_image_ref;
pub use labels::{
    Labels, LABEL_CREATED_AT, LABEL_DATA_PATH, LABEL_INSTANCE, LABEL_MANAGED, LABEL_PERSIST,
    LABEL_POOL, LABEL_PROFILE, LABEL_PROJECT,
};
pub use name::{generate_name, validate_name, MAX_NAME_LEN};
pub use network::NetworkMode;
pub use pid1::{default_cmd, PID1_SCRIPT};
pub use ports::{PortMapping, Protocol, DEFAULT_HOST_IP};
pub use size::{format_bytes, parse_mem_limit, MIN_MEMORY};
pub use volume::Volume;
