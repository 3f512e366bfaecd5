"""HTML rendering of an executed report notebook.

The page is self-contained: styles are inlined, figures are embedded as data
URIs, and the ``clv_report`` template (``templates/clv_report``, the lab
template without its script blocks) loads no require.js, MathJax, Mermaid or
widget script, so a report opens offline and fetches nothing from the network.

Markdown is rendered as plain Markdown: ``$...$`` is text, not math; raw HTML
in Markdown is shown as text and links to ``javascript:`` and other harmful
protocols are dropped. This guards the page when a string from a user's file
reaches the Markdown unescaped; :func:`clv.narrative.escape_markdown` is what
keeps such strings plain text in the first place.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nbformat import NotebookNode

__all__ = ["DEFAULT_TITLE", "TEMPLATES", "html_page", "markdown_to_html", "render_html"]

#: Folder of the package's nbconvert templates.
TEMPLATES: Path = Path(__file__).resolve().parent / "templates"
#: Title of a report page unless one is given.
DEFAULT_TITLE = "Customer grading report"
_TEMPLATE = "clv_report"


def markdown_to_html(source: str) -> str:
    """Markdown to HTML as the report pages render it: CommonMark with tables,
    strikethrough and task lists, no math, raw HTML escaped, links to harmful
    protocols (``javascript:``, ``vbscript:``, ``file:``, non-image ``data:``)
    replaced."""
    from mistune import BlockParser, InlineParser
    from mistune.util import safe_entity
    from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath

    class Renderer(IPythonRenderer):
        def text(self, text: str) -> str:
            # character references stay references (&lt; shows as <), as
            # with raw HTML allowed; escape=True alone would show "&lt;"
            return safe_entity(text)

    renderer = Renderer(escape=True, allow_harmful_protocols=False)
    # the plain parsers leave out nbconvert's math rules, keeping its plugins
    markdown = MarkdownWithMath(
        renderer=renderer, block=BlockParser(), inline=InlineParser(hard_wrap=False)
    )
    return markdown.render(source)


def _exporter(lang: str):
    from nbconvert import HTMLExporter

    return HTMLExporter(
        template_name=_TEMPLATE,
        extra_template_basedirs=[str(TEMPLATES)],
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        embed_images=True,
        language_code=lang,
        require_js_url="",
        mathjax_url="",
        filters={"markdown2html": markdown_to_html},
    )


def _notebook_lang(notebook: NotebookNode) -> str:
    """The ``lang`` parameter papermill recorded in the notebook, else ``en``."""
    parameters = notebook.metadata.get("papermill", {}).get("parameters", {})
    lang = parameters.get("lang")
    return lang if lang in ("en", "zh") else "en"


def html_page(
    notebook: NotebookNode, *, lang: str | None = None, title: str = DEFAULT_TITLE
) -> str:
    """The HTML page of an executed notebook, without code: ``<html lang>``
    from ``lang`` (default: the notebook's ``lang`` parameter, else ``en``),
    ``<title>`` from ``title``. The notebook is not modified."""
    import copy

    page = copy.deepcopy(notebook)
    page.metadata["title"] = title
    body, _ = _exporter(lang or _notebook_lang(notebook)).from_notebook_node(page)
    return body


def render_html(
    notebook: Path,
    target: Path,
    *,
    lang: str | None = None,
    title: str = DEFAULT_TITLE,
) -> None:
    """Render the executed notebook file ``notebook`` into the self-contained
    page ``target`` (see :func:`html_page`)."""
    import nbformat

    page = html_page(nbformat.read(notebook, as_version=4), lang=lang, title=title)
    Path(target).write_text(page, encoding="utf-8")
