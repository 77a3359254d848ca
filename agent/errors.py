"""Agent errors. Each carries a Vietnamese message (shown first to desk staff),
an English one, and a hint of what to do.

    MotcuaError
     ├── NotInitialised        no device identity yet: run `motcua init`
     ├── InputError            bad user input (file, procedure code, channel, dossier id)
     ├── EnrolmentError        the hub refused enrolment (token unknown, used, expired, ...)
     ├── StorageError          local disk problem (full, unwritable)
     └── HubError              talking to the hub failed
          ├── HubUnreachable       no link, timeout, 5xx: keep the dossier, retry later
          │    └── UploadQuotaFull  the hub holds as many unfinished uploads of this desk as it allows
          ├── DossierRefused       the hub refused this dossier for good: dead-letter lane
          └── DeviceNotAuthorised  revoked or unknown device: stop and show the reason
"""
from __future__ import annotations


class MotcuaError(Exception):
    exit_code = 1

    def __init__(self, message_vi: str, message_en: str, hint: str = ""):
        super().__init__(message_en)
        self.message_vi = message_vi
        self.message_en = message_en
        self.hint = hint

    def user_text(self) -> str:
        text = f"{self.message_vi}\n{self.message_en}"
        return f"{text}\n→ {self.hint}" if self.hint else text

    def to_json(self) -> dict[str, str]:
        return {"error": type(self).__name__, "message_vi": self.message_vi, "message_en": self.message_en,
                "hint": self.hint}


class NotInitialised(MotcuaError):
    def __init__(self, home: str):
        super().__init__(f"Máy này chưa được đăng ký với trung tâm ({home}).",
                         f"This desk is not enrolled with a hub yet ({home}).",
                         "motcua init --hub URL --token TOKEN --site \"…\"")


class InputError(MotcuaError):
    pass


class EnrolmentError(MotcuaError):
    pass


class StorageError(MotcuaError):
    pass


class HubError(MotcuaError):
    pass


class HubUnreachable(HubError):
    exit_code = 3


class UploadQuotaFull(HubUnreachable):
    """429 `upload_quota` / 413 `byte_quota` on tus creation: not this dossier's fault; `retry_after` in seconds."""

    def __init__(self, message_vi: str, message_en: str, retry_after: float | None = None):
        super().__init__(message_vi, message_en, "Máy sẽ dọn các phiên tải lên bỏ dở rồi thử lại / the desk clears "
                         "its abandoned uploads and retries")
        self.retry_after = retry_after


class DossierRefused(HubError):
    def __init__(self, message_vi: str, message_en: str, code: str = "refused"):
        super().__init__(message_vi, message_en, "Hồ sơ chuyển sang danh sách bị từ chối / moved to the rejected lane")
        self.code = code


class DeviceNotAuthorised(HubError):
    exit_code = 4
