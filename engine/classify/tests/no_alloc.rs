//! Evaluation is on the per-packet hot path: after a warm-up packet has grown the scratch
//! stacks, evaluating a set of class tests allocates nothing (DESIGN.md goal 2).

use corelease_classify::{compile, PacketContext, Scratch};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::net::Ipv4Addr;

struct CountingAllocator;

thread_local! {
    // Only this thread's allocations, so the harness's other threads do not interfere.
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

struct Pkt {
    xid: u32,
    opt60: Vec<u8>,
    opt82: Vec<u8>,
}

impl PacketContext for Pkt {
    fn option(&self, code: u16) -> Option<&[u8]> {
        match code {
            60 => Some(&self.opt60),
            82 => Some(&self.opt82),
            _ => None,
        }
    }
    fn pkt4_mac(&self) -> &[u8] {
        &[1, 2, 3, 4, 5, 6]
    }
    fn pkt4_giaddr(&self) -> Ipv4Addr {
        Ipv4Addr::new(10, 0, 0, 1)
    }
    fn transaction_id(&self) -> u32 {
        self.xid
    }
    fn is_member(&self, name: &str) -> bool {
        name == "gold"
    }
}

const TESTS: &[&str] = &[
    "substring(option[60].hex, 0, 9) == 'PXEClient'",
    "relay4[2].hex == 0x1234",
    "hexstring(pkt4.mac, ':') == '01:02:03:04:05:06'",
    "addrtotext(pkt4.giaddr) == '10.0.0.1'",
    "uint32totext(pkt4.transid) == '7'",
    "lcase(split(option[60].text, ':', 2)) + 'x' == 'archx'",
    "ifelse(option[77].exists, option[77].hex, 'none') == 'none'",
    "member('gold') and unknown or known",
    "match('PXE.*', option[60].hex)",
    "concat(int8totext(-1), ucase('ab')) == '-1AB'",
];

#[test]
fn evaluating_class_tests_allocates_nothing_after_warm_up() {
    let programs: Vec<_> = TESTS.iter().filter_map(|t| compile(t).ok()).collect();
    assert_eq!(programs.len(), TESTS.len(), "every test must compile");
    let mut scratch = Scratch::new();
    let mut pkt = Pkt {
        xid: 7,
        opt60: b"PXEClient:Arch:00007".to_vec(),
        opt82: vec![1, 2, b'a', b'b', 2, 2, 0x12, 0x34],
    };
    // Warm-up: scratch stacks and the regex's per-thread cache reach their working size.
    for p in &programs {
        let _ = p.eval_bool(&pkt, &mut scratch);
    }

    let before = allocations();
    let mut matched = 0usize;
    for round in 0..100u32 {
        pkt.xid = if round % 2 == 0 { 7 } else { 1000 + round };
        for p in &programs {
            if p.eval_bool(&pkt, &mut scratch) {
                matched += 1;
            }
        }
    }
    let after = allocations();
    // 9 tests always match; the transid one matches on the 50 even rounds.
    assert_eq!(matched, 9 * 100 + 50);
    assert_eq!(after - before, 0, "evaluation allocated");
}
