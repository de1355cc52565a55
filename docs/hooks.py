"""MkDocs hooks: the figures that the examples and benchmarks write into the
repository (`examples/figures`, `benchmarks/figures`) join the site under
the same paths, so the guides show them without a second copy in docs/; and
the pages' math becomes MathML."""

import html
import pathlib
import re

from mkdocs.structure.files import File

FIGURE_FOLDERS = ("examples/figures", "benchmarks/figures")


def on_files(files, config):
    root = pathlib.Path(config.config_file_path).parent
    for folder in FIGURE_FOLDERS:
        for figure in sorted((root / folder).glob("*.png")):
            files.append(
                File(
                    f"{folder}/{figure.name}",
                    src_dir=str(root),
                    dest_dir=config.site_dir,
                    use_directory_urls=config.use_directory_urls,
                )
            )
    return files


# Math: `$...$` and `$$...$$` in the pages (pymdownx.arithmatex, generic
# mode) become MathML when the site is built, which browsers typeset
# without a script or a font download.
_MATH = re.compile(
    r'<(?P<tag>span|div) class="arithmatex">\s*\\(?P<open>[(\[])(?P<tex>.*?)'
    r"\\[)\]]\s*</(?P=tag)>",
    re.S,
)


def _mathml(match):
    from latex2mathml.converter import convert

    display = "block" if match.group("open") == "[" else "inline"
    return convert(html.unescape(match.group("tex")), display=display)


def on_page_content(content, page, config, files):
    return _MATH.sub(_mathml, content)
