# Which v6 hook points libdhcp_run_script.so sees for a scripted DHCPv6 exchange (Solicit,
# Request, Solicit again, Renew, Rebind, then a lease left to expire and renewed): kea-dhcp6
# 2.2 and corelease dhcp6 side by side.
#   sudo ip netns add hk; sudo ip netns exec hk python3 hooks6.py kea|/path/to/corelease [PHASE]
# PHASE "expired" (default): after the live exchanges, clients whose 3 s leases (IA_NA, IA_PD)
# expired unreclaimed send Solicit, Request, Renew, Rebind; "reclaimed": the same after the
# leases were reclaimed (reclaim-timer-wait-time 1) and are held by hold-reclaimed-time.
# After each of those exchanges the assigned/reclaimed statistics that moved are printed
# (statistic-get-all over the unix control socket). kea-dhcp6 2.2 has no pool-level statistics
# (corelease has Kea 2.6's subnet[i].pool[j] / pd-pool[j] ones), and its reclamation of a
# prefix lease takes it off assigned-nas, not assigned-pds (seen in the "reclaimed" phase).
# Seen 2026-11-24 (session 5): both call lease6_renew / lease6_rebind / leases6_committed alike
# for live leases, and nothing at a Solicit from a client with a lease. For a lease that
# expired (unreclaimed, or reclaimed and held), kea-dhcp6 2.2 advertises it again at Solicit,
# gives it at Request and renews it at Renew / Rebind; an unreclaimed one is reclaimed there
# (lease6_renew / lease6_rebind, then lease6_expire with the old lease, then leases6_committed).
# corelease dhcp6 does the same since branch v6exp (before: a new address, NoBinding at Renew).
import socket, json, subprocess, time, os, sys, glob
server = sys.argv[1]
phase = sys.argv[2] if len(sys.argv) > 2 else "expired"
D = os.environ.get("KEA_COMPARE_DIR", "/tmp/kea-compare") + "/hooks6-" + os.path.basename(server)
os.makedirs(D + "/calls", exist_ok=True)
for f in glob.glob(D + "/calls/*"):
    os.unlink(f)
script = D + "/record.sh"
open(script, "w").write("#!/bin/sh\n/usr/bin/env -0 > '%s/calls/'\"$$.$1\"\nexit 0\n" % D)
os.chmod(script, 0o755)
cfg = {"Dhcp6": {
  "interfaces-config": {"interfaces": ["lo/::1"]},
  "server-id": {"type": "EN", "enterprise-id": 2495, "identifier": "0102", "persist": False},
  "lease-database": {"type": "memfile", "persist": False},
  "preferred-lifetime": 3000, "valid-lifetime": 4000, "renew-timer": 1000, "rebind-timer": 2000,
  "min-valid-lifetime": 3, "min-preferred-lifetime": 2,
  "expired-leases-processing": {"reclaim-timer-wait-time": 1 if phase == "reclaimed" else 3600,
                                "hold-reclaimed-time": 3600},
  "control-socket": {"socket-type": "unix", "socket-name": D + "/ctrl.sock"},
  "hooks-libraries": [{"library": "/usr/lib/x86_64-linux-gnu/kea/hooks/libdhcp_run_script.so",
                       "parameters": {"name": script, "sync": False}}],
  "subnet6": [{"id": 1, "subnet": "fd00:6::/64", "interface": "lo", "pools": [{"pool": "fd00:6::100 - fd00:6::1ff"}],
               "pd-pools": [{"prefix": "fd00:7::", "prefix-len": 48, "delegated-len": 56}]}]}}
json.dump(cfg, open(D + "/dhcp6.json", "w"))
env = dict(os.environ, KEA_PIDFILE_DIR=D, KEA_LOCKFILE_DIR=D, KEA_DHCP_DATA_DIR=D)
subprocess.run(["ip", "link", "set", "lo", "up"])
argv = ["kea-dhcp6"] if server == "kea" else [server, "dhcp6"]
srv = subprocess.Popen(argv + ["-c", D + "/dhcp6.json"], env=env, stdout=open(D + "/out.txt", "w"), stderr=subprocess.STDOUT)
time.sleep(3)
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
# Relayed (Kea drops a Solicit unicast straight from a client), with the RFC 8357 relay
# source port so that the Relay-reply comes back to this socket.
s.bind(("::1", 5547)); s.settimeout(1)
LINK = socket.inet_pton(socket.AF_INET6, "fd00:6::1")
PEER = socket.inet_pton(socket.AF_INET6, "fe80::66")
SID = None

def o(code, data):
    return code.to_bytes(2, "big") + len(data).to_bytes(2, "big") + data

def msg(kind, xid, n, iaaddr=None, lft=None, pd=False):
    duid = bytes([0, 3, 0, 1, 2, 0, 0, 0, 0x66, n])
    ia = (7).to_bytes(4, "big") + bytes(8)
    def sub(v, pl, vl):
        if pd:  # IAPREFIX: lifetimes, length, prefix
            return o(26, pl.to_bytes(4, "big") + vl.to_bytes(4, "big") + bytes([56]) + v)
        return o(5, v + pl.to_bytes(4, "big") + vl.to_bytes(4, "big"))
    if iaaddr:
        pl, vl = lft or (0, 0)
        ia += sub(iaaddr, pl, vl)
    elif lft:
        ia += sub(bytes(16), lft[0], lft[1])
    m = bytes([kind]) + xid.to_bytes(3, "big") + o(1, duid) + o(25 if pd else 3, ia) + o(8, b"\0\0")
    if kind in (3, 5, 8) and SID:
        m += o(2, SID)
    return m

def exchange(name, m):
    global SID
    before = set(os.listdir(D + "/calls"))
    relayed = bytes([12, 0]) + LINK + PEER + o(135, (5547).to_bytes(2, "big")) + o(9, m)
    s.sendto(relayed, ("::1", 547))
    got = None
    try:
        r, _ = s.recvfrom(4096)
        at = 34
        while at + 4 <= len(r):
            c = int.from_bytes(r[at:at+2], "big"); ln = int.from_bytes(r[at+2:at+4], "big")
            if c == 9:
                r = r[at+4:at+4+ln]; break
            at += 4 + ln
        at, addr, status = 4, None, None
        while at + 4 <= len(r):
            c = int.from_bytes(r[at:at+2], "big"); ln = int.from_bytes(r[at+2:at+4], "big")
            if c == 2: SID = r[at+4:at+4+ln]
            if c in (3, 25):
                j = at + 4 + 12
                while j + 4 <= at + 4 + ln:
                    c2 = int.from_bytes(r[j:j+2], "big"); l2 = int.from_bytes(r[j+2:j+4], "big")
                    if c2 == 5: addr = r[j+4:j+20]
                    if c2 == 26: addr = r[j+13:j+29]
                    if c2 == 13: status = int.from_bytes(r[j+4:j+6], "big")
                    j += 4 + l2
            at += 4 + ln
        got = (r[0], addr, status)
    except socket.timeout:
        pass
    time.sleep(0.6)
    new = sorted(set(os.listdir(D + "/calls")) - before, key=lambda f: int(f.split(".")[0]))
    print("## %s -> %s" % (name, got and (got[0], got[1] and socket.inet_ntop(socket.AF_INET6, got[1]), "status %s" % got[2])), flush=True)
    for f in new:
        raw = open(D + "/calls/" + f, "rb").read().split(b"\0")
        vals = dict(kv.decode(errors="replace").split("=", 1) for kv in raw if b"=" in kv)
        keys = sorted(k for k in vals if k.startswith(("LEASE6_ADDRESS", "LEASE6_STATE", "LEASE6_VALID", "LEASE6_CLTT", "QUERY6_TYPE", "LEASES6_SIZE", "DELETED_LEASES6_SIZE", "REMOVE")))
        print("   %s: %s" % (f.split(".", 1)[1], " ".join("%s=%s" % (k, vals[k]) for k in keys)), flush=True)
    return got

STATS = {}
def stats():
    """Prints the assigned / reclaimed statistics that moved since the last call."""
    global STATS
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        c.connect(D + "/ctrl.sock")
        c.sendall(json.dumps({"command": "statistic-get-all"}).encode())
        buf = b""
        while True:
            part = c.recv(65536)
            if not part:
                break
            buf += part
            try:
                json.loads(buf); break
            except ValueError:
                pass
        args = json.loads(buf).get("arguments", {})
    except OSError as e:
        print("   stats: %s" % e); return
    finally:
        c.close()
    now = {k: v[0][0] for k, v in args.items() if ("assigned" in k or "reclaimed" in k) and v}
    moved = sorted("%s%+d" % (k, now[k] - STATS.get(k, 0)) for k in now if now[k] != STATS.get(k, 0))
    print("   stats: %s" % (" ".join(moved) or "-"), flush=True)
    STATS = now

try:
    g = exchange("S1 Solicit", msg(1, 0x101, 1))
    a = g[1]
    exchange("Q1 Request", msg(3, 0x102, 1, a, (3000, 4000)))
    exchange("S2 Solicit, client with a lease", msg(1, 0x103, 1))
    exchange("N1 Renew", msg(5, 0x104, 1, a, (3000, 4000)))
    exchange("B1 Rebind", msg(6, 0x105, 1, a, (3000, 4000)))
    # Clients 2..6 (IA_NA), 7..9 (IA_PD) take 3 s leases, then come back after they expired.
    held = {}
    for n, pd in [(2, False), (3, False), (4, False), (5, False), (6, False), (7, True), (8, True), (9, True)]:
        g = exchange("client %d %s: Solicit asking 3 s" % (n, "IA_PD" if pd else "IA_NA"), msg(1, 0x200 + n * 16, n, None, (2, 3), pd))
        g = exchange("client %d Request 3 s" % n, msg(3, 0x201 + n * 16, n, g[1], (2, 3), pd))
        held[n] = (g[1], pd)
    time.sleep(5 if phase == "reclaimed" else 4)
    stats()
    print("# the leases are now %s" % phase, flush=True)
    def again(name, kind, n, with_addr=True):
        a, pd = held[n]
        g = exchange("client %d %s: %s" % (n, "IA_PD" if pd else "IA_NA", name), msg(kind, 0x208 + n * 16, n, a if with_addr else None, None, pd))
        print("   %s" % ("the client's own lease" if g and g[1] == a else "NOT the client's lease"), flush=True)
        stats()
        return g
    again("Solicit (no hint)", 1, 2, False)
    again("Renew", 5, 2)
    g = again("Solicit (no hint)", 1, 3, False)
    held[3] = (g[1], False)
    again("Request (after that Solicit)", 3, 3)
    again("Request (hint = old address, no Solicit)", 3, 4)
    again("Renew", 5, 5)
    again("Rebind", 6, 6)
    again("Solicit (no hint)", 1, 7, False)
    again("Renew", 5, 7)
    again("Request (hint = old prefix, no Solicit)", 3, 8)
    again("Rebind", 6, 9)
finally:
    srv.terminate(); srv.wait()
