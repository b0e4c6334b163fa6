"""The model on the device: finding and checksumming bundles (bundle.py), reading a .tflite
without an interpreter (tflite_file.py, flatbuffer.py, tflite_schema.py), the LiteRT /
tflite-runtime / tf.lite shim (runtime.py), the sandboxed first load (probe.py), input and
output spec (spec.py), preprocessing, decoding, labels, the Detector and its Detections, and
`pisight bench` (bench.py). A leaf: imports numpy, OpenCV, flatbuffers and an interpreter
runtime, nothing else of pisight, and TensorFlow only by name for `--runtime tensorflow`.
"""
