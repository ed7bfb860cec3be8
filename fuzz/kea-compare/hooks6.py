# Which v6 hook points libdhcp_run_script.so sees for a scripted DHCPv6 exchange (Solicit,
# Request, Solicit again, Renew, Rebind, then a lease left to expire and renewed): kea-dhcp6
# 2.2 and corelease dhcp6 side by side.
#   sudo ip netns add hk; sudo ip netns exec hk python3 hooks6.py kea|/path/to/corelease
# Seen 2026-11-24 (session 5): both call lease6_renew / lease6_rebind / leases6_committed alike
# for live leases, and nothing at a Solicit from a client with a lease. They differ for a
# lease that expired unreclaimed: kea-dhcp6 2.2 advertises it again at Solicit and renews it at
# Renew (lease6_renew, then lease6_expire with the old lease, then leases6_committed with it);
# corelease dhcp6 advertises a new address and answers the Renew with NoBinding.
import socket, json, subprocess, time, os, sys, glob
server = sys.argv[1]
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
  "expired-leases-processing": {"reclaim-timer-wait-time": 3600},
  "hooks-libraries": [{"library": "/usr/lib/x86_64-linux-gnu/kea/hooks/libdhcp_run_script.so",
                       "parameters": {"name": script, "sync": False}}],
  "subnet6": [{"id": 1, "subnet": "fd00:6::/64", "interface": "lo", "pools": [{"pool": "fd00:6::100 - fd00:6::1ff"}]}]}}
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

def msg(kind, xid, n, iaaddr=None, lft=None):
    duid = bytes([0, 3, 0, 1, 2, 0, 0, 0, 0x66, n])
    ia = (7).to_bytes(4, "big") + bytes(8)
    if iaaddr:
        pl, vl = lft or (0, 0)
        ia += o(5, iaaddr + pl.to_bytes(4, "big") + vl.to_bytes(4, "big"))
    elif lft:
        ia += o(5, bytes(16) + lft[0].to_bytes(4, "big") + lft[1].to_bytes(4, "big"))
    m = bytes([kind]) + xid.to_bytes(3, "big") + o(1, duid) + o(3, ia) + o(8, b"\0\0")
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
        at, addr = 4, None
        while at + 4 <= len(r):
            c = int.from_bytes(r[at:at+2], "big"); ln = int.from_bytes(r[at+2:at+4], "big")
            if c == 2: SID = r[at+4:at+4+ln]
            if c == 3:
                j = at + 4 + 12
                while j + 4 <= at + 4 + ln:
                    c2 = int.from_bytes(r[j:j+2], "big"); l2 = int.from_bytes(r[j+2:j+4], "big")
                    if c2 == 5: addr = r[j+4:j+20]
                    j += 4 + l2
            at += 4 + ln
        got = (r[0], addr)
    except socket.timeout:
        pass
    time.sleep(0.6)
    new = sorted(set(os.listdir(D + "/calls")) - before, key=lambda f: int(f.split(".")[0]))
    print("## %s -> %s" % (name, got and (got[0], got[1] and socket.inet_ntop(socket.AF_INET6, got[1]))), flush=True)
    for f in new:
        raw = open(D + "/calls/" + f, "rb").read().split(b"\0")
        vals = dict(kv.decode(errors="replace").split("=", 1) for kv in raw if b"=" in kv)
        keys = sorted(k for k in vals if k.startswith(("LEASE6_ADDRESS", "LEASE6_STATE", "LEASE6_VALID", "LEASE6_CLTT", "QUERY6_TYPE", "LEASES6_SIZE", "DELETED_LEASES6_SIZE", "REMOVE")))
        print("   %s: %s" % (f.split(".", 1)[1], " ".join("%s=%s" % (k, vals[k]) for k in keys)), flush=True)
    return got

try:
    g = exchange("S1 Solicit", msg(1, 0x101, 1))
    a = g[1]
    exchange("Q1 Request", msg(3, 0x102, 1, a, (3000, 4000)))
    exchange("S2 Solicit, client with a lease", msg(1, 0x103, 1))
    exchange("N1 Renew", msg(5, 0x104, 1, a, (3000, 4000)))
    exchange("B1 Rebind", msg(6, 0x105, 1, a, (3000, 4000)))
    g = exchange("S3 Solicit client 2 asking 3 s", msg(1, 0x201, 2, None, (2, 3)))
    b = g[1]
    exchange("Q2 Request 3 s", msg(3, 0x202, 2, b, (2, 3)))
    time.sleep(4)
    exchange("S4 Solicit client 2, lease expired", msg(1, 0x203, 2))
    exchange("N2 Renew expired lease", msg(5, 0x204, 2, b, (2, 3)))
finally:
    srv.terminate(); srv.wait()
