#!/bin/sh
# corelease run-script hook: one /32 route per lease ("/32 design", adapted from
# kea-hook-runscript's examples/slash32_leases).
#
# Clients get addresses one by one, not a shared subnet with the server: each leased address
# is reachable through a host route this script installs on the interface the client is on,
# and removes when the lease ends. A routing daemon (BIRD, FRR) can redistribute these routes
# (filter on "proto static" below) so a client may move between servers and keep its address.
# Clients must be on the server's link (no relay): with a relay, the relay owns the routes.
#
# corelease configuration (Dhcp4), server address 10.250.250.1/32 on eth0:
#   "hooks-libraries": [{
#       "library": "/usr/lib/kea/hooks/kea-hook-runscript.so",
#       "parameters": { "script": "/etc/corelease/hooks/slash32-routes.sh", "wait": true }
#   }],
#   "subnet4": [{ "id": 1, "subnet": "192.0.2.0/24", "interface": "eth0",
#       "pools": [{ "pool": "192.0.2.10-192.0.2.250" }],
#       "option-data": [
#           { "name": "subnet-mask", "data": "255.255.255.255" },
#           { "name": "classless-static-route",
#             "data": "10.250.250.1/32 - 0.0.0.0, 0.0.0.0/0 - 10.250.250.1" } ] }]
# Option 121 (RFC 3442) gives the client an on-link route to the server and a default route
# through it, although the server is not in the client's subnet.
#
# Notes for corelease:
# - "wait": true makes the client's ACK wait until the route exists, so its first packet is
#   routable. corelease parks only that client's packet; every other client is served while
#   the script runs (Kea would stop entirely). With "wait": false several instances may run at
#   once; every command below is idempotent, so that is safe too.
# - The server passes only KEA_* variables (no PATH): PATH is set here.
# - Values are data from the server; they are quoted everywhere and checked before use.

PATH=/usr/sbin:/usr/bin:/sbin:/bin
export PATH
PROTO=static

addr=${KEA_LEASE4_ADDRESS:-}
iface=${KEA_QUERY4_INTERFACE:-}

# Only dotted-quad addresses reach ip(8); anything else is a bug worth a log line.
case "$addr" in
    ''|*[!0-9.]*) [ -n "$addr" ] && echo "slash32-routes: ignoring address '$addr'" >&2; exit 0 ;;
esac

case "$1" in
    lease4_select)
        # A DISCOVER only proposes the lease (KEA_FAKE_ALLOCATION=1): no route yet.
        [ "${KEA_FAKE_ALLOCATION:-1}" = "0" ] || exit 0
        [ -n "$iface" ] || exit 0
        ip route replace "$addr/32" dev "$iface" proto "$PROTO"
        ;;
    lease4_renew)
        [ -n "$iface" ] || exit 0
        ip route replace "$addr/32" dev "$iface" proto "$PROTO"
        ;;
    lease4_release|lease4_expire)
        ip route del "$addr/32" proto "$PROTO" 2>/dev/null
        ;;
    lease4_decline)
        # Another host answers for this address: keep the route, tell the operator.
        echo "slash32-routes: $(date -R): DHCPDECLINE on ${iface} from ${KEA_QUERY4_HWADDR:-?} for ${addr}; route kept" >&2
        echo "slash32-routes: route: $(ip route show "$addr")" >&2
        echo "slash32-routes: neighbour: $(ip neigh show "$addr")" >&2
        ;;
esac
exit 0
