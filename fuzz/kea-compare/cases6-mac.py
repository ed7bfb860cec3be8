# Which hardware address kea-dhcp6 2.2 stores with a lease (mac-sources, ARM 10.11): each case
# is a relayed Solicit + Request from its own client; the lease's hw-address comes from
# lease6-get (needs KEA6_EXTRA with hooks-libraries: libdhcp_lease_cmds.so) and the CSV's
# hwaddr, hwtype and hwaddr_source columns. With KEA6_SERVER="corelease dhcp6" the same cases
# run against corelease; its CSV comes from `corelease lease export -c $DIR/v6/kea6.json
# --format kea-csv` after the run.
def llt(mac, htype=1): return struct.pack("!HHI", 1, htype, 0x12345678) + mac
def ll(mac, htype=1): return struct.pack("!HH", 3, htype) + mac
def en(n): return struct.pack("!HI", 2, 2495) + bytes([n, n, n])
EUI = socket.inet_pton(socket.AF_INET6, "fe80::a8bb:ccff:fedd:ee01")
# A modified EUI-64 with the u bit set (a universal MAC, 00:11:22:33:44:01), as Kea requires
# (Pkt::getMACFromIPv6: (byte 8 & 3) == 2); EUI above has it clear.
EUI_U = socket.inet_pton(socket.AF_INET6, "fe80::211:22ff:fe33:4401")
PLAIN = socket.inet_pton(socket.AF_INET6, "fe80::99")
def relay1(inner, peer, opts=b""):
    return bytes([12, 0]) + LINK + peer + opts + o(9, inner)
def vendor(ent, code, data): return o(17, struct.pack("!IHH", ent, code, len(data)) + data)
def run(name, client, peer, ropts=b"", copts=b""):
    xid = abs(hash(name)) % 0xffff00
    s.sendto(relay1(msg(1, xid, o(1, client) + o(8, b"\0\0") + copts + ia_na()), peer, ropts), SERVER)
    d, a = s.recvfrom(65536)
    while d[0] == 13: d = dict(parse_opts(d[34:]))[9]
    sid = dict(parse_opts(d[4:]))[2]; ia = dict(parse_opts(d[4:]))[3]
    addr = socket.inet_ntop(socket.AF_INET6, dict(parse_opts(ia[12:]))[5][:16])
    s.sendto(relay1(msg(3, xid+1, o(1, client) + o(2, sid) + o(8, b"\0\0") + copts + ia_na(1, iaaddr(addr))), peer, ropts), SERVER)
    d, a = s.recvfrom(65536)
    r = cmd({"command": "lease6-get", "arguments": {"ip-address": addr}})
    time.sleep(0.1)
    try:
        row = [l for l in open(D + "/leases6.csv") if l.startswith(addr + ",")][-1].strip()
    except (FileNotFoundError, IndexError):
        row = "(no Kea CSV: export it after the run)"
    print("## %s\n   lease6-get hw-address: %s\n   csv: %s" % (name, r.get("arguments", {}).get("hw-address"), row), flush=True)
M79 = o(79, struct.pack("!H", 1) + bytes.fromhex("0a0b0c0d0e79"))
RID = o(37, struct.pack("!I", 4491) + bytes.fromhex("0a0b0c0d0e37"))
CMTS = vendor(4491, 1026, bytes.fromhex("0a0b0c0d1026"))
MODEM = vendor(4491, 36, bytes.fromhex("0a0b0c0d0036"))
run("M1 llt+eui+79+rid", llt(bytes.fromhex("020000000001")), EUI, M79 + RID)
run("M2 ll+eui+79", ll(bytes.fromhex("020000000002")), EUI, M79)
run("M3 en+eui+79", en(3), EUI, M79)
run("M4 en+eui", en(4), EUI)
run("M5 en+plain+rid", en(5), PLAIN, RID)
run("M6 en+plain+cmts", en(6), PLAIN, CMTS)
run("M7 en+plain+modem", en(7), PLAIN, b"", MODEM)
run("M8 en+plain", en(8), PLAIN)
run("M9 llt htype 6", llt(bytes.fromhex("020000000009"), 6), PLAIN)
run("M10 llt no mac", llt(b""), EUI)
run("M11 llt+eui_u", llt(bytes.fromhex("020000000011")), EUI_U)
run("M12 en+eui_u+rid", en(12), EUI_U, RID)
run("M13 en+plain+rid+cmts", en(13), PLAIN, RID + CMTS)
run("M14 en+plain+cmts+modem", en(14), PLAIN, CMTS, MODEM)
# Does a Renew replace the stored hardware address (Kea's extendLease6)?
def renew(name, client, peer, ropts):
    xid = abs(hash(name)) % 0xffff00
    s.sendto(relay1(msg(1, xid, o(1, client) + o(8, b"\0\0") + ia_na()), peer, ropts), SERVER)
    d, a = s.recvfrom(65536)
    while d[0] == 13: d = dict(parse_opts(d[34:]))[9]
    sid = dict(parse_opts(d[4:]))[2]; ia = dict(parse_opts(d[4:]))[3]
    addr = socket.inet_ntop(socket.AF_INET6, dict(parse_opts(ia[12:]))[5][:16])
    s.sendto(relay1(msg(3, xid+1, o(1, client) + o(2, sid) + o(8, b"\0\0") + ia_na(1, iaaddr(addr))), peer, ropts), SERVER)
    d, a = s.recvfrom(65536)
    other = o(79, struct.pack("!H", 1) + bytes.fromhex("0a0b0c0d0e80"))
    s.sendto(relay1(msg(5, xid+2, o(1, client) + o(2, sid) + o(8, b"\0\0") + ia_na(1, iaaddr(addr))), peer, other), SERVER)
    d, a = s.recvfrom(65536)
    r = cmd({"command": "lease6-get", "arguments": {"ip-address": addr}})
    s.sendto(relay1(msg(5, xid+3, o(1, client) + o(2, sid) + o(8, b"\0\0") + ia_na(1, iaaddr(addr))), PLAIN, b""), SERVER)
    d, a = s.recvfrom(65536)
    r2 = cmd({"command": "lease6-get", "arguments": {"ip-address": addr}})
    print("## %s\n   after renew with another 79: %s\n   after renew with none: %s" % (name, r.get("arguments", {}).get("hw-address"), r2.get("arguments", {}).get("hw-address")), flush=True)
renew("R1 en renew", en(21), PLAIN, M79)
