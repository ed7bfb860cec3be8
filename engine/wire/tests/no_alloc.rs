//! The hot path must not allocate per packet (DESIGN.md goal 2): after warm-up, parsing a
//! request into a reused `OptionIndex` and writing replies into a reused buffer allocate nothing.

use corelease_wire::v4::{opt, Dhcp4Packet, Dhcp4Writer, OptionIndex};
use corelease_wire::v6::{self, Dhcp6Packet, Dhcp6Writer};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::net::{Ipv4Addr, Ipv6Addr};

struct CountingAllocator;

thread_local! {
    // Counts only this thread's allocations, so the test harness's own threads do not interfere.
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        System.alloc(layout)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

fn allocations() -> usize {
    ALLOCATIONS.with(Cell::get)
}

fn request(buf: &mut [u8], xid: u32) -> usize {
    let Ok(mut w) = Dhcp4Writer::new(buf, 1500) else {
        return 0;
    };
    w.set_op(1);
    w.set_hlen(6);
    w.set_xid(xid);
    w.set_chaddr(&[1, 2, 3, 4, 5, 6]);
    let _ = w.option(opt::MESSAGE_TYPE, &[3]);
    let _ = w.option(opt::CLIENT_ID, &[1, 1, 2, 3, 4, 5, 6]);
    let _ = w.option(opt::PARAMETER_REQUEST_LIST, &[1, 3, 6, 15]);
    let _ = w.option(opt::VIVSO, &[7u8; 300]);
    w.finish().unwrap_or(0)
}

#[test]
fn parsing_and_writing_allocate_nothing_after_warm_up() {
    let mut index = OptionIndex::new();
    let mut input = [0u8; 1500];
    let mut out = [0u8; 1500];
    let len = request(&mut input, 1);
    // Warm-up: the index's buffers reach their working size.
    if let Ok(p) = Dhcp4Packet::new_checked(&input[..len]) {
        let _ = index.parse(&p);
    }

    let before = allocations();
    let mut seen = 0usize;
    for xid in 0..100u32 {
        let len = request(&mut input, xid);
        let Ok(p) = Dhcp4Packet::new_checked(&input[..len]) else {
            continue;
        };
        if index.parse(&p).is_ok() && index.client_id().is_some() {
            seen += 1;
        }
        let Ok(mut w) = Dhcp4Writer::new(&mut out, 548) else {
            continue;
        };
        w.set_op(2);
        w.set_xid(p.xid());
        w.set_yiaddr(Ipv4Addr::new(10, 0, 0, 9));
        let _ = w.option(opt::MESSAGE_TYPE, &[5]);
        let _ = w.option_u32(opt::LEASE_TIME, 3600);
        let _ = w.finish();

        let Ok(mut w6) =
            Dhcp6Writer::new_relay(&mut out, 13, 0, Ipv6Addr::LOCALHOST, Ipv6Addr::LOCALHOST)
        else {
            continue;
        };
        let _ = w6.option(v6::opt::INTERFACE_ID, b"eth0");
        let _ = w6.begin_relayed_message(7, xid);
        let _ = w6.begin_ia_na(1, 100, 200);
        let _ = w6.ia_addr(Ipv6Addr::LOCALHOST, 300, 400);
        let _ = w6.end();
        let _ = w6.end();
        let Ok(len6) = w6.finish() else { continue };
        if let Ok(p6) = Dhcp6Packet::new_checked(&out[..len6]) {
            if p6.validate().is_ok() && p6.innermost().is_ok() {
                seen += 1;
            }
        }
    }
    let after = allocations();
    assert_eq!(seen, 200, "every message must have been handled");
    assert_eq!(after - before, 0, "hot path allocated");
}
