from pydantic import Field

from subsidy_runtime.settings import ServiceSettings

# Carrier-registered SMS signatures by province (the first two digits of the region code).
DEFAULT_SIGNATURES = {"14": "【山西人社】", "15": "【内蒙古人社】", "33": "【浙江人社】", "43": "【湖南人社】"}


class NotificationsSettings(ServiceSettings):
    service_name: str = "notifications"

    sms_gateway_url: str = "http://127.0.0.1:8090"
    sms_receipt_url: str | None = Field(
        default=None, description="Where the gateway posts delivery receipts (this service's /v1/sms/receipts)."
    )
    sms_receipt_key_id: str = "sms-gateway-local"
    sms_receipt_secret: str = Field(
        default="local-secret-sms-gateway-receipts", description="Shared with the gateway: signs its receipts."
    )
    sms_signatures: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_SIGNATURES),
        description="Signature prefix by province code (JSON object in the environment).",
    )
    sms_default_signature: str = "【人社服务】"
    sms_batch_size: int = 500
    sms_dispatch_idle_s: float = 0.2
    sms_workers: int = Field(default=2, description="Concurrent SMS dispatch batches (claims skip each other).")
    sms_quiet_hours: str = Field(default="22:00-08:00", description="Local time with no SMS unless urgent; off: none.")
    quiet_hours_zone: str = "Asia/Shanghai"

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 8025
    smtp_sender: str = "noreply@rs.example.gov.cn"
    smtp_timeout_s: float = 10.0
    email_batch_size: int = 200
    email_concurrency: int = 20

    # A flood guard, not a politeness quota: an enterprise contact with twenty interns' applications rightly
    # gets eighty messages (received, decided, paid, arrived) within minutes; the limit stops a runaway loop
    # (and carriers flagging the number) without holding those back for long.
    rate_limit_per_recipient: int = Field(default=60, description="Messages per recipient and channel per window.")
    rate_limit_window_s: float = 60.0
    retry_max_attempts_message: int = Field(default=8, description="Send attempts before a message is dead.")
    retry_base_delay_message_s: float = 5.0
    retry_max_delay_message_s: float = 1800.0
    claim_lease_s: float = Field(
        default=30.0, description="A message claimed for sending longer ago than this is taken to be abandoned."
    )

    reminders_interval_s: float = 60.0
    reminder_period_days: int = 30
    reminder_materials_after_days: int = 3
    reminder_appraisal_days: int = 30
