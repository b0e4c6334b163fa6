"""pisight.convert: the workstation half, what `pip install 'pisight[convert]'` adds. Datasets
and synthetic data (data/), the SSD-MobileNetV2 detector and its training (ssd/), pruning,
clustering, QAT and selective quantization (optimize/), the conversion pipeline and its
checks (conversion/), evaluation, reports and the bundle writer (report/), and the
workstation subcommands (cli/). Imports TensorFlow through convert/tf.py and may import
pisight.device, so training, calibration and evaluation use the device's own code.
See docs/ARCHITECTURE.md, "The house".
"""
