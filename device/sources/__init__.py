"""Frames in: the FrameSource Protocol and BaseSource (base.py), video files, images and
directories and `open_source` (files.py), the Pi camera, webcams and network streams
(cameras.py), a synthetic test pattern (testpattern.py) and the Frame value (frames.py).
A leaf: imports numpy and OpenCV (picamera2 when present), nothing else of pisight.
"""
