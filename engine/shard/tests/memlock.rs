//! `start` must explain a too-low locked-memory limit instead of failing inside glommio. This
//! file holds a single test because it lowers the process-wide RLIMIT_MEMLOCK (restored after).

mod common;

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::SystemTime;

use common::free_port;
use corelease_shard::{
    bind_shard_sockets, start, RecvMeta, RuntimeConfig, RuntimeError, SendMeta, ShardHandler,
};

struct NoReply;

impl ShardHandler for NoReply {
    fn on_datagram(
        &mut self,
        _: &RecvMeta,
        _: &[u8],
        _: &mut [u8],
        _: SystemTime,
    ) -> Option<SendMeta> {
        None
    }
}

#[test]
fn start_explains_a_too_low_memlock_limit() {
    let mut saved = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with valid pointers; only the soft limit is lowered and then
    // restored (always allowed, it stays at or below the hard limit).
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut saved), 0);
        let low = libc::rlimit {
            rlim_cur: 64 * 1024,
            rlim_max: saved.rlim_max,
        };
        assert_eq!(libc::setrlimit(libc::RLIMIT_MEMLOCK, &low), 0);
    }
    let addr = SocketAddrV4::new(Ipv4Addr::LOCALHOST, free_port());
    let sockets = bind_shard_sockets(addr, 1, None).expect("bind");
    let result = start(RuntimeConfig::default(), sockets, |_| NoReply);
    // SAFETY: as above.
    unsafe {
        assert_eq!(libc::setrlimit(libc::RLIMIT_MEMLOCK, &saved), 0);
    }
    let err = match result {
        Ok(_) => panic!("started with a 64 KiB memlock limit"),
        Err(err) => err,
    };
    let inner = err
        .get_ref()
        .and_then(|e| e.downcast_ref::<RuntimeError>())
        .expect("a RuntimeError inside");
    assert!(matches!(
        inner,
        RuntimeError::MemlockTooLow {
            have_kib: 64,
            need_kib: 512
        }
    ));
    assert!(err.to_string().contains("ulimit -l"), "{err}");
}
