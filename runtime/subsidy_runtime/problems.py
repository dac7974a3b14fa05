"""RFC 9457 problem details for every HTTP error, with the field and the reason in Chinese and English."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from .logging import get_logger

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://subsidy.example.gov.cn/problems/"
log = get_logger(__name__)


class FieldError(BaseModel):
    field: str
    reason: str
    reason_zh: str
    code: str


class ProblemDetail(BaseModel):
    """Body of every error response (RFC 9457)."""

    type: str
    title: str
    status: int
    detail: str
    detail_zh: str | None = None
    instance: str | None = None
    errors: list[FieldError] = []
    existing: str | None = None


class Problem(Exception):
    """Raise from a handler to answer with problem+json."""

    def __init__(
        self,
        status: int,
        slug: str,
        title: str,
        detail: str,
        detail_zh: str | None = None,
        errors: list[FieldError] | None = None,
        existing: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.slug = slug
        self.title = title
        self.detail = detail
        self.detail_zh = detail_zh
        self.errors = errors or []
        self.existing = existing
        self.headers = headers

    def body(self, instance: str | None = None) -> ProblemDetail:
        return ProblemDetail(
            type=PROBLEM_BASE + self.slug,
            title=self.title,
            status=self.status,
            detail=self.detail,
            detail_zh=self.detail_zh,
            instance=instance,
            errors=self.errors,
            existing=self.existing,
        )


# Chinese text for pydantic's error types; anything missing falls back to a generic phrase.
_REASON_ZH = {
    "missing": "缺少必填字段",
    "extra_forbidden": "不允许的字段",
    "string_pattern_mismatch": "格式不正确",
    "string_too_short": "长度过短",
    "string_too_long": "长度过长",
    "string_type": "应为字符串",
    "int_type": "应为整数",
    "int_parsing": "应为整数",
    "bool_type": "应为布尔值",
    "bool_parsing": "应为布尔值",
    "date_type": "应为日期（YYYY-MM-DD）",
    "date_parsing": "应为日期（YYYY-MM-DD）",
    "date_from_datetime_parsing": "应为日期（YYYY-MM-DD）",
    "datetime_type": "应为带时区的时间",
    "datetime_parsing": "应为带时区的时间",
    "timezone_aware": "时间必须带时区",
    "uuid_type": "应为 UUID",
    "uuid_parsing": "应为 UUID",
    "enum": "取值不在允许范围内",
    "literal_error": "取值不在允许范围内",
    "union_tag_invalid": "类型标记不正确",
    "union_tag_not_found": "缺少类型标记",
    "list_type": "应为数组",
    "dict_type": "应为对象",
    "model_type": "应为对象",
    "model_attributes_type": "应为对象",
    "greater_than_equal": "数值过小",
    "less_than_equal": "数值过大",
    "too_short": "元素过少",
    "too_long": "元素过多",
    "json_invalid": "JSON 格式错误",
    "value_error": "取值无效",
}


def field_errors_from_pydantic(errors: list[Any], *, drop_prefix: tuple[str, ...] = ("body",)) -> list[FieldError]:
    out = []
    for err in errors:
        loc = [str(p) for p in err.get("loc", ())]
        while loc and loc[0] in drop_prefix:
            loc = loc[1:]
        msg = str(err.get("msg", "invalid"))
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        zh = _REASON_ZH.get(str(err.get("type")), "取值无效")
        # Domain validators write "中文 | English"; split them into the two reasons.
        if " | " in msg:
            zh, msg = msg.split(" | ", 1)
        out.append(FieldError(field=".".join(loc) or "(body)", reason=msg, reason_zh=zh, code=str(err.get("type"))))
    return out


def problem_response(problem: Problem, request: Request | None = None) -> JSONResponse:
    instance = str(request.url.path) if request is not None else None
    return JSONResponse(
        problem.body(instance).model_dump(mode="json", exclude_none=True),
        status_code=problem.status,
        media_type=PROBLEM_JSON,
        headers=problem.headers,
    )


def validation_problem(errors: list[FieldError]) -> Problem:
    first = errors[0] if errors else None
    detail = f"{first.field}: {first.reason}" if first else "the request is invalid"
    detail_zh = f"{first.field}：{first.reason_zh}" if first else "请求无效"
    if len(errors) > 1:
        detail += f" (and {len(errors) - 1} more)"
        detail_zh += f"（另有 {len(errors) - 1} 处）"
    return Problem(422, "validation", "Request is invalid", detail, detail_zh, errors)


_STATUS_SLUGS = {
    400: ("bad-request", "Bad request", "请求格式错误"),
    401: ("unauthenticated", "Authentication required", "需要认证"),
    403: ("forbidden", "Forbidden", "无权访问"),
    404: ("not-found", "Not found", "资源不存在"),
    405: ("method-not-allowed", "Method not allowed", "不支持该方法"),
    406: ("not-acceptable", "Not acceptable", "不支持的响应格式"),
    409: ("conflict", "Conflict", "冲突"),
    413: ("payload-too-large", "Request body too large", "请求体过大"),
    415: ("unsupported-media-type", "Unsupported media type", "不支持的内容类型"),
    429: ("rate-limited", "Too many requests", "请求过于频繁"),
}


def install_problem_handlers(app: FastAPI) -> None:
    async def on_problem(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, Problem)
        return problem_response(exc, request)

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError | ValidationError)
        return problem_response(validation_problem(field_errors_from_pydantic(list(exc.errors()))), request)

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        slug, title, zh = _STATUS_SLUGS.get(exc.status_code, ("error", "Error", "错误"))
        detail = exc.detail if isinstance(exc.detail, str) else title
        headers = dict(exc.headers) if exc.headers else None
        return problem_response(Problem(exc.status_code, slug, title, detail, zh, headers=headers), request)

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled error", path=request.url.path, exc_info=exc)
        return problem_response(
            Problem(
                500,
                "internal",
                "Internal error",
                "the server failed; the request was not applied",
                "服务器内部错误，请求未生效",
            ),
            request,
        )

    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(ValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_unexpected)
