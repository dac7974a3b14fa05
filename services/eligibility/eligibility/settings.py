from subsidy_runtime.settings import ServiceSettings


class EligibilitySettings(ServiceSettings):
    service_name: str = "eligibility"
    public_notice_check_s: float = 60.0
