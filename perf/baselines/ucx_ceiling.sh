#!/usr/bin/env bash
# What UCX's TCP transport itself moves, with no gccl code in it (UCX's own ucx_perftest, from
# Debian's ucx-utils), against a plain one-way TCP stream over the same loopback, then gccl's
# allreduce over TCP and over UCX: alternating, 64 MiB, each UCX test with UCX's default
# segments and with the 256 KiB ones gccl sets. Raw lines; the table is in docs/benchmarks.md
# ("UCX's own ceiling over TCP").
#
#   perf/baselines/ucx_ceiling.sh [REPS]
set -euo pipefail
cd "$(dirname "$0")/../.."
reps=${1:-3}
bytes=67108864
command -v ucx_perftest > /dev/null || { echo "needs ucx_perftest: apt-get install ucx-utils" >&2; exit 2; }
[ -x build/bin/allreduce_perf ] || { echo "needs build/bin/allreduce_perf: build first" >&2; exit 2; }

# 20 messages of $bytes one way; GB/s at the receiver. reno, as gccl sets on loopback.
one_way_stream() {
  timeout 120 python3 - "$bytes" 20 <<'PY'
import os, socket, sys, time
size, count = int(sys.argv[1]), int(sys.argv[2])
listener = socket.socket(); listener.bind(("127.0.0.1", 0)); listener.listen(1)
port = listener.getsockname()[1]
child = os.fork()
if child == 0:
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, b"reno")
    payload = bytearray(size)
    for _ in range(count + 2): s.sendall(payload)
    s.recv(1); os._exit(0)
conn, _ = listener.accept()
conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, b"reno")
view = memoryview(bytearray(size))
def receive_one():
    got = 0
    while got < size:
        n = conn.recv_into(view[got:], size - got)
        if n == 0: sys.exit("plain TCP stream: the sender closed early")
        got += n
receive_one(); receive_one()
start = time.perf_counter()
for _ in range(count): receive_one()
elapsed = time.perf_counter() - start
conn.send(b"x"); os.waitpid(child, 0)
print(f"plain TCP stream, one way: {size * count / elapsed / 1e9:.2f} GB/s")
PY
}

# A port nothing listens on, from 14000-14999.
free_port() {
  local port
  while :; do
    port=$((14000 + RANDOM % 1000))
    ss -Htln "sport = :$port" | grep -q . || { echo "$port"; return; }
  done
}

# ucx_perftest prints MB/s meaning MiB/s: its overall bandwidth, in GB/s. The client connects
# once, so it starts only when the server listens; its result is the line of numbers.
ucx_test() {
  local test=$1 segments=$2 port
  port=$(free_port)
  local env=(UCX_TLS=tcp)
  [ "$segments" = 256k ] && env+=(UCX_TCP_TX_SEG_SIZE=256k UCX_TCP_RX_SEG_SIZE=256k)
  env "${env[@]}" timeout 120 ucx_perftest -t "$test" -s "$bytes" -n 20 -w 2 -p "$port" -f \
    > /dev/null 2>&1 &
  local server=$! waited=0
  until ss -Htln "sport = :$port" | grep -q .; do
    sleep 0.1
    waited=$((waited + 1))
    if [ "$waited" -ge 100 ]; then
      echo "ucx_perftest $test, segments $segments: the server did not listen within 10 s"
      kill "$server" 2> /dev/null || true
      return
    fi
  done
  local line
  line=$(env "${env[@]}" timeout 120 ucx_perftest 127.0.0.1 -t "$test" -s "$bytes" -n 20 -w 2 \
    -p "$port" -f 2> /dev/null | awk 'NF >= 8 && $1 ~ /^[0-9]+$/' | tail -1) || true
  wait "$server" || true
  if [ -z "$line" ]; then
    echo "ucx_perftest $test, segments $segments: failed"
  else
    echo "ucx_perftest $test, segments $segments: $(awk '{printf "%.2f GB/s", $6 * 1048576 / 1e9}' <<< "$line")"
  fi
}

gccl_allreduce() {
  local transport=$1 figures
  figures=$(GCCL_TRANSPORT=$transport UCX_TLS=tcp timeout 300 build/bin/allreduce_perf --np 2 \
    -b 64M -e 64M -n 5 -w 2 2>&1 | awk '!/^#/ && NF > 10 {print $7 " / " $11}') || true
  echo "gccl allreduce over $transport, busbw GB/s out / in place: ${figures:-failed}"
}

for rep in $(seq "$reps"); do
  echo "== rep $rep"
  one_way_stream || echo "plain TCP stream: failed"
  for segments in default 256k; do
    for test in tag_bw stream_bw ucp_put_bw; do ucx_test "$test" "$segments"; done
  done
  gccl_allreduce tcp
  gccl_allreduce ucx
done
