"""MkDocs hooks: the figures that the examples and benchmarks write into the
repository (`examples/figures`, `benchmarks/figures`) join the site under
the same paths, so the guides show them without a second copy in docs/;
links of the pages included from outside docs/ point into the site; and
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


# Includes: a line `--8<-- "PATH"` (PATH from the repository's root) is
# replaced by that file, here and only here (no snippets extension). A file
# from outside docs/ (`benchmarks/README.md` in docs/benchmarks.md, at the
# top of docs/) has its links to `../docs/PAGE`, right on GitHub, turned
# into links to PAGE of the site.
_INCLUDE = re.compile(r'^--8<-- "(?P<path>[^"]+)"$', re.M)
_REPOSITORY_LINK = re.compile(r"\]\(\.\./docs/")


def on_page_markdown(markdown, page, config, files):
    root = pathlib.Path(config.config_file_path).parent

    def include(match):
        text = (root / match.group("path")).read_text()
        return _REPOSITORY_LINK.sub("](", text)

    return _INCLUDE.sub(include, markdown)


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
