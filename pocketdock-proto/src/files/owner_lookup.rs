//! The default user of a container from its configuration, with nothing run in it: the
//! container's `Config.User` (empty: root; a numeric `uid:gid`: itself) and, for a user name or
//! a uid without a group, the container's own `/etc/passwd` (read through the archive
//! endpoint). Anything these cannot settle (a group given by name, a name `/etc/passwd` does not
//! list, no readable `/etc/passwd`) is left to the owner helper, which asks `id`.

use super::prepare::Owner;

/// Largest `/etc/passwd` read to find the default user.
pub const PASSWD_MAX_BYTES: u64 = 1024 * 1024;

/// What a container's `Config.User` says about its default user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserSpec {
    /// Known from the configuration alone.
    Known(Owner),
    /// `user` (a name or a uid) must be looked up in the container's `/etc/passwd`.
    Passwd {
        /// The user part of `Config.User`.
        user: String,
    },
    /// Only the container can say (a group given by name): run the owner helper.
    AskContainer,
}

/// Read `Config.User` (`""`, `user`, `uid`, `user:group`, `uid:gid`).
pub fn user_spec(config_user: &str) -> UserSpec {
    let spec = config_user.trim();
    if spec.is_empty() {
        return UserSpec::Known(Owner { uid: 0, gid: 0 });
    }
    match spec.split_once(':') {
        Some((user, group)) => match (user.parse::<u64>(), group.parse::<u64>()) {
            (Ok(uid), Ok(gid)) => UserSpec::Known(Owner { uid, gid }),
            _ => UserSpec::AskContainer,
        },
        None => UserSpec::Passwd {
            user: spec.to_string(),
        },
    }
}

/// The owner for `user` (a name or a uid, no group) from the text of `/etc/passwd`: the
/// entry's uid and primary gid; a uid with no entry runs with gid 0. `None` when a name has no
/// entry (only the container can say then).
pub fn owner_from_passwd(user: &str, passwd: &str) -> Option<Owner> {
    let numeric = user.parse::<u64>().ok();
    let entry = passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        let uid = fields.nth(1)?.parse::<u64>().ok()?;
        let gid = fields.next()?.parse::<u64>().ok()?;
        (name == user || numeric == Some(uid)).then_some(Owner { uid, gid })
    });
    match (entry, numeric) {
        (Some(owner), _) => Some(owner),
        (None, Some(uid)) => Some(Owner { uid, gid: 0 }),
        (None, None) => None,
    }
}
