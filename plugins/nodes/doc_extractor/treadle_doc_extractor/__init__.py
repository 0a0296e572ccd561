"""The document extractor node: text out of txt, md, html, csv, json, pdf and docx files."""
