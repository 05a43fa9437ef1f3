//! Contract suite for UserDirectory.
