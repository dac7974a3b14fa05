from decimal import Decimal
from typing import Literal

from pydantic import Field

from subsidy_runtime.settings import ServiceSettings

BankChannel = Literal["kafka", "file"]


class PaymentsSettings(ServiceSettings):
    service_name: str = "payments"
    funds_file: str | None = Field(default=None, description="YAML of funds and budgets to seed; default: built in.")
    bank_channel: BankChannel = Field(
        default="kafka", description="How batches reach banks: Kafka topics, or ISO 20022 files in directories."
    )
    bank_channels: dict[str, BankChannel] = Field(
        default_factory=dict, description='Per-bank override by CNAPS code, e.g. {"102551000015": "file"}.'
    )
    outgoing_dir: str = Field(default="/var/lib/subsidy/payments/outgoing", description="pain.001 files to banks.")
    incoming_dir: str = Field(
        default="/var/lib/subsidy/payments/incoming", description="pain.002 and camt.054 files from banks."
    )
    batch_max_kafka: int = Field(default=2000, description="Payments per Kafka batch (message size).")
    batch_max_file: int = Field(default=10_000, description="Transfers per pain.001 file.")
    batch_interval_s: float = Field(default=2.0, description="How often ready payments are batched and sent.")
    approval_threshold: Decimal = Field(
        default=Decimal("1000000.00"), description="Batches above this sum wait for a checker's approval."
    )
    initiating_party: str = "湖南省人力资源和社会保障厅"
    no_result_after_s: float = Field(
        default=86_400.0, description="A sent payment without any bank answer after this becomes a break."
    )
