"""UI strings: key -> (Vietnamese, English). Vietnamese is the default language."""
from __future__ import annotations

from sync_protocol.bilingual import Translator as BilingualTranslator

STRINGS: dict[str, tuple[str, str]] = {
    "app": ("Một cửa — bàn tiếp nhận", "One-stop desk"),
    "nav_dashboard": ("Tổng quan", "Dashboard"), "nav_intake": ("Tiếp nhận", "Intake"),
    "nav_courier": ("Giao kết quả", "Courier"), "nav_events": ("Trạng thái & tin nhắn", "Status & messages"),
    "switch_lang": ("English", "Tiếng Việt"),
    "queue": ("Hàng đợi theo trạng thái", "Queue by state"), "link": ("Kết nối trung tâm", "Hub link"),
    "link_ok": ("Đang kết nối", "Connected"), "link_down": ("Mất kết nối — hồ sơ vẫn an toàn trên máy", "No link — dossiers are safe on this PC"),
    "not_enrolled": ("Máy chưa đăng ký với trung tâm", "This desk is not enrolled"),
    "last_sync": ("Lần đồng bộ gần nhất", "Last sync"), "never": ("chưa có", "never"),
    "sync_now": ("Đồng bộ ngay", "Sync now"), "rejected": ("Hồ sơ bị từ chối", "Rejected dossiers"),
    "retry": ("Thử lại", "Retry"), "no_rejected": ("Không có hồ sơ bị từ chối.", "No rejected dossiers."),
    "recent": ("Hồ sơ gần đây", "Recent dossiers"), "code": ("Mã hồ sơ", "Dossier code"),
    "procedure": ("Thủ tục", "Procedure"), "col_state": ("Trạng thái", "State"), "due": ("Hẹn trả", "Due"),
    "reason": ("Lý do", "Reason"), "attention": ("Cần chú ý", "Needs attention"),
    "no_contact": ("tin nhắn không gửi được vì thiếu số điện thoại — báo công dân trực tiếp",
                   "messages without a phone number — tell the citizen directly"),
    "failed_msgs": ("tin nhắn gửi lỗi", "messages failed to send"),
    "open_tasks": ("kết quả chờ giao tận nhà", "results waiting for home delivery"),
    "intake_title": ("Tiếp nhận hồ sơ", "Take in a dossier"),
    "applicant_name": ("Họ và tên người nộp", "Applicant's full name"),
    "citizen_id": ("Số định danh cá nhân (12 số)", "Citizen ID (12 digits)"),
    "birth_year": ("Năm sinh (để đối chiếu)", "Birth year (cross-check)"),
    "phone": ("Số điện thoại (nhận tin nhắn)", "Phone (for messages)"), "address": ("Địa chỉ", "Address"),
    "channel": ("Kênh tiếp nhận", "Channel"), "ch_counter": ("Trực tiếp tại quầy", "At the counter"),
    "ch_postal": ("Qua bưu chính", "By post"), "ch_online": ("Trực tuyến", "Online"),
    "return_method": ("Nơi trả kết quả", "Result returned"), "rm_counter": ("Tại quầy", "At the counter"),
    "rm_post": ("Qua bưu điện đến nhà", "By post to the home"),
    "delivery_address": ("Địa chỉ nhận kết quả (để trống = địa chỉ trên)", "Delivery address (blank = address above)"),
    "documents_received": ("Giấy tờ đã nhận", "Documents received"),
    "scans": ("Trang quét (ảnh hoặc PDF)", "Scanned pages (images or PDF)"), "notes": ("Ghi chú", "Notes"),
    "submit_intake": ("Tiếp nhận và niêm phong", "Take in and seal"),
    "days": ("ngày làm việc", "working days"), "same_day": ("trong ngày", "same day"),
    "to_verify": ("cần đối chiếu", "to be verified"),
    "calendar": ("Lịch ngày nghỉ, danh mục", "Holiday calendar, catalogue"),
    "calendar_ok": ("Lịch đầy đủ và đã xác nhận.", "The calendar is complete and verified."),
    "refdata_version": ("Phiên bản tỉnh công bố", "Version published by the province"),
    "refdata_none": ("chưa có (dùng bảng kèm phần mềm)", "none yet (shipped tables)"),
    "unconfirmed": ("lịch chưa xác nhận", "calendar not confirmed"),
    "due_changes": ("Hạn trả đã tính lại", "Due date recomputed"),
    "fix_errors": ("Vui lòng sửa các ô được đánh dấu.", "Please fix the marked fields."),
    "received": ("Đã tiếp nhận hồ sơ", "Dossier taken in"), "slip_a4": ("In phiếu hẹn (A4)", "Print slip (A4)"),
    "slip_a5": ("In phiếu hẹn (A5)", "Print slip (A5)"), "received_at": ("Thời điểm nhận", "Received at"),
    "pages": ("Số trang", "Pages"), "documents": ("Tệp trong hồ sơ", "Files in the dossier"),
    "status_events": ("Sự kiện trạng thái từ trung tâm", "Status events from the hub"),
    "notifications": ("Tin nhắn cho công dân", "Messages to citizens"), "deliveries": ("Giao nhận kết quả", "Deliveries"),
    "no_events": ("Chưa có sự kiện.", "No events yet."), "send_now": ("Gửi tin nhắn đang chờ", "Send waiting messages"),
    "retry_failed": ("Gửi lại tin lỗi", "Retry failed messages"), "text": ("Nội dung", "Text"),
    "courier_title": ("Kết quả cần giao tận nhà", "Results to deliver to homes"),
    "recipient": ("Người nhận", "Recipient"), "handover": ("Lập biên bản bàn giao", "Make handover record"),
    "courier_name": ("Họ tên nhân viên bưu chính", "Courier's name"), "record": ("Ghi nhận giao", "Record delivery"),
    "no_tasks": ("Không có kết quả chờ giao.", "No results to deliver."), "attempts": ("Lần giao", "Attempts"),
    "deliver_title": ("Ghi nhận giao kết quả", "Record a delivery"), "relation": ("Quan hệ với người nộp", "Relation to the applicant"),
    "id_last": ("4 số cuối giấy tờ tuỳ thân", "Last 4 digits of ID"), "signature": ("Chữ ký người nhận", "Recipient's signature"),
    "clear": ("Xoá chữ ký", "Clear signature"), "photo": ("Ảnh chụp (nếu không ký được)", "Photo (if no signature)"),
    "gps": ("Lấy vị trí GPS", "Get GPS position"), "delivered": ("Đã giao thành công", "Delivered"),
    "failed_attempt": ("Giao không thành công", "Delivery failed"), "next_attempt": ("hẹn giao lại", "next attempt"),
    "from_phone": ("từ điện thoại giao nhận, trung tâm đã xác minh", "from the courier's phone, verified by the hub"), "save_failed": ("Ghi nhận lần giao lỗi", "Record failed attempt"),
    "handover_done": ("Đã lập biên bản bàn giao", "Handover record made"), "download": ("Tải về", "Download"),
    "done": ("Đã lưu.", "Saved."), "back": ("Quay lại", "Back"), "signed_proof": ("Bằng chứng đã ký số", "Signed proof"),
    "synced": ("đã gửi trung tâm", "sent to hub"), "not_synced": ("chờ gửi trung tâm", "waiting to go to the hub"),
    "paused": ("Đang tạm dừng tính thời hạn", "Clock paused"),
    "home_delivery": ("giao tận nhà", "home delivery"),
    "nav_search": ("Tra cứu", "Search"), "nav_due": ("Đến hạn", "Due"), "applicant": ("Người nộp", "Applicant"),
    "read_card": ("Đọc thẻ căn cước (mã QR)", "Read the chip ID card (QR)"),
    "card_image": ("Ảnh/bản quét mặt trước thẻ", "Photo or scan of the card's front"),
    "card_wedge": ("Hoặc máy đọc mã QR (gõ như bàn phím)", "Or a QR reader that types like a keyboard"),
    "scan_card": ("Quét thẻ CCCD", "Scan ID card"), "scanning": ("Đang quét…", "Scanning…"),
    "card_just_scanned": ("Thẻ vừa quét lúc", "Card just scanned at"), "use_card": ("Dùng thẻ này", "Use this card"),
    "card_copy": ("Bản sao thẻ căn cước (thủ tục yêu cầu)", "Copy of the ID card (the procedure requires it)"),
    "birth_date": ("Ngày sinh (dd/mm/yyyy)", "Date of birth (dd/mm/yyyy)"), "sex": ("Giới tính", "Sex"),
    "kept_scans": ("Trang quét đã gửi kèm (giữ lại)", "Scans already attached (kept)"),
    "submitting": ("Đang gửi…", "Submitting…"),
    "card_read": ("✓ Đã đọc thẻ — kiểm tra các ô, rồi nhập số điện thoại.",
                  "✓ Card read — check the fields, then type the phone."),
    "search_title": ("Tra cứu hồ sơ", "Find a dossier"), "email": ("Email (nếu có)", "Email (if any)"),
    "doc_count": ("Số lượng", "Count"), "doc_kind": ("Hình thức", "Form"), "sets": ("Số bộ hồ sơ", "Number of sets"),
    "search_hint": ("Mã hồ sơ, họ tên, số định danh hoặc số điện thoại", "Dossier code, name, ID number or phone"),
    "search_btn": ("Tìm", "Search"), "no_results": ("Không tìm thấy hồ sơ nào.", "No dossier found."),
    "due_title": ("Hồ sơ đến hạn", "Dossiers by due date"), "overdue": ("Quá hạn", "Overdue"),
    "due_today": ("Đến hạn hôm nay", "Due today"), "due_soon": ("Sắp đến hạn (2 ngày tới)", "Due soon (next 2 days)"),
    "paused_list": ("Đang tạm dừng (chờ bổ sung / nghĩa vụ tài chính) — không tính là trễ",
                    "Paused (supplement / fees) — not counted as late"),
    "none": ("Không có.", "None."), "portal_status": ("Trạng thái giải quyết", "Processing status"),
    "handback": ("Trả kết quả tại quầy", "Hand the result back at the counter"),
    "receiver_name": ("Họ tên người nhận kết quả", "Receiver's full name"),
    "receiver_id": ("Số định danh của người nhận (12 số)", "Receiver's ID number (12 digits)"),
    "returned_ok": ("Đã trả kết quả tại quầy; trạng thái 10 sẽ gửi trung tâm khi đồng bộ.",
                    "Result handed back; status 10 goes to the hub at the next sync."),
    "already_taken": ("Phiếu này đã được tiếp nhận trước đó — đây là hồ sơ đã tạo, không tạo thêm hồ sơ mới.",
                      "This form was already submitted — here is the dossier it made; no second dossier was created."),
}

#: citizen message states (agent.desk.notifications): what really happened to each message
MESSAGE_STATE_NAMES = {
    "queued": ("Chờ gửi", "queued"), "handed": ("Đã chuyển cho cổng SMS", "handed to the SMS gateway"),
    "written": ("Mới ghi ra thư mục, chưa gửi", "written to a folder, not sent"),
    "delivered": ("Đã đến máy người nhận", "delivered to the phone"), "failed": ("Gửi lỗi", "failed"),
    "no_contact": ("Thiếu số điện thoại", "no phone"),
    "sent": ("Đã chuyển đi (bản cũ, không rõ cổng)", "passed on (older version, gateway unknown)"),
}

#: the national public-service portal's status wording (codes 1-10)
STATUS_NAMES = {
    1: ("Mới đăng ký", "Newly registered"), 2: ("Được tiếp nhận", "Accepted"), 3: ("Không được tiếp nhận", "Not accepted"),
    4: ("Đang xử lý", "Processing"), 5: ("Yêu cầu bổ sung giấy tờ", "Supplement requested"),
    6: ("Yêu cầu thực hiện nghĩa vụ tài chính", "Fees due"), 7: ("Công dân yêu cầu rút hồ sơ", "Withdrawn by the citizen"),
    8: ("Dừng xử lý", "Stopped"), 9: ("Đã xử lý xong", "Decided"), 10: ("Đã trả kết quả", "Result returned"),
}

STATE_NAMES = {
    "captured": ("Đã nhận", "captured"), "sealed": ("Đã niêm phong", "sealed"), "uploading": ("Đang gửi", "uploading"),
    "committed": ("Trung tâm đã nhận", "committed"), "purged": ("Đã gửi, đã xoá bản trên máy", "delivered, local copy purged"),
    "rejected": ("Bị từ chối", "rejected"), "to_deliver": ("Chờ giao", "to deliver"), "out": ("Đang giao", "out for delivery"),
    "delivered": ("Đã giao", "delivered"), "returned_to_desk": ("Trả về quầy", "back at the desk"),
    "closed": ("Đã trả tại quầy", "returned at the counter"), "cancelled": ("Huỷ", "cancelled"),
    "queued": ("Chờ gửi", "queued"), "failed": ("Gửi lỗi", "failed"),
    "no_contact": ("Thiếu số điện thoại", "no phone"),
    "to_retry": ("Chờ giao lại", "to retry"),
}


class Translator(BilingualTranslator):
    """`t.key` in templates; `t.state(name)` for state names."""

    STRINGS = STRINGS

    def state(self, name: str) -> str:
        return self.pair(STATE_NAMES.get(name, (name, name)))

    def message_state(self, name: str) -> str:
        return MESSAGE_STATE_NAMES.get(name, (name, name))[self._i]

    def status(self, code: int | str | None) -> str:
        """A national-portal status code (1-10) as the portal words it."""
        try:
            return STATUS_NAMES[int(code)][self._i]  # type: ignore[arg-type]
        except (KeyError, TypeError, ValueError):
            return str(code or "")

    def role(self, name: str) -> str:
        from agent.desk.accounts import ROLE_NAMES

        return ROLE_NAMES.get(name, (name, name))[self._i]

    def task_state(self, task: dict) -> str:
        """A courier task's state; one still out after a failed attempt is waiting to be retried."""
        return self.state("to_retry" if task["state"] == "out" and task.get("last_failure") else task["state"])

    def day(self, value: str | None) -> str:
        """YYYY-MM-DD as the desk reads dates (dd/mm/yyyy)."""
        year, month, day = (value or "").split("-") if (value or "").count("-") == 2 else ("", "", "")
        return f"{day}/{month}/{year}" if year else (value or "")

    def failure(self, code: str) -> str:
        """A courier failure reason code in words."""
        from agent.desk.courier import FAILURE_REASONS

        return FAILURE_REASONS.get(code, (code, code))[self._i]
