//! pocketdock on smol (in progress: see issue 6).
