"""The off-the-shelf solvers we measure against, each a function PNG bytes -> guess.

- ddddocr (PyPI, model included): the captcha OCR bots aimed at Chinese sites use; its default
  model, its "beta" model, and the default model restricted to upper case and digits.
- tesseract (Debian's tesseract-ocr), run as a captcha-solving script would: on the picture as it
  is, and after the usual clean-up (grey, 3x upscale, Otsu threshold, median filter), single-line
  mode, restricted to the alphabet.
"""
import io, subprocess, tempfile, os

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"

def _ddddocr(beta, ranges=None):
    import ddddocr
    ocr = ddddocr.DdddOcr(show_ad=False, beta=beta)
    if ranges is not None:
        ocr.set_ranges(ranges)  # 6: ddddocr's own "upper case letters and digits" range
    def solve(png):
        return "".join(ch for ch in ocr.classification(png) if ch.isalnum())
    return solve

def _tesseract(clean):
    from PIL import Image, ImageFilter
    def solve(png):
        im = Image.open(io.BytesIO(png)).convert("L")
        if clean:
            im = im.resize((im.width * 3, im.height * 3), Image.BICUBIC)
            hist = im.histogram()
            t = _otsu(hist)
            im = im.point(lambda p: 255 if p > t else 0).filter(ImageFilter.MedianFilter(5))
        with tempfile.NamedTemporaryFile(suffix=".png", delete=False) as f:
            im.save(f.name)
        try:
            out = subprocess.run(
                ["tesseract", f.name, "stdout", "--psm", "7", "-c",
                 f"tessedit_char_whitelist={ALPHABET}"],
                capture_output=True, text=True, timeout=30).stdout
        finally:
            os.unlink(f.name)
        return "".join(ch for ch in out if ch.isalnum())
    return solve

def _otsu(hist):
    total = sum(hist)
    sum_all = sum(i * h for i, h in enumerate(hist))
    best, best_t, w_b, sum_b = 0, 128, 0, 0
    for t, h in enumerate(hist):
        w_b += h
        if w_b == 0 or w_b == total:
            continue
        sum_b += t * h
        m_b, m_f = sum_b / w_b, (sum_all - sum_b) / (total - w_b)
        between = w_b * (total - w_b) * (m_b - m_f) ** 2
        if between > best:
            best, best_t = between, t
    return best_t

SOLVERS = {
    "ddddocr": lambda: _ddddocr(False),
    "ddddocr-beta": lambda: _ddddocr(True),
    "ddddocr-ranged": lambda: _ddddocr(False, ranges=6),
    "tesseract": lambda: _tesseract(False),
    "tesseract-cleaned": lambda: _tesseract(True),
}

def load_solvers(names=None):
    return [(n, SOLVERS[n]()) for n in (names or SOLVERS)]
