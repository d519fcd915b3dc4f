//! Local emulator of the checkpoint permissions API (work in progress).
