# What libdhcp_run_script.so in Dhcp4 sees for DHCPv4-over-DHCPv6 queries (RFC 7341): kea-dhcp6
# 2.2 in front, kea-dhcp4 2.2 or corelease dhcp4 behind it, side by side.
#   sudo ip netns add hk; sudo ip netns exec hk python3 hooks4o6.py kea|/path/to/corelease
import socket, json, subprocess, time, os, sys, glob
server = sys.argv[1]
D = os.environ.get("KEA_COMPARE_DIR", "/tmp/kea-compare") + "/hooks4o6-" + os.path.basename(server)
os.makedirs(D + "/calls", exist_ok=True)
for f in glob.glob(D + "/calls/*"):
    os.unlink(f)
script = D + "/record.sh"
open(script, "w").write("#!/bin/sh\n/usr/bin/env -0 > '%s/calls/'\"$$.$1\"\nexit 0\n" % D)
os.chmod(script, 0o755)
cfg4 = {"Dhcp4": {
  "interfaces-config": {"interfaces": ["lo"], "dhcp-socket-type": "udp"},
  "lease-database": {"type": "memfile", "persist": False},
  "valid-lifetime": 4000, "dhcp4o6-port": 6767,
  "hooks-libraries": [{"library": "/usr/lib/x86_64-linux-gnu/kea/hooks/libdhcp_run_script.so",
                       "parameters": {"name": script, "sync": False}}],
  "subnet4": [{"id": 46, "subnet": "10.46.0.0/24", "4o6-interface": "lo",
               "pools": [{"pool": "10.46.0.100 - 10.46.0.199"}]}],
  "loggers": [{"name": "kea-dhcp4", "output_options": [{"output": D + "/dhcp4.log"}], "severity": "DEBUG", "debuglevel": 99}]}}
cfg6 = {"Dhcp6": {
  "interfaces-config": {"interfaces": ["lo/::1"]},
  "server-id": {"type": "EN", "enterprise-id": 2495, "identifier": "0102", "persist": False},
  "lease-database": {"type": "memfile", "persist": False}, "dhcp4o6-port": 6767,
  "subnet6": [{"id": 1, "subnet": "fd00:46::/64", "interface": "lo", "pools": [{"pool": "fd00:46::100 - fd00:46::1ff"}]}]}}
json.dump(cfg4, open(D + "/dhcp4.json", "w")); json.dump(cfg6, open(D + "/dhcp6.json", "w"))
env = dict(os.environ, KEA_PIDFILE_DIR=D, KEA_LOCKFILE_DIR=D, KEA_DHCP_DATA_DIR=D)
subprocess.run(["ip", "link", "set", "lo", "up"])
argv4 = ["kea-dhcp4"] if server == "kea" else [server, "dhcp4"]
s4 = subprocess.Popen(argv4 + ["-c", D + "/dhcp4.json"], env=env, stdout=open(D + "/out4.txt", "w"), stderr=subprocess.STDOUT)
s6 = subprocess.Popen(["kea-dhcp6", "-c", D + "/dhcp6.json"], env=env, stdout=open(D + "/out6.txt", "w"), stderr=subprocess.STDOUT)
time.sleep(3)
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.bind(("::1", 546)); s.settimeout(1)

def v4(kind, mac, xid, opts=b""):
    p = bytearray(240); p[0:4] = bytes([1, 1, 6, 0]); p[4:8] = xid.to_bytes(4, "big")
    p[28:34] = bytes([2, 0x46, 0, 0, 0, mac]); p[236:240] = bytes([99, 130, 83, 99])
    return bytes(p) + bytes([53, 1, kind]) + opts + b"\xff"

def exchange(name, msg, xid):
    q = bytes([20]) + xid + bytes([0, 87]) + len(msg).to_bytes(2, "big") + msg
    before = set(os.listdir(D + "/calls"))
    r = None
    for _ in range(3):
        s.sendto(q, ("::1", 547))
        try:
            d, _ = s.recvfrom(4096); r = d; break
        except socket.timeout:
            pass
    got = None
    if r:
        at = 4
        while at + 4 <= len(r):
            code = int.from_bytes(r[at:at+2], "big"); ln = int.from_bytes(r[at+2:at+4], "big")
            if code == 87:
                m = r[at+4:at+4+ln]; i, kind, sid = 240, None, None
                while i < len(m) and m[i] != 255:
                    if m[i] == 0: i += 1; continue
                    if m[i] == 53: kind = m[i+2]
                    if m[i] == 54: sid = m[i+2:i+6]
                    i += 2 + m[i+1]
                got = (kind, m[16:20], sid)
            at += 4 + ln
    time.sleep(0.6)
    new = sorted(set(os.listdir(D + "/calls")) - before, key=lambda f: int(f.split(".")[0]))
    print("## %s -> %s" % (name, got and (got[0], socket.inet_ntoa(got[1]))), flush=True)
    for f in new:
        raw = open(D + "/calls/" + f, "rb").read().split(b"\0")
        vals = dict(kv.decode(errors="replace").split("=", 1) for kv in raw if b"=" in kv)
        keys = sorted(k for k in vals if k.split("_")[0] in ("QUERY4", "SUBNET4", "PKT4", "LEASE4", "LEASES4", "DELETED", "REMOVE"))
        print("   %s: %s" % (f.split(".", 1)[1], " ".join("%s=%s" % (k, vals[k]) for k in keys)), flush=True)
    return got

try:
    g = exchange("D1 DISCOVER over 4o6", v4(1, 1, 0x460001), b"\x01\x02\x03")
    if g:
        exchange("R1 REQUEST over 4o6", v4(3, 1, 0x460002, bytes([50, 4]) + g[1] + bytes([54, 4]) + g[2]), b"\x01\x02\x04")
        exchange("D2 DISCOVER again", v4(1, 1, 0x460003), b"\x01\x02\x05")
        exchange("RL RELEASE", v4(7, 1, 0x460004, bytes([54, 4]) + g[2])[:12] + g[1] + v4(7, 1, 0x460004, bytes([54, 4]) + g[2])[16:], b"\x01\x02\x06")
finally:
    s4.terminate(); s6.terminate(); s4.wait(); s6.wait()
