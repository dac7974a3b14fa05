from subsidy_runtime.settings import ServiceSettings


class NotificationsSettings(ServiceSettings):
    service_name: str = "notifications"
    sms_gateway_url: str = "http://127.0.0.1:8090"
    sms_batch_size: int = 200
    sms_dispatch_idle_s: float = 0.2
