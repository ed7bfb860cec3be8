# Crafted DHCPv4 packets to kea-dhcp4 2.2 inside a network namespace (see run.sh).
import socket, json, subprocess, time, os, struct, sys
D = os.environ.get("KEA_COMPARE_DIR", "/tmp/kea-compare") + "/v4"
os.makedirs(D, exist_ok=True)
SOCK = D + "/ctrl4"
SOCKTYPE = os.environ.get("SOCKTYPE", "udp")
cfg = {"Dhcp4": {
  "interfaces-config": {"interfaces": ["lo/127.0.0.1"], "dhcp-socket-type": SOCKTYPE},
  "lease-database": {"type": "memfile", "persist": True, "name": D + "/leases4.csv"},
  "multi-threading": {"enable-multi-threading": True, "thread-pool-size": 2},
  "valid-lifetime": 4000, "renew-timer": 1000, "rebind-timer": 2000,
  "control-socket": {"socket-type": "unix", "socket-name": SOCK},
  "subnet4": [{"id": 7, "subnet": "100.64.0.0/24", "relay": {"ip-addresses": ["127.0.0.2"]}, "pools": [{"pool": "100.64.0.10 - 100.64.0.200"}]}],
  "loggers": [{"name": "kea-dhcp4", "output_options": [{"output": D + "/kea4.log"}], "severity": "DEBUG", "debuglevel": 99}]
}}
json.dump(cfg, open(D + "/kea4.json", "w"))
env = dict(os.environ, KEA_PIDFILE_DIR=D, KEA_LOCKFILE_DIR=D, KEA_DHCP_DATA_DIR=D)
for f in ["leases4.csv", "kea4.log", "kea4.kea-dhcp4.pid"]:
    try: os.unlink(D + "/" + f)
    except FileNotFoundError: pass
subprocess.run(["ip", "link", "set", "lo", "up"])
subprocess.run(["ip", "addr", "add", "127.0.0.2/8", "dev", "lo"])
kea = subprocess.Popen(["kea-dhcp4", "-c", D + "/kea4.json", "-p", "6767"], env=env, stdout=open(D+"/out.txt","w"), stderr=subprocess.STDOUT)
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
    return {k: v[0][0] for k, v in r.items() if k.startswith("pkt4")}
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.2", 67)); s.settimeout(0.6)
SERVER = ("127.0.0.1", 6767)
def header(xid, mac=2):
    p = bytearray(240); p[0:4] = bytes([1,1,6,1]); p[4:8] = xid.to_bytes(4, "big")
    p[24:28] = bytes([127,0,0,2]); p[28:34] = bytes([2,0,0,0,0,mac]); p[236:240] = bytes([99,130,83,99]); return bytes(p)
def send(name, b):
    before = stats(); s.sendto(b, SERVER); replies = []
    end = time.time() + 0.8
    while time.time() < end:
        try:
            d, a = s.recvfrom(65536)
            kind = None; i = 240
            while i < len(d) and d[i] != 255:
                if d[i] == 0: i += 1; continue
                if d[i] == 53: kind = d[i+2]
                i += 2 + d[i+1]
            replies.append((kind, ".".join(map(str, d[16:20])), hex(int.from_bytes(d[4:8], "big")), len(d)))
        except socket.timeout: break
    time.sleep(0.2); after = stats()
    diff = {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}
    print("## %s (%d bytes)\n   replies: %s\n   stats: %s" % (name, len(b), replies, diff), flush=True)
try:
    exec(open(sys.argv[1]).read())
finally:
    kea.terminate(); kea.wait()
