//! pocketdock on tokio (in progress: see issue 6).
