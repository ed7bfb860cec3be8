#!/usr/bin/env python3
"""Per-exchange delays of a relayed DHCPv6 run from a pcap (tcpdump -w on the namespace's lo):
each Solicit / Request in a Relay-forward is matched with its Advertise / Reply in a
Relay-reply by transaction id; prints, per time slot, how many were sent, answered, never
answered, and the longest delay of those sent in the slot, plus the longest overall.
Marks (name=unix_time arguments) are printed in the timeline.
Usage: v6-delays.py FILE.pcap [SLOT_SECONDS=0.25] [name=time ...]"""
import struct
import sys


def packets(path):
    with open(path, "rb") as f:
        head = f.read(24)
        magic = struct.unpack("<I", head[:4])[0]
        endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
        nano = magic in (0xA1B23C4D, 0x4D3CB2A1)
        link = struct.unpack(endian + "I", head[20:24])[0]
        while True:
            rec = f.read(16)
            if len(rec) < 16:
                return
            sec, frac, incl, _ = struct.unpack(endian + "IIII", rec)
            data = f.read(incl)
            t = sec + frac / (1e9 if nano else 1e6)
            off = {1: 14, 113: 16, 276: 20}.get(link, 14)
            yield t, data[off:]


def dhcp6(ip):
    """(inner message type, xid) of a relayed DHCPv6 message in an IPv6/UDP packet."""
    if len(ip) < 48 or ip[0] >> 4 != 6 or ip[6] != 17:
        return None
    msg = ip[48:]
    if not msg or msg[0] not in (12, 13):
        return None
    opts = msg[34:]
    while len(opts) >= 4:
        code, ln = struct.unpack("!HH", opts[:4])
        if code == 9 and ln >= 4:
            inner = opts[4 : 4 + ln]
            return inner[0], inner[1:4]
        opts = opts[4 + ln :]
    return None


def main():
    path = sys.argv[1]
    slot = float(sys.argv[2]) if len(sys.argv) > 2 else 0.25
    marks = sorted((float(v), k) for k, v in (a.split("=") for a in sys.argv[3:]))
    asked = {}  # (kind, xid) -> send time
    done = {}
    answer = {2: 1, 7: 3}
    for t, ip in packets(path):
        m = dhcp6(ip)
        if m is None:
            continue
        typ, xid = m
        if typ in (1, 3):
            asked.setdefault((typ, xid), t)
        elif typ in answer:
            key = (answer[typ], xid)
            if key in asked and key not in done:
                done[key] = t - asked[key]
    if not asked:
        print("no relayed Solicit/Request in", path)
        return
    t0 = min(asked.values())
    rows = {}
    for key, t in asked.items():
        r = rows.setdefault(int((t - t0) / slot), {1: [0, 0, 0.0], 3: [0, 0, 0.0]})
        c = r[key[0]]
        c[0] += 1
        if key in done:
            c[1] += 1
            c[2] = max(c[2], done[key])
    print(f"slot start (s)  Solicits sent/answered/max delay ms   Requests sent/answered/max delay ms")
    mi = 0
    for i in sorted(rows):
        while mi < len(marks) and marks[mi][0] - t0 < (i + 1) * slot:
            print(f"  --- {marks[mi][1]} at {marks[mi][0] - t0:.3f} s")
            mi += 1
        s, q = rows[i][1], rows[i][3]
        print(f"{i * slot:8.2f}        {s[0]:4d} {s[1]:4d} {s[2] * 1000:8.1f}              "
              f"{q[0]:4d} {q[1]:4d} {q[2] * 1000:8.1f}")
    for kind, name in ((1, "Solicit"), (3, "Request")):
        sent = [k for k in asked if k[0] == kind]
        got = [done[k] for k in sent if k in done]
        print(f"{name}: sent {len(sent)}, answered {len(got)}, unanswered {len(sent) - len(got)}, "
              f"max delay {max(got, default=0) * 1000:.1f} ms")


main()
