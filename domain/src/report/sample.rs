//! A synthetic history (filled in below).
