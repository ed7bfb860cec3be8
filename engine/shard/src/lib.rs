//! The per-core runtime: reuseport sockets with steering filters, batched I/O, glommio executors
