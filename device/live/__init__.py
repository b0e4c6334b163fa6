"""The HTTP live view: LiveServer with /, /stream.mjpg, /snapshot.jpg, /metrics and /healthz
(server.py), the shared latest JPEG and the renderer sink that feeds it (broadcast.py),
--listen/--auth parsing (options.py), Prometheus text and the health document
(prometheus.py), and the page (static/index.html). Standard library HTTP only; may import
device.pipeline.status and device.render.frame_sink, nothing that starts the pipeline.
"""
