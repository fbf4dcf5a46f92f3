# shellcheck shell=bash
# service.sh — helpers shared by the scripts that run test services in the
# background (kafka.sh, mosquitto.sh). Source it after setting SERVICE (the name
# used in messages) and PID_FILE.

log() { printf '%s.sh: %s\n' "$SERVICE" "$*" >&2; }
die() {
	log "$*"
	exit 1
}

# running_pid prints the pid in $PID_FILE when that process is alive.
running_pid() {
	[[ -f $PID_FILE ]] || return 1
	local pid
	pid=$(<"$PID_FILE")
	[[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 1
	echo "$pid"
}

# stop_service sends SIGTERM to the running service, waits up to $1 seconds,
# then sends SIGKILL; it removes $PID_FILE.
stop_service() {
	local grace=$1 pid
	if pid=$(running_pid); then
		log "stopping $SERVICE (pid $pid)"
		kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 1 $((grace * 5))); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.2
		done
		if kill -0 "$pid" 2>/dev/null; then
			log "still running after ${grace}s; sending SIGKILL"
			kill -KILL "$pid" 2>/dev/null || true
		fi
	else
		log "not running"
	fi
	rm -f "$PID_FILE"
}
