"""Hostile PDFs for capture tests, built with pikepdf: a scanned page plus one kind of active content each.

Every builder adds one feature an attacker (or a careless form tool) puts in a
PDF: scripts, actions, links, forms, XFA, attachments, external references,
and a born-digital text page. Nothing here runs anything; the files are data.
"""
from __future__ import annotations

import io
from pathlib import Path
from typing import Callable

import img2pdf
import pikepdf
from PIL import Image

from scanners import synthetic

JS = "app.alert('pwned'); this.exportDataObject({cName: 'evil.exe', nLaunch: 2});"


def scanned_pdf(image: Image.Image | None = None, dpi: int = 300) -> pikepdf.Pdf:
    """A scanner-made PDF: one JPEG image per page."""
    image = image or synthetic.form_page()
    jpeg = io.BytesIO()
    image.convert("L").save(jpeg, format="JPEG", quality=80, dpi=(dpi, dpi))
    return pikepdf.open(io.BytesIO(img2pdf.convert(jpeg.getvalue())))


def _js(pdf: pikepdf.Pdf) -> pikepdf.Dictionary:
    return pikepdf.Dictionary(Type=pikepdf.Name.Action, S=pikepdf.Name.JavaScript, JS=pikepdf.String(JS))


def _annotation(pdf: pikepdf.Pdf, subtype: str, **entries: object) -> None:
    page = pdf.pages[0]
    annot = pdf.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.Annot, Subtype=pikepdf.Name(subtype),
                                                 Rect=[50, 50, 300, 120], **entries))
    if "/Annots" not in page.obj:
        page.obj.Annots = pikepdf.Array()
    page.obj.Annots.append(annot)


def page_aa_javascript(pdf: pikepdf.Pdf) -> None:
    pdf.pages[0].obj.AA = pikepdf.Dictionary(O=_js(pdf))


def open_action(pdf: pikepdf.Pdf) -> None:
    pdf.Root.OpenAction = _js(pdf)


def document_javascript(pdf: pikepdf.Pdf) -> None:
    pdf.Root.Names = pikepdf.Dictionary(JavaScript=pikepdf.Dictionary(Names=[pikepdf.String("run"), _js(pdf)]))


def launch_link(pdf: pikepdf.Pdf) -> None:
    _annotation(pdf, "/Link", A=pikepdf.Dictionary(S=pikepdf.Name.Launch, F=pikepdf.String("cmd.exe")))


def uri_link(pdf: pikepdf.Pdf) -> None:
    _annotation(pdf, "/Link", A=pikepdf.Dictionary(S=pikepdf.Name.URI, URI=pikepdf.String("http://evil.example/")))


def javascript_link(pdf: pikepdf.Pdf) -> None:
    _annotation(pdf, "/Link", A=_js(pdf))


def form_field(pdf: pikepdf.Pdf) -> None:
    field = pdf.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Widget,
                                                 FT=pikepdf.Name.Tx, T=pikepdf.String("ho_ten"),
                                                 V=pikepdf.String("giá trị"), Rect=[50, 200, 300, 230],
                                                 P=pdf.pages[0].obj, AA=pikepdf.Dictionary(K=_js(pdf))))
    if "/Annots" not in pdf.pages[0].obj:
        pdf.pages[0].obj.Annots = pikepdf.Array()
    pdf.pages[0].obj.Annots.append(field)
    if "/AcroForm" not in pdf.Root:
        pdf.Root.AcroForm = pikepdf.Dictionary(Fields=[])
    pdf.Root.AcroForm.Fields.append(field)


def xfa_form(pdf: pikepdf.Pdf) -> None:
    xfa = pdf.make_stream(b'<xdp:xdp xmlns:xdp="http://ns.adobe.com/xdp/"><script>app.alert(1)</script></xdp:xdp>')
    if "/AcroForm" not in pdf.Root:
        pdf.Root.AcroForm = pikepdf.Dictionary(Fields=[])
    pdf.Root.AcroForm.XFA = xfa


def embedded_exe(pdf: pikepdf.Pdf) -> None:
    pdf.attachments["evil.exe"] = pikepdf.AttachedFileSpec(pdf, b"MZ\x90\x00" + b"\x00" * 60, filename="evil.exe")
    spec = pikepdf.AttachedFileSpec(pdf, b"MZ\x90\x00second", filename="evil2.exe").obj
    _annotation(pdf, "/FileAttachment", FS=spec)


def external_reference(pdf: pikepdf.Pdf) -> None:
    _annotation(pdf, "/Link", A=pikepdf.Dictionary(S=pikepdf.Name.GoToR, F=pikepdf.String("\\\\server\\share\\x.pdf"),
                                                   D=[0, pikepdf.Name.Fit]))


def text_page(pdf: pikepdf.Pdf) -> None:
    """Add a born-digital page (font + text operators) after the scan."""
    font = pdf.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1,
                                                BaseFont=pikepdf.Name.Helvetica))
    content = pdf.make_stream(b"BT /F1 36 Tf 72 700 Td (DON DANG KY KHAI SINH) Tj ET "
                              b"BT /F1 24 Tf 72 640 Td (Ho va ten nguoi yeu cau) Tj ET")
    page = pikepdf.Dictionary(Type=pikepdf.Name.Page, MediaBox=[0, 0, 595, 842], Contents=content,
                              Resources=pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font)),
                              AA=pikepdf.Dictionary(C=_js(pdf)))
    pdf.pages.append(pikepdf.Page(page))


FEATURES: dict[str, tuple[Callable[[pikepdf.Pdf], None], str]] = {
    "page_aa_javascript": (page_aa_javascript, "actions"),
    "open_action": (open_action, "open_action"),
    "document_javascript": (document_javascript, "javascript"),
    "launch_link": (launch_link, "launch"),
    "uri_link": (uri_link, "uri"),
    "javascript_link": (javascript_link, "javascript"),
    "form_field": (form_field, "form_fields"),
    "xfa": (xfa_form, "xfa"),
    "embedded_exe": (embedded_exe, "embedded_files"),
    "external_reference": (external_reference, "external_reference"),
}


def write_hostile(path: Path, builders: list[Callable[[pikepdf.Pdf], None]], image: Image.Image | None = None) -> Path:
    with scanned_pdf(image) as pdf:
        for build in builders:
            build(pdf)
        pdf.save(path)
    return path


ACTIONS = {"/JavaScript", "/Launch", "/URI", "/GoToR", "/GoToE", "/ImportData", "/SubmitForm", "/ResetForm",
           "/Rendition", "/Sound", "/Movie", "/Hide", "/Named", "/SetOCGState", "/Trans", "/GoTo3DView", "/GoTo"}


def output_findings(pdf_bytes: bytes) -> list[str]:
    """Everything in a produced PDF that is not page images, the text layer or our metadata (empty = clean)."""
    bad: list[str] = []
    with pikepdf.open(io.BytesIO(pdf_bytes)) as pdf:
        for key in ("/OpenAction", "/AA", "/Names", "/AcroForm", "/URI", "/Outlines", "/Dests"):
            if key in pdf.Root:
                bad.append(f"catalog {key}")
        for number, page in enumerate(pdf.pages, start=1):
            for key in ("/AA", "/Annots"):
                if key in page.obj:
                    bad.append(f"page {number} {key}")
        for obj in pdf.objects:
            entry = obj.stream_dict if isinstance(obj, pikepdf.Stream) else obj
            if not isinstance(entry, pikepdf.Dictionary):
                continue
            if str(entry.get("/S", "")) in ACTIONS:
                bad.append(f"action {entry.get('/S')}")
            for key in ("/JS", "/AA", "/EF", "/EmbeddedFiles", "/XFA", "/URI", "/F", "/Launch", "/A"):
                if key in entry:
                    bad.append(f"object with {key}")
            if entry.get("/Type") in (pikepdf.Name.Annot, pikepdf.Name.Filespec, pikepdf.Name.Action):
                bad.append(f"object of type {entry.get('/Type')}")
            if entry.get("/Subtype") == pikepdf.Name.Form:
                # the OCR text layer: its resources may hold only the OCR font
                resources = entry.get("/Resources", pikepdf.Dictionary())
                if set(resources.keys()) - {"/Font", "/ProcSet"}:
                    bad.append(f"form XObject with resources {sorted(resources.keys())}")
        for page in pdf.pages:
            for _, xobject in page.obj.get("/Resources", pikepdf.Dictionary()).get("/XObject", {}).items():
                if xobject.get("/Subtype") not in (pikepdf.Name.Image, pikepdf.Name.Form):
                    bad.append(f"xobject {xobject.get('/Subtype')}")
    return bad
