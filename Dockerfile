# One image for the four services and the platform's tools (topic creation, database provisioning, the
# SMS-gateway simulator). docker-compose.yml picks what runs through the command, e.g.
#
#   docker run IMAGE subsidy_runtime.serve registration.app:app --host 0.0.0.0 --port 8080
#   docker run IMAGE subsidy_contracts.admin ensure-topics --bootstrap kafka:9092
#
# The Python environment is the one uv.lock describes (the same lock the local stack syncs), without the
# dev group.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3.11 \
    UV_PROJECT_ENVIRONMENT=/app/.venv \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy

RUN pip install --no-cache-dir --disable-pip-version-check "uv==0.13.8"

WORKDIR /app

# Third-party dependencies first, from the lock and the members' metadata only, so that a source change
# does not reinstall them.
COPY pyproject.toml uv.lock ./
COPY contracts/pyproject.toml contracts/
COPY runtime/pyproject.toml runtime/
COPY services/registration/pyproject.toml services/registration/
COPY services/eligibility/pyproject.toml services/eligibility/
COPY services/payments/pyproject.toml services/payments/
COPY services/notifications/pyproject.toml services/notifications/
RUN uv sync --locked --no-dev --no-install-workspace --no-cache

# Then the workspace itself (contracts, runtime, services, deploy/local/simulators).
COPY . .
RUN uv sync --locked --no-dev --no-cache

# The code and the environment stay owned by root and read-only for the process.
RUN groupadd --system --gid 10001 subsidy \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin subsidy
USER 10001:10001

ENV PATH="/app/.venv/bin:${PATH}"

EXPOSE 8080
ENTRYPOINT ["/app/.venv/bin/python", "-m"]
CMD ["subsidy_contracts.admin", "list"]
