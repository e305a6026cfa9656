//! JT/T 808 codec.
