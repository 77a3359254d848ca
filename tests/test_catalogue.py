"""The procedure catalogue: the shipped sample, CSV/JSON import with bad rows reported by line."""
from __future__ import annotations

import json

import pytest

from agent.desk.catalogue import SAMPLE, Catalogue, CatalogueInvalid, import_catalogue

from .conftest import run_motcua


def test_sample_catalogue_has_verified_core_procedures():
    catalogue = Catalogue.load(SAMPLE)
    assert 18 <= len(catalogue) <= 25
    birth = catalogue.get("1.001193")
    assert birth.name_vi == "Đăng ký khai sinh" and birth.code_verified and birth.processing_days == 0
    assert catalogue.get("1.004222").processing_days == 7 and catalogue.get("1.004222").code_verified
    assert catalogue.get("2.000815").field_vi == "Chứng thực"
    verified = {p.code for p in catalogue if p.code_verified}
    # the codes DESIGN.md lists as confirmed; every other code is marked "cần đối chiếu"
    assert verified == {"1.001193", "1.004222", "2.000815", "1.000894", "1.000656", "1.004873", "1.004884",
                        "1.001022", "1.004194", "2.000884", "1.001612", "2.000635", "1.004837"}
    assert all(p.documents and p.source for p in catalogue)


def test_sample_catalogue_corrections_from_issue_16():
    catalogue = Catalogue.load(SAMPLE)
    codes = {p.code for p in catalogue}
    # wrong codes are gone: 1.003583 is khai sinh lưu động, 1.000893 a foreign-element birth registration,
    # 1.004197 does not exist, 1.001266 is the *termination* of a household business, 1.012756 / 1.012758
    assert not codes & {"1.003583", "1.000893", "1.004197", "1.001266", "1.012756", "1.012758"}
    assert catalogue.get("2.000635").name_vi == "Cấp bản sao trích lục hộ tịch"
    assert catalogue.get("1.004837").name_vi == "Đăng ký giám hộ"
    assert catalogue.get("2.000720").name_vi.startswith("Đăng ký thay đổi") and not catalogue.get("2.000720").code_verified
    assert catalogue.get("2.001035").name_vi == ("Chứng thực giao dịch liên quan đến tài sản là động sản, "
                                                 "quyền sử dụng đất, nhà ở")
    for code in ("1.010041", "1.013978", "1.012783"):
        assert not catalogue.get(code).code_verified and "cần đối chiếu" in catalogue.get(code).source
    # documents say whether the original or a copy is handed in
    certified = catalogue.get("2.000815")
    assert dict(zip(certified.documents, certified.document_forms)) == {
        "Bản chính giấy tờ, văn bản": "original", "Bản sao cần chứng thực": "copy"}


def test_csv_import_reports_every_bad_row_by_line(tmp_path):
    path = tmp_path / "danh-muc.csv"
    path.write_text(
        "code,name_vi,name_en,field_vi,processing_days,documents,fee,postal_return\n"
        "1.001193,Đăng ký khai sinh,Birth,Hộ tịch,0,Tờ khai | Giấy chứng sinh,Miễn,có\n"
        "1.00119,Sai mã,,Hộ tịch,1,Tờ khai,,không\n"
        "1.004222,Đăng ký thường trú,,Cư trú,bảy,CT01,,có\n"
        "1.001193,Trùng mã,,Hộ tịch,1,Tờ khai,,có\n"
        "2.000815,,,Chứng thực,0,Bản chính,,maybe\n", "utf-8")
    with pytest.raises(CatalogueInvalid) as err:
        Catalogue.load(path)
    lines = sorted({line for line, _, _ in err.value.problems})
    assert lines == [3, 4, 5, 6]
    text = err.value.message_vi
    assert "dòng 3" in text and "1.00119" in text and "dòng 5" in text and "trùng với dòng 2" in text
    assert "line 6" in err.value.message_en and "postal_return" in err.value.message_en


def test_csv_import_good_file_becomes_the_desk_catalogue(tmp_path):
    path = tmp_path / "ok.csv"
    path.write_text("\ufeffcode,name_vi,field_vi,processing_days,documents,postal_return\n"
                    "1.001193,Đăng ký khai sinh,Hộ tịch,0,Tờ khai|Giấy chứng sinh,1\n", "utf-8")
    home = tmp_path / "home"
    imported = import_catalogue(home, path)
    assert len(imported) == 1
    again = Catalogue.for_home(home)
    assert again.get("1.001193").documents == ("Tờ khai", "Giấy chứng sinh") and again.get("1.001193").postal_return


def test_json_import_errors_name_the_entry(tmp_path):
    data = json.loads(SAMPLE.read_text("utf-8"))
    data["procedures"][2]["processing_days"] = -3
    path = tmp_path / "c.json"
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1), "utf-8")
    with pytest.raises(CatalogueInvalid) as err:
        Catalogue.load(path)
    [(line, vi, en)] = err.value.problems
    assert line > 1 and "-3" in en
    (tmp_path / "x.json").write_text("[{", "utf-8")
    with pytest.raises(CatalogueInvalid):
        Catalogue.load(tmp_path / "x.json")


def test_cli_catalogue_import_and_list(tmp_path):
    home = tmp_path / "home"
    bad = tmp_path / "bad.csv"
    bad.write_text("code,name_vi,processing_days\nx,Thủ tục,1\n", "utf-8")
    result = run_motcua("catalogue", "import", str(bad), home=home)
    assert result.returncode == 1 and "dòng 2" in result.stderr and "line 2" in result.stderr
    assert "Traceback" not in result.stderr
    listed = run_motcua("catalogue", "list", "--json", home=home)
    assert listed.returncode == 0, listed.stderr
    assert any(p["code"] == "1.001193" for p in json.loads(listed.stdout)["procedures"])
