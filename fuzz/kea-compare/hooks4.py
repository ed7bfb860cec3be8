# Which hook points libdhcp_run_script.so sees, and with which variables, for a scripted
# DHCPv4 exchange: run against kea-dhcp4 2.2 and against corelease dhcp4, side by side.
#   sudo ip netns add hk; sudo ip netns exec hk python3 hooks4.py kea [PHASE]
#   sudo ip netns exec hk python3 hooks4.py /path/to/corelease [PHASE]; ip netns del hk
# PHASE "live" (default): leases stay valid; "expired": a 3 s lease left unreclaimed;
# "reclaimed": a 3 s lease reclaimed after 1 s. Files go under $KEA_COMPARE_DIR.
import socket, json, subprocess, time, os, sys, glob
server = sys.argv[1]
phase = sys.argv[2] if len(sys.argv) > 2 else "live"
D = os.environ.get("KEA_COMPARE_DIR", "/tmp/kea-compare") + "/hooks4-" + os.path.basename(server)
os.makedirs(D + "/calls", exist_ok=True)
for f in glob.glob(D + "/calls/*"):
    os.unlink(f)
script = D + "/record.sh"
open(script, "w").write("#!/bin/sh\n/usr/bin/env -0 > '%s/calls/'\"$$.$1\"\nexit 0\n" % D)
os.chmod(script, 0o755)
valid = 4000 if phase == "live" else 3
cfg = {"Dhcp4": {
  "interfaces-config": {"interfaces": ["lo/127.0.0.1"], "dhcp-socket-type": "udp"},
  "lease-database": {"type": "memfile", "persist": False},
  "valid-lifetime": valid, "renew-timer": 1000 if valid > 1000 else 1, "rebind-timer": 2000 if valid > 2000 else 2,
  "expired-leases-processing": {"reclaim-timer-wait-time": 1 if phase == "reclaimed" else 3600,
                                "hold-reclaimed-time": 3600, "flush-reclaimed-timer-wait-time": 3600},
  "control-socket": {"socket-type": "unix", "socket-name": D + "/ctrl4"},
  "hooks-libraries": [{"library": "/usr/lib/x86_64-linux-gnu/kea/hooks/libdhcp_run_script.so",
                       "parameters": {"name": script, "sync": False}}],
  "subnet4": [{"id": 7, "subnet": "100.64.0.0/24", "relay": {"ip-addresses": ["127.0.0.2"]},
               "pools": [{"pool": "100.64.0.10 - 100.64.0.200"}]}],
  "loggers": [{"name": "kea-dhcp4", "output_options": [{"output": D + "/server.log"}], "severity": "DEBUG", "debuglevel": 99}]
}}
json.dump(cfg, open(D + "/dhcp4.json", "w"))
env = dict(os.environ, KEA_PIDFILE_DIR=D, KEA_LOCKFILE_DIR=D, KEA_DHCP_DATA_DIR=D)
subprocess.run(["ip", "link", "set", "lo", "up"])
subprocess.run(["ip", "addr", "add", "127.0.0.2/8", "dev", "lo"], stderr=subprocess.DEVNULL)
argv = ["kea-dhcp4"] if server == "kea" else [server, "dhcp4"]
srv = subprocess.Popen(argv + ["-c", D + "/dhcp4.json", "-p", "6767"], env=env,
                       stdout=open(D + "/out.txt", "w"), stderr=subprocess.STDOUT)
time.sleep(2.5)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.2", 67)); s.settimeout(0.6)
SERVER = ("127.0.0.1", 6767)
SID = None

def stats():
    c = socket.socket(socket.AF_UNIX); c.connect(D + "/ctrl4")
    c.sendall(json.dumps({"command": "statistic-get-all"}).encode()); buf = b""
    while True:
        d = c.recv(65536)
        if not d: break
        buf += d
        try: r = json.loads(buf); break
        except ValueError: pass
    r = json.loads(buf)["arguments"]
    return {k: v[0][0] for k, v in r.items() if not k.startswith("pkt4") and isinstance(v[0][0], int)}

def packet(kind, xid, mac, ciaddr=b"\0\0\0\0", opts=b""):
    p = bytearray(240); p[0:4] = bytes([1, 1, 6, 1]); p[4:8] = xid.to_bytes(4, "big")
    p[12:16] = ciaddr; p[24:28] = bytes([127, 0, 0, 2]); p[28:34] = bytes([2, 0, 0, 0, 0, mac])
    p[236:240] = bytes([99, 130, 83, 99])
    return bytes(p) + bytes([53, 1, kind]) + opts + b"\xff"

def opt(code, val):
    return bytes([code, len(val)]) + val

def exchange(name, pkt):
    global SID
    before = set(os.listdir(D + "/calls")); st = stats()
    s.sendto(pkt, SERVER)
    reply = None
    try:
        d, _ = s.recvfrom(65536)
        i, kind = 240, None
        while i < len(d) and d[i] != 255:
            if d[i] == 0: i += 1; continue
            if d[i] == 53: kind = d[i + 2]
            if d[i] == 54: SID = d[i + 2:i + 6]
            i += 2 + d[i + 1]
        reply = (kind, bytes(d[16:20]))
    except socket.timeout:
        pass
    time.sleep(0.5)
    # Scripts start in the order of the calls: the fork order, which the pid follows.
    new = sorted(set(os.listdir(D + "/calls")) - before, key=lambda f: int(f.split(".")[0]))
    print("## %s -> %s" % (name, reply and ({2: "OFFER", 5: "ACK", 6: "NAK"}.get(reply[0], reply[0]), socket.inet_ntoa(reply[1]))), flush=True)
    st2 = stats()
    print("   stats: %s" % {k: st2[k] - st.get(k, 0) for k in sorted(st2) if st2[k] != st.get(k, 0)})
    for f in new:
        raw = open(D + "/calls/" + f, "rb").read().split(b"\0")
        vals = dict(kv.decode(errors="replace").split("=", 1) for kv in raw if b"=" in kv)
        keys = sorted(k for k in vals if k.startswith(("QUERY4_", "SUBNET4_", "PKT4_", "LEASE4_", "LEASES4_", "DELETED_", "RESPONSE4_")))
        print("   %s: %s" % (f.split(".", 1)[1], " ".join("%s=%s" % (k, vals[k]) for k in keys)), flush=True)
    return reply

ADDR = lambda r: r[1] if r else b"\0\0\0\0"
try:
    if phase == "live":
        r = exchange("D1 DISCOVER new client", packet(1, 0x101, 1))
        exchange("R1 REQUEST selecting", packet(3, 0x102, 1, opts=opt(50, ADDR(r)) + opt(54, SID)))
        exchange("D2 DISCOVER client with a lease", packet(1, 0x103, 1))
        exchange("D3 DISCOVER client with a lease, requesting it", packet(1, 0x104, 1, opts=opt(50, ADDR(r))))
        exchange("R2 REQUEST renewing (ciaddr)", packet(3, 0x105, 1, ciaddr=ADDR(r)))
        exchange("R3 REQUEST init-reboot (option 50, no server-id)", packet(3, 0x106, 1, opts=opt(50, ADDR(r))))
        exchange("R4 REQUEST selecting again (server-id)", packet(3, 0x107, 1, opts=opt(50, ADDR(r)) + opt(54, SID)))
        r5 = exchange("D4 DISCOVER second client", packet(1, 0x108, 2))
        exchange("R5 REQUEST second client for the first's address", packet(3, 0x109, 2, opts=opt(50, ADDR(r)) + opt(54, SID)))
        exchange("RL RELEASE first client", packet(7, 0x10a, 1, ciaddr=ADDR(r), opts=opt(54, SID)))
        exchange("D5 DISCOVER after release", packet(1, 0x10b, 1))
    else:
        r1 = r = exchange("D1 DISCOVER new client", packet(1, 0x201, 1))
        exchange("R1 REQUEST selecting", packet(3, 0x202, 1, opts=opt(50, ADDR(r)) + opt(54, SID)))
        time.sleep(5)
        exchange("D2 DISCOVER client whose lease expired (%s)" % phase, packet(1, 0x203, 1))
        exchange("R2 REQUEST for it", packet(3, 0x204, 1, opts=opt(50, ADDR(r)) + opt(54, SID)))
        r = exchange("D3 DISCOVER second client", packet(1, 0x205, 2))
        time.sleep(5)
        exchange("R3 REQUEST of a lapsed offer / expired (%s)" % phase, packet(3, 0x206, 2, opts=opt(50, ADDR(r)) + opt(54, SID)))
        exchange("R4 REQUEST renewing an expired lease (ciaddr)", packet(3, 0x207, 1, ciaddr=ADDR(r1)))
finally:
    srv.terminate(); srv.wait()
