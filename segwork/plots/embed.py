"""Put an interactive (Plotly) figure on a notebook page with its static image for print.

:func:`figure_bundle` makes one display output that works everywhere a
segwork notebook is read, with no server and nothing from the web:

- JupyterLab renders ``application/vnd.plotly.v1+json`` with the Plotly
  extension that ships with the ``plotly`` package (values on hover);
- the HTML page (nbconvert, which prefers ``text/html``) gets a block with
  the static PNG and the Plotly div. Plotly.js is not in the block: the
  report's renderer loads it once per page from the run folder
  (:func:`segwork.report.render.render_html`). While Plotly.js is there the
  block shows the interactive figure on screen and the static image in
  print (``@media print``); without it (a page converted by hand) the static
  image stays, so a figure never goes blank;
- ``image/png`` is the same static image: :func:`segwork.report.render.extract_figures`
  saves it, and an untrusted notebook shows it.
"""
from __future__ import annotations

import base64
import html
import io
import json
import uuid

import plotly.io as pio

__all__ = ["FIGURE_CSS", "figure_bundle", "show_figure", "png_bytes"]

#: The figure block's CSS (a few lines, in every block so that a block works on its own).
FIGURE_CSS = (".segwork-figure .segwork-interactive{display:none}"
              ".segwork-figure.segwork-live .segwork-interactive{display:block}"
              ".segwork-figure.segwork-live .segwork-static{display:none}"
              ".segwork-figure .segwork-static img{max-width:100%;height:auto}"
              "@media print{.segwork-figure .segwork-static{display:block!important}"
              ".segwork-figure .segwork-interactive{display:none!important}}")


def png_bytes(static, dpi: int = 96) -> bytes:
    """The PNG of a matplotlib Axes or Figure (tight bounding box, ``dpi``); the figure is closed afterwards.

    Closing keeps the inline backend from showing it a second time.
    """
    import matplotlib.pyplot as plt

    figure = getattr(static, "figure", static)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()


def figure_bundle(fig, static=None, *, alt: str | None = None) -> dict:
    """The display bundle of a Plotly figure ``fig`` with its static twin ``static`` (Axes, Figure or PNG bytes).

    Returns a dict of MIME type -> data: ``application/vnd.plotly.v1+json``,
    ``text/html`` (the block described in the module docs), ``image/png``
    (when ``static`` is given) and ``text/plain``. ``alt``: the image's
    alternative text (default: the figure's title).
    """
    title = (fig.layout.title.text or "figure").split("<br>")[0]
    bundle = dict(pio.renderers["plotly_mimetype"].to_mimebundle(fig.to_dict()))
    png = static if isinstance(static, (bytes, bytearray)) else png_bytes(static) if static is not None else None
    key = uuid.uuid4().hex[:12]
    block = f"segwork-fig-{key}"
    plot = pio.to_html(fig, include_plotlyjs=False, full_html=False, div_id=f"{block}-plot",
                       config={"displaylogo": False, "responsive": True})
    parts = [f'<div class="segwork-figure" id="{block}"><style>{FIGURE_CSS}</style>']
    if png is not None:
        data = base64.b64encode(png).decode("ascii")
        parts.append(f'<div class="segwork-static"><img src="data:image/png;base64,{data}" '
                     f'alt="{html.escape(alt or title)}"></div>')
    # mark the block live before Plotly draws, so the plot is laid out in a visible box
    parts.append(f'<script type="text/javascript">if (window.Plotly) {{ document.getElementById({json.dumps(block)})'
                 f'.classList.add("segwork-live"); }}</script>')
    parts.append(f'<div class="segwork-interactive">{plot}</div></div>')
    bundle["text/html"] = "".join(parts)
    if png is not None:
        bundle["image/png"] = base64.b64encode(png).decode("ascii")
    bundle["text/plain"] = f"<interactive figure: {title}>"
    return bundle


def show_figure(fig, static=None, *, alt: str | None = None) -> None:
    """Display :func:`figure_bundle` of ``fig`` and ``static`` in the running notebook (IPython)."""
    from IPython.display import display

    display(figure_bundle(fig, static, alt=alt), raw=True)
