#!/usr/bin/env bash
# Starts or stops a local three-node NATS JetStream cluster on loopback for
# trying lrsbridge's JetStream backend: clients on 127.0.0.1:4222-4224,
# routes on 6222-6224, monitoring on 8222-8224, data and logs in data/nats.
# Usage: tools/nats-cluster.sh start [sync_interval] | stop
# Run from the repository root after building bin/nats-server (task nats:build).
set -euo pipefail
dir=data/nats
case "${1:-}" in
start)
	sync="${2:-always}"
	mkdir -p "$dir"
	for i in 1 2 3; do
		if [ -f "$dir/n$i.pid" ] && kill -0 "$(cat "$dir/n$i.pid")" 2>/dev/null; then
			echo "node n$i is already running"
			continue
		fi
		cat >"$dir/n$i.conf" <<CONF
server_name: n$i
listen: 127.0.0.1:$((4221 + i))
http: 127.0.0.1:$((8221 + i))
pid_file: $dir/n$i.pid
log_file: $dir/n$i.log
jetstream {
  store_dir: $dir/n$i
  sync_interval: $sync
}
cluster {
  name: lrsbridge-local
  listen: 127.0.0.1:$((6221 + i))
  routes: [nats://127.0.0.1:6222, nats://127.0.0.1:6223, nats://127.0.0.1:6224]
}
CONF
		setsid bin/nats-server -c "$dir/n$i.conf" </dev/null >/dev/null 2>&1 &
	done
	echo "NATS cluster started; set queue.nats.url: nats://127.0.0.1:4222,nats://127.0.0.1:4223,nats://127.0.0.1:4224"
	echo "then run three demo instances sharing it: task demo:shared N=1 (and N=2, N=3), with the same LRSBRIDGE_SECRETS__KEY"
	;;
stop)
	for i in 1 2 3; do
		if [ -f "$dir/n$i.pid" ]; then
			pid="$(cat "$dir/n$i.pid")"
			kill "$pid" 2>/dev/null || true
			for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
			rm -f "$dir/n$i.pid"
		fi
	done
	;;
*)
	echo "usage: $0 start [sync_interval] | stop" >&2
	exit 2
	;;
esac
