def stat1(name):
    r = cmd({"command": "statistic-get", "arguments": {"name": name}})
    v = r["arguments"].get(name)
    return v[0][0] if v else 0
def outcome(b):
    rec0, pf0, sol0 = stat1("pkt6-received"), stat1("pkt6-parse-failed"), stat1("pkt6-receive-drop")
    s.sendto(b, SERVER)
    end = time.time() + 1.0
    while time.time() < end:
        dr = stat1("pkt6-receive-drop"); pf = stat1("pkt6-parse-failed")
        if pf > pf0: return "PF"
        if stat1("pkt6-sent") > sent0[0]:
            sent0[0] = stat1("pkt6-sent"); return "ok"
        if dr > sol0: return "drop"
        time.sleep(0.003)
    return "?"
sent0 = [stat1("pkt6-sent")]
# drain replies in background is unnecessary: socket buffer holds them; flush now and then
def flush():
    s.setblocking(False)
    try:
        while True: s.recv(65536)
    except BlockingIOError: pass
    s.setblocking(True); s.settimeout(0.6)
LENS = [0,1,2,3,4,5,8,12,15,16,17,20,24,25,32]
results = {}
for code in list(range(1, 144)):
    if code in (9,):  # relay-msg in a client message: handled separately
        pass
    row = []
    for fill in (b"\x00", b"A"):
        for L in LENS:
            b = relay(msg(1, 0x5000 + code, o(1, duid(0xc)) + o(8, b"\0\0") + ia_na() + o(code, fill * L)), 1)
            row.append(outcome(b))
        flush()
    results[code] = row
    print(code, " ".join(row[:len(LENS)]), "|", " ".join(row[len(LENS):]), flush=True)
print("LENS", LENS)
