from subsidy_runtime.settings import ServiceSettings


class RegistrationSettings(ServiceSettings):
    service_name: str = "registration"
