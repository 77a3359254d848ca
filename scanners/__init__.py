"""Page sources and page processing: file import, validation, PDF assembly.

Modules:
  errors          CaptureError hierarchy (every error names the file and what to do)
  file_import     open and validate JPEG/PNG/TIFF/PDF inputs without trusting them
  pdf_assembly    build one PDF from validated inputs, losslessly (img2pdf + pikepdf)
"""
