# What kea-dhcp6 2.2 puts on the wire for each standard DHCPv6 option (ARM 10.2.11 table 1)
# configured in option-data with csv-format true and always-send true (audit item 1).
#   sudo fuzz/kea-compare/run.sh 6 cases6-std-options.py
# For every case: config-set with the case's option-data (global scope), one relayed
# Information-request, and the reply's option payload printed as a Rust test row
#   ("label", code, r#"<option-data JSON>"#, &[bytes]),
# which engine/config/tests/options6_kea.rs keeps as constants. "REJECTED" = Kea refused
# the config (message follows); "NOT SENT" = accepted but absent from the Reply.
import copy

A = "always-send"
def od(name, data=None, space=None, **kw):
    e = {"name": name, A: True}
    if data is not None: e["data"] = data
    if space is not None: e["space"] = space
    e.update(kw)
    return e

# (label, code to read from the Reply, option-data list[, option-def list])
CASES = [
    ("preference", 7, [od("preference", "255")]),
    ("unicast", 12, [od("unicast", "2001:db8::1")]),
    ("sip-server-dns", 21, [od("sip-server-dns", "sip1.example.org, sip2.example.org.")]),
    ("sip-server-addr", 22, [od("sip-server-addr", "2001:db8::1, 2001:db8::2")]),
    ("dns-servers", 23, [od("dns-servers", "2001:db8::1, 2001:db8::2")]),
    ("domain-search", 24, [od("domain-search", "mydomain.example.com, example.com")]),
    ("domain-search-dot", 24, [od("domain-search", "example.com.")]),
    ("nis-servers", 27, [od("nis-servers", "2001:db8::1")]),
    ("nisp-servers", 28, [od("nisp-servers", "2001:db8::1, 2001:db8::2")]),
    ("nis-domain-name", 29, [od("nis-domain-name", "nis.example.org")]),
    ("nisp-domain-name", 30, [od("nisp-domain-name", "nisp.example.org, example.com")]),
    ("sntp-servers", 31, [od("sntp-servers", "2001:db8::123")]),
    ("information-refresh-time", 32, [od("information-refresh-time", "3600")]),
    ("bcmcs-server-dns", 33, [od("bcmcs-server-dns", "bcmcs.example.org")]),
    ("bcmcs-server-addr", 34, [od("bcmcs-server-addr", "2001:db8::1, 2001:db8::2")]),
    ("geoconf-civic", 36, [od("geoconf-civic", "1, 66, 0a0b0c")]),
    ("remote-id", 37, [od("remote-id", "2495, 0a0b0c0d")]),
    ("subscriber-id", 38, [od("subscriber-id", "0a0b0c")]),
    ("subscriber-id-colons", 38, [od("subscriber-id", "0a:0b:0c")]),
    ("client-fqdn", 39, [od("client-fqdn", "1, host.example.org")]),
    ("pana-agent", 40, [od("pana-agent", "2001:db8::1")]),
    ("new-posix-timezone", 41, [od("new-posix-timezone", "EST5EDT4\\,M3.2.0/02:00\\,M11.1.0/02:00")]),
    ("new-posix-timezone-unescaped", 41, [od("new-posix-timezone", "EST5EDT4,M3.2.0/02:00,M11.1.0/02:00")]),
    ("new-tzdb-timezone", 42, [od("new-tzdb-timezone", "Europe/Zurich")]),
    ("ero", 43, [od("ero", "1, 2, 65535")]),
    ("lq-query", 44, [od("lq-query", "1, 2001:db8::1")]),
    ("client-data", 45, [od("client-data")]),
    ("clt-time", 46, [od("clt-time", "600")]),
    ("lq-relay-data", 47, [od("lq-relay-data", "2001:db8::1, 0a0b")]),
    ("lq-client-link", 48, [od("lq-client-link", "2001:db8::1, 2001:db8::2")]),
    ("v6-lost", 51, [od("v6-lost", "lost.example.org")]),
    ("capwap-ac-v6", 52, [od("capwap-ac-v6", "2001:db8::1, 2001:db8::2")]),
    ("relay-id", 53, [od("relay-id", "0a0b0c")]),
    ("ntp-server", 56, [od("ntp-server")]),
    ("v6-access-domain", 57, [od("v6-access-domain", "access.example.org")]),
    ("sip-ua-cs-list", 58, [od("sip-ua-cs-list", "sip.example.org, example.com")]),
    ("bootfile-url", 59, [od("bootfile-url", "http://[2001:db8::1]/boot.efi")]),
    ("bootfile-param", 60, [od("bootfile-param", "root=/dev/sda1, quiet")]),
    ("client-arch-type", 61, [od("client-arch-type", "7, 9")]),
    ("nii", 62, [od("nii", "1, 3, 0")]),
    ("aftr-name", 64, [od("aftr-name", "aftr.example.org")]),
    ("erp-local-domain-name", 65, [od("erp-local-domain-name", "erp.example.org")]),
    ("rsoo", 66, [od("rsoo")]),
    ("pd-exclude", 67, [od("pd-exclude", "40")]),
    ("rdnss-selection", 74, [od("rdnss-selection", "2001:db8::1, 1, rdnss.example.org")]),
    ("client-linklayer-addr", 79, [od("client-linklayer-addr", "00010a0b0c0d0e0f")]),
    ("link-address", 80, [od("link-address", "2001:db8::1")]),
    ("solmax-rt", 82, [od("solmax-rt", "7200")]),
    ("inf-max-rt", 83, [od("inf-max-rt", "7200")]),
    ("dhcp4o6-server-addr", 88, [od("dhcp4o6-server-addr", "2001:db8::1, 2001:db8::2")]),
    ("s46-cont-mape", 94, [od("s46-cont-mape"),
        od("s46-rule", "128, 0, 24, 192.0.2.0, 2001:db8:1::/64", "s46-cont-mape-options"),
        od("s46-br", "2001:db8:cafe::1", "s46-cont-mape-options"),
        od("s46-portparams", "2, 3/4", "s46-rule-options")]),
    ("s46-cont-mapt", 95, [od("s46-cont-mapt"),
        od("s46-rule", "0, 16, 24, 192.0.2.0, 2001:db8:1::/60", "s46-cont-mapt-options"),
        od("s46-dmr", "2001:db8:cafe::/64", "s46-cont-mapt-options")]),
    ("s46-cont-lw", 96, [od("s46-cont-lw"),
        od("s46-br", "2001:db8:cafe::1", "s46-cont-lw-options"),
        od("s46-v4v6bind", "192.0.2.3, 2001:db8:1:cafe::/64", "s46-cont-lw-options"),
        od("s46-portparams", "2, 3/4", "s46-v4v6bind-options")]),
    ("s46-cont-mapt-dmr41", 95, [od("s46-cont-mapt"),
        od("s46-dmr", "2001:db8:ca80::/41", "s46-cont-mapt-options")]),
    ("v6-captive-portal", 103, [od("v6-captive-portal", "https://example.org/captive")]),
    ("v6-sztp-redirect", 136, [od("v6-sztp-redirect", "https://sztp1.example.org:8443, https://sztp2.example.org")]),
    ("ipv6-address-andsf", 143, [od("ipv6-address-andsf", "2001:db8::1, 2001:db8::2")]),
    ("v6-dnr", 144, [od("v6-dnr", "100, dot1.example.org., 2001:db8::1 2001:db8::2, alpn=dot port=8530")]),
    ("addr-reg-enable", 148, [od("addr-reg-enable")]),
    # Not defined in Kea 2.2 (3.0 has them): defined here with option-def as in the 3.0 table,
    # so Kea 2.2's own tuple/empty encoders give the bytes.
    ("v6-sztp-redirect-def", 136, [od("v6-sztp-redirect", "https://sztp1.example.org:8443, https://sztp2.example.org")],
        [{"name": "v6-sztp-redirect", "code": 136, "type": "tuple", "array": True}]),
    ("addr-reg-enable-def", 148, [od("addr-reg-enable")],
        [{"name": "addr-reg-enable", "code": 148, "type": "empty"}]),
    # Sub-options in reverse code order in the config: Kea packs them by code.
    ("s46-cont-lw-reversed", 96, [od("s46-portparams", "2, 3/4", "s46-v4v6bind-options"),
        od("s46-v4v6bind", "192.0.2.3, 2001:db8:1:cafe::/64", "s46-cont-lw-options"),
        od("s46-br", "2001:db8:cafe::1", "s46-cont-lw-options"), od("s46-cont-lw")]),
    ("vendor-opts-docsis-all", 17, [od("vendor-opts", "4491"),
        od("time-offset", "-3600", "vendor-4491"), od("time-servers", "2001:db8::7b", "vendor-4491"),
        od("device-id", "0a0b0c", "vendor-4491"), od("syslog-servers", "2001:db8::1, 2001:db8::2", "vendor-4491"),
        od("config-file", "modem.cfg", "vendor-4491"), od("tftp-servers", "2001:db8::69", "vendor-4491"),
        od("oro", "32, 33", "vendor-4491")]),
    ("vendor-opts-4o6", 17, [od("vendor-opts", "2495"),
        od("4o6-interface", "eth0", "vendor-2495"), od("4o6-source-address", "2001:db8::1", "vendor-2495"),
        od("4o6-source-port", "547", "vendor-2495")]),
    ("vendor-opts-docsis", 17, [od("vendor-opts", "4491"),
        od("tftp-servers", "2001:db8::69", "vendor-4491")]),
    ("vendor-opts-custom", 17, [od("vendor-opts", "2495"), od("greeting", "hello", "vendor-2495")],
        [{"name": "greeting", "code": 1, "space": "vendor-2495", "type": "string"}]),
]

base = copy.deepcopy(cfg)
def rust_bytes(b):
    return "&[" + ", ".join("0x%02x" % x for x in b) + "]"
xid = 0x600000
def alive(label):
    # Kea 2.2 dies on some of these (lq-query is one): say so, start it again.
    global kea
    time.sleep(0.2)
    if kea.poll() is None: return True
    print("// %s KEA DIED (exit %s)" % (label, kea.returncode), flush=True)
    kea = subprocess.Popen(server + ["-c", D + "/kea6.json", "-p", "5547"], env=env, stdout=open(D+"/out.txt","a"), stderr=subprocess.STDOUT)
    time.sleep(2.5)
    return False
for case in CASES:
    label, code, data = case[0], case[1], case[2]
    c = copy.deepcopy(base)
    c["Dhcp6"]["option-data"] = data
    if len(case) > 3: c["Dhcp6"]["option-def"] = case[3]
    # config-test first: a config-set Kea 2.2 rejects leaves it dead (DHCP6_CONFIG_UNRECOVERABLE_ERROR).
    r = cmd({"command": "config-test", "arguments": c})
    if r.get("result") == 0: r = cmd({"command": "config-set", "arguments": c})
    if r.get("result") != 0:
        print("// %s %d REJECTED: %s" % (label, code, r.get("text")), flush=True); continue
    xid += 1
    s.sendto(relay(msg(11, xid, o(1, duid(7)) + o(8, b"\0\0")), 1), SERVER)
    try:
        d, a = s.recvfrom(65536)
    except socket.timeout:
        print("// %s %d NO REPLY" % (label, code), flush=True); alive(label); continue
    while d and d[0] == 13: d = dict(parse_opts(d[34:])).get(9, b"")
    got = [od_ for c_, od_ in parse_opts(d[4:]) if c_ == code]
    if not got:
        print("// %s %d NOT SENT (reply options %s)" % (label, code, [c_ for c_, _ in parse_opts(d[4:])]), flush=True); continue
    print('    ("%s", %d, r#"%s"#, %s),' % (label, code, json.dumps(data), rust_bytes(got[0])), flush=True)
    if len(case) > 3: print('    // option-def: %s' % json.dumps(case[3]), flush=True)
