sid, addr = sarr(duid(7), 0x100)
for c in [{"command": "lease6-get", "arguments": {"ip-address": addr}},
          {"command": "lease6-get", "arguments": {"identifier-type": "duid", "identifier": "00:03:00:01:02:00:00:00:00:07", "iaid": 1, "subnet-id": 9}},
          {"command": "lease6-get-all"},
          {"command": "lease6-get-all", "arguments": {"subnets": [9]}},
          {"command": "lease6-get-page", "arguments": {"from": "start", "limit": 5}},
          {"command": "lease6-get-by-duid", "arguments": {"duid": "00:03:00:01:02:00:00:00:00:07"}},
          {"command": "lease6-get-by-hostname", "arguments": {"hostname": "x"}},
          {"command": "lease6-add", "arguments": {"ip-address": "fd00:1::77", "duid": "01:02:03", "iaid": 4, "subnet-id": 9, "prefix-len": 64}},
          {"command": "lease6-get", "arguments": {"ip-address": "fd00:1::77"}},
          {"command": "lease6-add", "arguments": {"ip-address": "fd00:1::78", "duid": "01:02:03", "iaid": 5, "subnet-id": 9}},
          {"command": "lease6-add", "arguments": {"ip-address": "fd00:2::", "type": "IA_PD", "prefix-len": 56, "duid": "01:02:03", "iaid": 6, "subnet-id": 9}},
          {"command": "lease6-get", "arguments": {"ip-address": "fd00:2::", "type": "IA_PD"}},
          {"command": "lease6-get-by-duid", "arguments": {"duid": "01:02:03"}},
          ]:
    print(json.dumps(c)); print("   ", json.dumps(cmd(c)), flush=True)
