# Crafted DHCPv6 packets to kea-dhcp6 2.2 inside a network namespace (see run.sh).
import socket, json, subprocess, time, os, struct, sys
D = os.environ.get("KEA_COMPARE_DIR", "/tmp/kea-compare") + "/v6"
os.makedirs(D, exist_ok=True)
SOCK = D + "/ctrl6"
cfg = {"Dhcp6": {
  "interfaces-config": {"interfaces": ["lo/::1"]},
  "lease-database": {"type": "memfile", "persist": True, "name": D + "/leases6.csv"},
  "multi-threading": {"enable-multi-threading": True, "thread-pool-size": 2},
  "control-socket": {"socket-type": "unix", "socket-name": SOCK},
  "preferred-lifetime": 3000, "valid-lifetime": 4000, "server-id": {"type": "EN", "enterprise-id": 2495, "identifier": "0102030405", "persist": False},
  "subnet6": [{"id": 9, "subnet": "fd00:1::/64", "pools": [{"pool": "fd00:1::1000 - fd00:1::10ff"}]}],
  "loggers": [{"name": "kea-dhcp6", "output_options": [{"output": D + "/kea6.log"}], "severity": "DEBUG", "debuglevel": 99}]
}}
# Extra global keys for one run (e.g. KEA6_EXTRA='{"mac-sources": ["duid"]}').
cfg["Dhcp6"].update(json.loads(os.environ.get("KEA6_EXTRA", "{}")))
json.dump(cfg, open(D + "/kea6.json", "w"))
env = dict(os.environ, KEA_PIDFILE_DIR=D, KEA_LOCKFILE_DIR=D, KEA_DHCP_DATA_DIR=D)
for f in ["leases6.csv", "kea6.log", "kea6.kea-dhcp6.pid"]:
    try: os.unlink(D + "/" + f)
    except FileNotFoundError: pass
subprocess.run(["ip", "addr", "add", "fd00:99::2/128", "dev", "lo", "nodad"])
subprocess.run(["ip", "link", "set", "lo", "up"])
# KEA6_SERVER runs another server with Kea's switches instead (e.g. "corelease dhcp6").
server = os.environ.get("KEA6_SERVER", "kea-dhcp6").split()
kea = subprocess.Popen(server + ["-c", D + "/kea6.json", "-p", "5547"], env=env, stdout=open(D+"/out.txt","w"), stderr=subprocess.STDOUT)
time.sleep(2.5)

def cmd(c):
    s = socket.socket(socket.AF_UNIX); s.connect(SOCK); s.sendall(json.dumps(c).encode())
    buf = b""
    while True:
        d = s.recv(65536)
        if not d: break
        buf += d
        try: return json.loads(buf)
        except Exception: pass
    return json.loads(buf)

def stats():
    r = cmd({"command": "statistic-get-all"})["arguments"]
    return {k: v[0][0] for k, v in r.items() if k.startswith("pkt6") or "declined" in k or "assigned" in k}

def o(code, data): return struct.pack("!HH", code, len(data)) + data
def duid(n): return bytes([0,3,0,1,2,0,0,0,0,n])
def ia_na(iaid=1, sub=b""): return o(3, struct.pack("!III", iaid, 0, 0) + sub)
def iaaddr(a, p=3000, v=4000): return o(5, socket.inet_pton(socket.AF_INET6, a) + struct.pack("!II", p, v))
def msg(kind, xid, opts): return bytes([kind]) + xid.to_bytes(3, "big") + opts
LINK = socket.inet_pton(socket.AF_INET6, "fd00:1::1"); PEER = socket.inet_pton(socket.AF_INET6, "fe80::99")
def relay(inner, depth, kind=12, extra=b""):
    m = inner
    for hop in range(depth):
        m = bytes([kind, hop]) + LINK + PEER + o(9, m) + extra
    return m

s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.bind(("fd00:99::2", 547)); s.settimeout(0.6)
SERVER = ("::1", 5547)

def parse_opts(b):
    out = []; i = 0
    while i + 4 <= len(b):
        c, l = struct.unpack("!HH", b[i:i+4]); d = b[i+4:i+4+l]
        if len(d) < l: break
        out.append((c, d)); i += 4 + l
    return out

def describe(p):
    layers = []
    while p and p[0] in (12, 13):
        layers.append(p[0]); r = dict(parse_opts(p[34:])); p = r.get(9, b"")
    if not p: return "layers %s no inner" % layers
    top = parse_opts(p[4:])
    desc = []
    for c, d in top:
        if c == 13: desc.append("status(%d,%r)" % (struct.unpack("!H", d[:2])[0], d[2:]))
        elif c in (3, 25):
            subs = []
            for sc, sd in parse_opts(d[12:]):
                if sc == 13: subs.append("status(%d,%r)" % (struct.unpack("!H", sd[:2])[0], sd[2:]))
                elif sc == 5: subs.append("addr %s" % socket.inet_ntop(socket.AF_INET6, sd[:16]))
                else: subs.append(str(sc))
            desc.append("IA%d[%s]" % (c, ",".join(subs)))
        else: desc.append(str(c))
    return "layers %s type %d xid %x opts %s" % (layers, p[0], int.from_bytes(p[1:4], "big"), " ".join(desc))

def send(name, b):
    before = stats()
    s.sendto(b, SERVER)
    replies = []
    end = time.time() + 0.8
    while time.time() < end:
        try:
            d, a = s.recvfrom(65536); replies.append((a, describe(d)))
        except socket.timeout: break
    time.sleep(0.2)
    after = stats()
    diff = {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}
    print("## %s (%d bytes)\n   replies: %s\n   stats: %s" % (name, len(b), replies, diff), flush=True)
    return replies

def sarr(c, xid):
    adv = None
    s.sendto(relay(msg(1, xid, o(1, c) + o(8, b"\0\0") + ia_na()), 1), SERVER)
    d, a = s.recvfrom(65536)
    while d[0] == 13: d = dict(parse_opts(d[34:]))[9]
    sid = dict(parse_opts(d[4:]))[2]; ia = dict(parse_opts(d[4:]))[3]
    addr = socket.inet_ntop(socket.AF_INET6, dict(parse_opts(ia[12:]))[5][:16])
    s.sendto(relay(msg(3, xid+1, o(1, c) + o(2, sid) + o(8, b"\0\0") + ia_na(1, iaaddr(addr))), 1), SERVER)
    d, a = s.recvfrom(65536)
    return sid, addr

try:
    exec(open(sys.argv[1]).read())
finally:
    kea.terminate(); kea.wait()
