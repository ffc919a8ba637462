"""``sonogen studio``: a local web page over run dirs, to play with the models.

For each run, what its family declares it can do: generate (label, seed, n, temperature, its own
options, length), morph between two seeds or two uploaded sounds, transfer or reconstruct an
uploaded or recorded sound, continue a prompt, compose MIDI bars and hear them rendered; with the
run's numbers (``sonogen info`` and the last evaluation) beside it.

It is a small server on the standard library (``http.server``) and one page of HTML and plain
JavaScript (``page.py``), not Gradio: it adds no dependency to ``pip install sonogen`` (Gradio
brings a web framework, a server and dozens of packages) and every limit (upload size and type,
clip counts, lengths) and every path it touches is in this package's code. It binds to 127.0.0.1
unless told otherwise, names runs to the page by number only (a request never carries a path),
writes only into its own temporary folder, and answers a failed request with a message on the
page and goes on serving.
"""

from sonogen.studio.server import Studio, serve

__all__ = ["Studio", "serve"]
