#!/usr/bin/env bash
# kafka.sh up|down|status|logs — a single-node Apache Kafka (KRaft, broker+controller)
# for edgeflow's tests and local development.
#
# The broker's jars come from Maven Central through Maven (no other download), into
#   ${EDGEFLOW_CACHE:-<repo>/.cache}/kafka-<version>/libs
# and are reused on later runs. Needs Java 17+ and Maven 3.8+.
#
# Environment:
#   KAFKA_VERSION   Kafka release (default 3.9.2; 4.x works too, e.g. 4.1.0). A
#                   trailing .x (4.1.x) takes the newest such release on Maven Central.
#   KAFKA_PORT      client port (default 9092); the controller listens on KAFKA_PORT+1
#   KAFKA_HEAP      JVM heap options (default "-Xms256m -Xmx512m")
#   EDGEFLOW_CACHE  cache folder (default <repo>/.cache)
#   KAFKA_WAIT      seconds to wait for readiness (default 90)
#   KAFKA_KEEP_DATA 1: `up` restarts a stopped (or killed) broker on its existing
#                   data (topics, committed offsets kept) instead of formatting
#                   fresh storage; the chaos tests restart their broker this way.
#   KAFKA_PROXIED_PORT, KAFKA_PROXIED_ADVERTISED
#                   a second client listener on 127.0.0.1:KAFKA_PROXIED_PORT that
#                   advertises KAFKA_PROXIED_ADVERTISED (host:port of a TCP proxy in
#                   front of it): clients bootstrapped through the proxy stay on it,
#                   so cutting the proxy cuts them off (the chaos partition test).
#
# Each KAFKA_PORT is its own instance (run folder .cache/kafka-run-PORT), so a
# second broker (the chaos tests use 19093) never touches the one on 9092.
set -euo pipefail

KAFKA_VERSION=${KAFKA_VERSION:-3.9.2}
KAFKA_PORT=${KAFKA_PORT:-9092}
CONTROLLER_PORT=$((KAFKA_PORT + 1))
KAFKA_HEAP=${KAFKA_HEAP:--Xms256m -Xmx512m}
KAFKA_WAIT=${KAFKA_WAIT:-90}
KAFKA_KEEP_DATA=${KAFKA_KEEP_DATA:-0}
KAFKA_PROXIED_PORT=${KAFKA_PROXIED_PORT:-}
KAFKA_PROXIED_ADVERTISED=${KAFKA_PROXIED_ADVERTISED:-}
REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CACHE=${EDGEFLOW_CACHE:-$REPO_ROOT/.cache}
HOME_DIR=$CACHE/kafka-$KAFKA_VERSION
LIBS=$HOME_DIR/libs
RUN_DIR=$CACHE/kafka-run-$KAFKA_PORT # per port: one broker per port
DATA_DIR=$RUN_DIR/data
PID_FILE=$RUN_DIR/kafka.pid
LOG_FILE=$RUN_DIR/kafka.log
CONF=$RUN_DIR/server.properties
MAJOR=${KAFKA_VERSION%%.*}

SERVICE=kafka
# shellcheck source=internal/tools/service.sh
source "$(dirname "${BASH_SOURCE[0]}")/service.sh"

# fetch puts Kafka and its runtime dependencies into $LIBS unless they are there.
fetch() {
	if [[ -f $LIBS/.complete ]]; then
		return
	fi
	command -v mvn >/dev/null || die "mvn not found: install Maven 3.8+ (apt-get install -y maven)"
	command -v java >/dev/null || die "java not found: install Java 17+ (apt-get install -y openjdk-17-jre-headless)"
	log "fetching org.apache.kafka:kafka_2.13:$KAFKA_VERSION with Maven into $LIBS"
	mkdir -p "$HOME_DIR"
	local backend
	if ((MAJOR >= 4)); then
		# Kafka 4 logs through log4j2 (log4j-core is a dependency); bind slf4j 1.x to it.
		backend='<dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId><version>2.24.3</version></dependency>'
	else
		backend='<dependency><groupId>org.slf4j</groupId><artifactId>slf4j-reload4j</artifactId><version>1.7.36</version></dependency>'
	fi
	local maven_version=$KAFKA_VERSION
	if [[ $KAFKA_VERSION == *.x ]]; then
		# A Maven version range: the newest release of that line.
		maven_version="[${KAFKA_VERSION%.x}.0,${KAFKA_VERSION%.x}.999)"
	fi
	cat >"$HOME_DIR/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>edgeflow.tools</groupId>
  <artifactId>kafka-broker</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$maven_version</version></dependency>
    $backend
  </dependencies>
</project>
EOF
	rm -rf "$LIBS"
	if ! (cd "$HOME_DIR" && mvn -q -B -Dstyle.color=never dependency:copy-dependencies \
		-DincludeScope=runtime -DoutputDirectory="$LIBS" >"$HOME_DIR/maven.log" 2>&1); then
		tail -n 30 "$HOME_DIR/maven.log" >&2
		die "Maven could not fetch Kafka $KAFKA_VERSION (is that version on Maven Central?); log: $HOME_DIR/maven.log"
	fi
	touch "$LIBS/.complete"
	log "fetched $(cd "$LIBS" && ls kafka_2.13-*.jar)"
}


# cluster_id returns a random Kafka cluster id: 16 random bytes, URL-safe base64, no padding.
cluster_id() {
	local id
	while :; do
		id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
		[[ $id != -* ]] && break
	done
	echo "$id"
}

write_config() {
	mkdir -p "$RUN_DIR"
	local listeners="PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT"
	local advertised="PLAINTEXT://127.0.0.1:$KAFKA_PORT"
	local protocols="CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"
	if [[ -n $KAFKA_PROXIED_PORT ]]; then
		[[ -n $KAFKA_PROXIED_ADVERTISED ]] || die "KAFKA_PROXIED_PORT needs KAFKA_PROXIED_ADVERTISED (host:port)"
		listeners+=",PROXIED://127.0.0.1:$KAFKA_PROXIED_PORT"
		advertised+=",PROXIED://$KAFKA_PROXIED_ADVERTISED"
		protocols+=",PROXIED:PLAINTEXT"
	fi
	cat >"$CONF" <<EOF
# Generated by internal/tools/kafka.sh — single-node KRaft broker for tests.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CONTROLLER_PORT
listeners=$listeners
advertised.listeners=$advertised
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=$protocols
log.dirs=$DATA_DIR
num.partitions=1
default.replication.factor=1
auto.create.topics.enable=true
delete.topic.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
min.insync.replicas=1
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=4
log.retention.hours=24
log.segment.bytes=67108864
log.cleaner.dedupe.buffer.size=8388608
EOF
	if ((MAJOR >= 4)); then
		cat >"$RUN_DIR/log4j2.properties" <<EOF
status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = $RUN_DIR/server.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = warn
rootLogger.appenderRef.file.ref = file
logger.server.name = kafka.server.KafkaRaftServer
logger.server.level = info
logger.kafka.name = kafka.Kafka
logger.kafka.level = info
EOF
		LOG_OPTS=(-Dlog4j2.configurationFile="$RUN_DIR/log4j2.properties")
	else
		cat >"$RUN_DIR/log4j.properties" <<EOF
log4j.rootLogger=WARN, file
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File=$RUN_DIR/server.log
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.server.KafkaRaftServer=INFO
log4j.logger.kafka.Kafka=INFO
EOF
		LOG_OPTS=(-Dlog4j.configuration="file:$RUN_DIR/log4j.properties")
	fi
}

java_run() {
	# shellcheck disable=SC2086
	java $KAFKA_HEAP -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
		"${LOG_OPTS[@]}" -cp "$LIBS/*" "$@"
}

# api_versions_ok sends a Kafka ApiVersions v0 request over bash's /dev/tcp and
# checks that the broker answers with correlation id 1 and error code 0.
api_versions_ok() {
	local reply
	reply=$(timeout 5 bash -c '
		exec 3<>/dev/tcp/127.0.0.1/'"$KAFKA_PORT"' || exit 1
		# size=10, api_key=18 (ApiVersions), version=0, correlation_id=1, client_id=""
		printf "\x00\x00\x00\x0a\x00\x12\x00\x00\x00\x00\x00\x01\x00\x00" >&3
		head -c 10 <&3 | od -An -tx1 | tr -d " \n"' 2>/dev/null) || return 1
	[[ ${reply:8:12} == 000000010000 ]]
}

# metadata_ok sends a Metadata v4 request (all topics; v4 is served by 3.x and
# 4.x alike) and checks that the answer lists at least one broker, i.e. the
# node has registered with its controller and serves clients.
metadata_ok() {
	local reply
	reply=$(timeout 5 bash -c '
		exec 3<>/dev/tcp/127.0.0.1/'"$KAFKA_PORT"' || exit 1
		# size=15, api_key=3 (Metadata), version=4, correlation_id=2, client_id="",
		# topics=null (all), allow_auto_topic_creation=false
		printf "\x00\x00\x00\x0f\x00\x03\x00\x04\x00\x00\x00\x02\x00\x00\xff\xff\xff\xff\x00" >&3
		head -c 16 <&3 | od -An -tx1 | tr -d " \n"' 2>/dev/null) || return 1
	# reply: size(4) correlation_id(4)=2 throttle_time_ms(4) broker_count(4)
	[[ ${reply:8:8} == 00000002 && ${reply:24:8} =~ ^[0-9a-f]{8}$ && $((16#${reply:24:8})) -ge 1 ]]
}

ready() {
	api_versions_ok && metadata_ok
}

show_tail() {
	log "---- $LOG_FILE (tail) ----"
	tail -n 40 "$LOG_FILE" >&2 2>/dev/null || true
	log "---- $RUN_DIR/server.log (tail) ----"
	tail -n 40 "$RUN_DIR/server.log" >&2 2>/dev/null || true
}

up() {
	if pid=$(running_pid); then
		if ready; then
			log "already running (pid $pid) on 127.0.0.1:$KAFKA_PORT"
			return
		fi
		log "process $pid is running but not ready; waiting"
	else
		if timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$KAFKA_PORT" 2>/dev/null; then
			if api_versions_ok; then
				log "a Kafka broker not started from $CACHE already answers on 127.0.0.1:$KAFKA_PORT; using it"
				return
			fi
			die "port $KAFKA_PORT is taken by a process that is not a Kafka broker; set KAFKA_PORT or stop it"
		fi
		fetch
		if [[ $KAFKA_KEEP_DATA == 1 && -f $DATA_DIR/meta.properties ]]; then
			write_config
			log "restarting on the existing storage in $DATA_DIR (KAFKA_KEEP_DATA=1)"
		else
			rm -rf "$DATA_DIR" "$RUN_DIR/server.log"
			write_config
			local id
			id=$(cluster_id)
			log "formatting KRaft storage (cluster id $id) in $DATA_DIR"
			if ! java_run kafka.tools.StorageTool format -t "$id" -c "$CONF" >"$LOG_FILE" 2>&1; then
				show_tail
				die "formatting storage failed"
			fi
		fi
		log "starting Kafka $KAFKA_VERSION on 127.0.0.1:$KAFKA_PORT (controller :$CONTROLLER_PORT)"
		# setsid: the broker outlives the shell that started it and its signals.
		# shellcheck disable=SC2086
		nohup setsid java $KAFKA_HEAP -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
			"${LOG_OPTS[@]}" -cp "$LIBS/*" kafka.Kafka "$CONF" >>"$LOG_FILE" 2>&1 </dev/null &
		echo $! >"$PID_FILE"
	fi
	local deadline=$((SECONDS + KAFKA_WAIT))
	while ((SECONDS < deadline)); do
		if ready; then
			log "ready after ${SECONDS}s (pid $(<"$PID_FILE"))"
			return
		fi
		if ! running_pid >/dev/null; then
			show_tail
			die "Kafka exited during start-up"
		fi
		sleep 1
	done
	show_tail
	die "Kafka not ready after ${KAFKA_WAIT}s"
}

down() {
	stop_service 30
	rm -rf "$DATA_DIR"
}

status() {
	local pid
	if pid=$(running_pid); then
		if ready; then
			echo "kafka: running (pid $pid), ready on 127.0.0.1:$KAFKA_PORT"
			return 0
		fi
		echo "kafka: running (pid $pid), not ready"
		return 1
	fi
	echo "kafka: stopped"
	return 3
}

case ${1:-} in
up) up ;;
down) down ;;
status) status ;;
logs) tail -n "${2:-100}" "$RUN_DIR/server.log" "$LOG_FILE" ;;
fetch) fetch ;;
*)
	echo "usage: $0 up|down|status|logs [N]|fetch" >&2
	exit 2
	;;
esac
