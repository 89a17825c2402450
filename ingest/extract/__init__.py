"""Extract: HTML bytes to one article's fields, in layers with their provenance (decode,
metadata, page type, body, dates, bylines, authors, site profiles; `page.extract_page`).
Works offline: imports nothing from fetch/, discover/ or run/."""
