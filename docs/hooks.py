"""MkDocs hook: the figures that the examples and benchmarks write into the
repository (`examples/figures`, `benchmarks/figures`) join the site under
the same paths, so the guides show them without a second copy in docs/."""

import pathlib

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
