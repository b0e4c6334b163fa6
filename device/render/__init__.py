"""Frames out: the FrameSink Protocol (frame_sink.py), the StreamRenderer that draws and
JPEG-encodes a frame once for every sink that wants it (renderer.py), the box and metrics
annotators, and the files `pisight run` writes: detections JSONL, metrics CSV, MP4
(sinks.py). May import device.model, device.sources and device.pipeline's status.py and
watchdog.py; never the pipeline's stages or run.
"""
