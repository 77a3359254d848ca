"""Console strings: key -> (Vietnamese, English). Vietnamese is the default language."""
from __future__ import annotations

from sync_protocol.bilingual import Translator as BilingualTranslator

STRINGS: dict[str, tuple[str, str]] = {
    "app": ("Trung tâm Phục vụ hành chính công — bảng điều khiển", "Public-administration service centre — console"),
    "switch_lang": ("English", "Tiếng Việt"),
    "nav_dossiers": ("Hồ sơ đến", "Incoming dossiers"), "nav_devices": ("Thiết bị", "Devices"),
    "nav_queues": ("Bị từ chối & chưa xác nhận", "Rejected & unacknowledged"),
    "nav_webhooks": ("Webhook lỗi", "Webhook dead letters"), "nav_tokens": ("Mã đăng ký máy", "Enrolment tokens"),
    "nav_users": ("Tài khoản", "Accounts"),
    "login_title": ("Đăng nhập", "Log in"), "username": ("Tên đăng nhập", "User name"),
    "password": ("Mật khẩu", "Password"), "login": ("Đăng nhập", "Log in"), "logout": ("Đăng xuất", "Log out"),
    "logged_out": ("Đã đăng xuất.", "Logged out."),
    "session_expired": ("Phiên làm việc đã hết hạn, vui lòng đăng nhập lại.", "Your session expired; please log in again."),
    "search": ("Tìm kiếm", "Search"), "code": ("Mã hồ sơ", "Dossier code"), "procedure": ("Mã thủ tục", "Procedure code"),
    "site": ("Điểm tiếp nhận", "Site"), "any": ("Tất cả", "Any"), "date_from": ("Từ ngày", "From"),
    "date_to": ("Đến ngày", "To"), "status": ("Trạng thái", "Status"), "channel": ("Kênh", "Channel"),
    "received_at": ("Thời điểm trung tâm nhận", "Received by the hub"), "hub_sequence": ("Số thứ tự tại trung tâm", "Hub sequence"),
    "no_results": ("Không có hồ sơ phù hợp.", "No matching dossiers."), "more": ("Trang sau", "Next page"),
    "prev": ("Trang trước", "Previous page"), "documents": ("Tài liệu", "Documents"), "view": ("Xem", "View"),
    "size": ("Dung lượng", "Size"), "receipt": ("Biên nhận của trung tâm", "Hub receipt"),
    "receipt_ok": ("Chữ ký biên nhận hợp lệ (khoá trung tâm {key})", "Receipt signature valid (hub key {key})"),
    "receipt_bad": ("Biên nhận KHÔNG hợp lệ", "Receipt NOT valid"), "device": ("Thiết bị", "Device"),
    "manifest_hash": ("Mã băm bản kê khai", "Manifest hash"), "version": ("Phiên bản", "Version"),
    "devices_title": ("Thiết bị đã đăng ký", "Enrolled devices"), "name": ("Tên", "Name"),
    "agency": ("Mã cơ quan", "Agency code"), "last_contact": ("Liên lạc gần nhất", "Last contact"),
    "agent_version": ("Phiên bản phần mềm", "Software version"), "queue_age": ("Tuổi hàng đợi", "Queue age"),
    "not_reported": ("chưa báo cáo", "not reported"), "never": ("chưa bao giờ", "never"),
    "chain": ("Chuỗi băm", "Hash chain"), "chain_ok": ("liền mạch", "intact"), "active": ("Đang hoạt động", "Active"),
    "revoked": ("Đã thu hồi", "Revoked"), "revoke": ("Thu hồi", "Revoke"), "reason": ("Lý do", "Reason"),
    "revoke_done": ("Đã thu hồi thiết bị.", "Device revoked."),
    "lagging_title": ("Điểm tiếp nhận chậm đồng bộ (quá {days} ngày)", "Sites behind (silent over {days} days)"),
    "no_lagging": ("Mọi điểm đều đã đồng bộ.", "Every site has synced."), "silent": ("Im lặng", "Silent"),
    "days": ("ngày", "days"), "last_commit": ("Hồ sơ cuối", "Last commit"),
    "rejected_title": ("Bản kê khai bị trung tâm từ chối", "Commits the hub refused"),
    "no_rejected": ("Không có bản kê khai bị từ chối.", "Nothing refused."), "when": ("Thời điểm", "When"),
    "what": ("Sự việc", "What"), "detail": ("Chi tiết", "Detail"),
    "unacked_title": ("Hồ sơ hệ thống một cửa tỉnh chưa xác nhận", "Dossiers the case system has not acknowledged"),
    "ack": ("Xác nhận", "Ack"), "ack_unknown": ("API lấy hồ sơ chưa cài đặt: danh sách là mọi hồ sơ đã nhận",
                                                 "pull API not installed: every committed dossier is listed"),
    "no_unacked": ("Hệ thống đã xác nhận mọi hồ sơ.", "Every dossier is acknowledged."),
    "webhooks_title": ("Webhook gửi không thành công", "Webhook dead letters"),
    "not_configured": ("chưa cấu hình / not configured", "not configured / chưa cấu hình"),
    "replay": ("Gửi lại", "Replay"), "replay_done": ("Đã xếp lại vào hàng gửi.", "Queued for delivery again."),
    "no_dead": ("Không có webhook lỗi.", "No dead letters."),
    "tokens_title": ("Cấp mã đăng ký cho máy ở điểm tiếp nhận", "Enrolment token for a desk"),
    "ttl_hours": ("Hiệu lực (giờ)", "Valid for (hours)"), "create_token": ("Tạo mã", "Create token"),
    "token_made": ("Mã dùng một lần — quét bằng máy ở quầy; sẽ không hiển thị lại.",
                   "One-time token — scan it at the desk; it will not be shown again."),
    "token_value": ("Mã", "Token"), "expires": ("Hết hạn sau", "Expires in"), "hours": ("giờ", "hours"),
    "recent_tokens": ("Mã đã cấp gần đây", "Recently issued tokens"), "used": ("Đã dùng", "Used"),
    "unused": ("Chưa dùng", "Unused"), "expired": ("Hết hạn", "Expired"), "created": ("Tạo lúc", "Created"),
    "users_title": ("Tài khoản cán bộ trung tâm", "Centre staff accounts"), "role": ("Vai trò", "Role"),
    "display_name": ("Họ tên", "Full name"), "add_user": ("Thêm tài khoản", "Add account"),
    "disable": ("Khoá tài khoản", "Disable"), "disabled": ("Đã khoá", "Disabled"),
    "locked": ("Tạm khoá do nhập sai", "Locked (wrong passwords)"), "saved": ("Đã lưu.", "Saved."),
    "forbidden": ("Vai trò của bạn không được phép làm việc này.", "Your role may not do this."),
    "error": ("Không thực hiện được", "Could not be done"), "back": ("Quay lại", "Back"),
    "signed_in_as": ("Đăng nhập:", "Signed in:"),
}


#: dossier channels as the manifest names them (national channel codes 1 counter, 2 online, 3 postal)
CHANNEL_NAMES = {"counter": ("Trực tiếp", "At the counter"), "online": ("Trực tuyến", "Online"),
                 "postal": ("Qua bưu chính công ích", "By post")}


class Translator(BilingualTranslator):
    STRINGS = STRINGS

    def channel_name(self, name: str) -> str:
        return self.pair(CHANNEL_NAMES.get(name, (name, name)))
