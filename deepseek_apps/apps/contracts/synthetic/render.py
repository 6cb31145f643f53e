"""Render synthetic contracts to PDF (fpdf2), DOCX (python-docx) and scanned image-only PDFs.

The PDF carries a running header (the title) and a "Page N of M" footer on every page so that
header/footer removal is exercised; the scan rasterises that PDF, adds noise and a slight
skew, and saves the pixels as an image-only PDF (no text layer: only OCR can read it).

Example:
    >>> from deepseek_apps.apps.contracts.synthetic import generate_contract
    >>> from deepseek_apps.apps.contracts.synthetic.render import render_pdf
    >>> render_pdf(generate_contract(seed=1))[:5]
    b'%PDF-'
"""

from __future__ import annotations

import io

from deepseek_apps.errors import require

from .generate import SyntheticContract


def render_pdf(contract: SyntheticContract, *, font_size: int = 11, table: bool = False) -> bytes:
    """The contract as a text PDF with a running header and page-number footer."""
    fpdf = require("fpdf", "contracts")
    title = contract.title

    class _PDF(fpdf.FPDF):
        def header(self):
            self.set_font("Helvetica", "I", 8)
            self.cell(0, 8, f"CONFIDENTIAL - {title}", align="C")
            self.ln(12)

        def footer(self):
            self.set_y(-15)
            self.set_font("Helvetica", "I", 8)
            self.cell(0, 10, f"Page {self.page_no()} of {{nb}}", align="C")

    pdf = _PDF(format="Letter")
    pdf.set_auto_page_break(auto=True, margin=20)
    pdf.add_page()
    pdf.set_font("Helvetica", size=font_size)
    for paragraph in contract.text.split("\n\n"):
        pdf.multi_cell(0, font_size * 0.5, paragraph.strip("\n"))
        pdf.ln(font_size * 0.4)
    if table:
        _fee_table(pdf)
    return bytes(pdf.output())


def _fee_table(pdf) -> None:
    pdf.set_font("Helvetica", size=10)
    with pdf.table(col_widths=(60, 40, 40)) as table:
        for row in (("Milestone", "Due", "Amount"), ("Signature", "Day 1", "10,000"), ("Delivery", "Day 90", "25,000")):
            cells = table.row()
            for value in row:
                cells.cell(value)


def render_docx(contract: SyntheticContract, *, page_break_every: int = 0) -> bytes:
    """The contract as a .docx: one paragraph per block, the title in the section header."""
    docx = require("docx", "contracts")
    word = docx.Document()
    word.sections[0].header.paragraphs[0].text = f"CONFIDENTIAL - {contract.title}"
    for index, paragraph in enumerate(contract.text.split("\n\n")):
        if page_break_every and index and index % page_break_every == 0:
            word.add_page_break()
        word.add_paragraph(paragraph.strip("\n"))
    buffer = io.BytesIO()
    word.save(buffer)
    return buffer.getvalue()


def render_scan(
    contract: SyntheticContract, *, dpi: int = 150, noise: float = 12.0, seed: int = 0, pages=None
) -> bytes:
    """An image-only PDF: the text PDF rasterised, skewed slightly, with sensor noise."""
    import numpy as np
    import pypdfium2 as pdfium
    from PIL import Image

    rng = np.random.default_rng(seed)
    pdf = pdfium.PdfDocument(render_pdf(contract))
    images = []
    try:
        for index in range(len(pdf)) if pages is None else pages:
            gray = pdf[index].render(scale=dpi / 72, grayscale=True).to_pil().convert("L")
            gray = gray.rotate(float(rng.uniform(-0.6, 0.6)), fillcolor=255, resample=Image.BILINEAR)
            pixels = np.asarray(gray, dtype=np.float32) + rng.normal(0.0, noise, size=gray.size[::-1])
            images.append(Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)))
    finally:
        pdf.close()
    buffer = io.BytesIO()
    images[0].save(buffer, format="PDF", resolution=dpi, save_all=True, append_images=images[1:])
    return buffer.getvalue()


def render_image(contract: SyntheticContract, *, fmt: str = "PNG", dpi: int = 150, page: int = 0) -> bytes:
    """One page of the contract as an image file (PNG / JPEG / TIFF)."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(render_pdf(contract))
    try:
        image = pdf[page].render(scale=dpi / 72, grayscale=True).to_pil().convert("L")
    finally:
        pdf.close()
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()
